"""The clinic adherence report: a clinic's (or one physiotherapist's) patients over their last N whole days.

Every figure is metrics.py's (the README's "Adherence: definitions"): each patient is tallied as
`metrics.tally` does over their own last `days` whole days (yesterday back, in their time zone: today is still
under way, as on the risk list) and per Monday-to-Sunday week within those days (`metrics.tally_parts`, one pass
for both), and the tallies are summed. Patients are streamed in batches by id; each batch's logs are summed in the
database (the GROUP BY of `metrics.day_logs`, tested to give the same DayLogs) and its prescriptions come from the
routine versions compiled for bulk readers (`compiled.live_schedules`, outside the patient app's cache), only for
the patients with a routine running in the window.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, bindparam, or_, select

from hep.accounts.models import PHYSIOTHERAPIST, Clinic, Patient, User
from hep.adherence.metrics import (
    DayLogs,
    DayPlan,
    Expected,
    Tally,
    day_logs_statement,
    days_between,
    tally_parts,
)
from hep.dbtypes import among, driver_sql, plain_rows
from hep.errors import Forbidden, Invalid
from hep.extensions import db
from hep.programs.compiled import LiveRoutine, live_schedules
from hep.programs.models import Routine, RoutineVersion
from hep.programs.schedule import expected_of, items_on, week_start
from hep.programs.service import local_today

T = TypeVar("T")

BATCH = 1000  # patients per round trip: bounds memory whatever the clinic's size
HIGH, LOW = 0.8, 0.5  # the distribution's bands: >= 80 %, 50-80 %, < 50 %
BANDS = ("at_least_80", "from_50_to_80", "below_50", "nothing_due")


@dataclass
class Group:
    """Sums over some patients: their tallies added up, and how many there were of each kind."""

    tally: Tally = field(default_factory=Tally)
    patients: int = 0
    active: int = 0  # something was due in the window
    logging: int = 0  # at least one entry in the window
    adherence_sum: float = 0.0  # of each active patient's own adherence, for the mean
    bands: Counter = field(default_factory=Counter)

    def add_idle(self, count: int = 1) -> None:
        """Count patients with nothing due and nothing logged (the same as adding empty Tallies, but cheaper)."""
        self.patients += count
        self.bands[BANDS[3]] += count

    def add(self, result: Tally) -> None:
        """Count one patient's tally into the group."""
        self.patients += 1
        total = self.tally
        total.due += result.due
        total.done += result.done
        total.entries += result.entries
        total.pain_before = (total.pain_before[0] + result.pain_before[0], total.pain_before[1] + result.pain_before[1])
        total.pain_after = (total.pain_after[0] + result.pain_after[0], total.pain_after[1] + result.pain_after[1])
        if result.entries:
            self.logging += 1
        own = result.adherence
        if own is None:
            self.bands[BANDS[3]] += 1
            return
        self.active += 1
        self.adherence_sum += own
        self.bands[BANDS[0] if own >= HIGH else BANDS[1] if own >= LOW else BANDS[2]] += 1

    def figures(self) -> dict:
        """The group's figures as the report shows them."""
        t = self.tally
        return {
            "patients": self.patients,
            "active_patients": self.active,
            "logging_patients": self.logging,
            "due": round(t.due, 3),
            "done": round(t.done, 3),
            "adherence": t.adherence,
            "mean_patient_adherence": round(self.adherence_sum / self.active, 3) if self.active else None,
            "entries": t.entries,
            "pain_before": t.mean_pain_before,
            "pain_after": t.mean_pain_after,
            "distribution": {band: self.bands[band] for band in BANDS},
        }


def _scope(actor: User, physiotherapist_id: int | None) -> int | None:
    """The physiotherapist whose patients to report on, or None for the whole clinic."""
    if not actor.is_staff:
        raise Forbidden("Only staff see the clinic report.")
    if physiotherapist_id is None:
        return None
    physio = db.session.get(User, physiotherapist_id)
    if physio is None or physio.clinic_id != actor.clinic_id or physio.role != PHYSIOTHERAPIST:
        raise Invalid("physiotherapist_id", "is not a physiotherapist of your clinic", location="query")
    return physio.id


def _patient_batches(clinic_id: int, physio_id: int | None) -> Iterator[list]:
    """The clinic's active patients as (user_id, physiotherapist_id, timezone) rows, BATCH at a time, by id."""
    query = (
        select(Patient.user_id, Patient.physiotherapist_id, Patient.timezone)
        .join(User, User.id == Patient.user_id)
        .where(User.clinic_id == clinic_id, User.is_active.is_(True))
        .order_by(Patient.user_id)
        .limit(BATCH)
    )
    if physio_id is not None:
        query = query.where(Patient.physiotherapist_id == physio_id)
    last = 0
    while True:
        rows = db.session.execute(query.where(Patient.user_id > last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].user_id


def _boundaries(routines: list[LiveRoutine]) -> set[date]:
    """Days on which what is in effect may change: a version takes over, a routine starts or ends, a phase starts."""
    days = set()
    for routine in routines:
        for version in routine.versions:
            days.add(version.effective_from)
            days.add(version.start_date)
            if version.end_date is not None:
                days.add(version.end_date + timedelta(days=1))
            days.update(phase.start_date for phase in version.phases)
    return days


def _schedule_of(in_effect: tuple) -> tuple:
    """What of a (routine, item) in effect decides what it asks of a day (all that schedule.expected_of reads)."""
    item = in_effect[1]
    return (item.exercise_id, item.side, item.times_per_day, item.days_per_week, item.weekdays)


def _over(
    routines: list[LiveRoutine], span: list[date], make: Callable[[list[Expected]], T], shared: dict | None = None
) -> dict[date, T]:
    """make(`schedule.expected_on(routines, day)`) for each day of a span of consecutive days.

    What is in effect only changes on a boundary day and what is due only with the weekday, so each
    (stretch between boundaries, weekday) is worked out once and shared by its days. With `shared` (a dict
    kept across patients, or across the days of one call), stretches whose items
    that ask the same (_schedule_of) share the work too: what is due depends on nothing else.
    """
    boundaries = _boundaries(routines)
    result: dict[date, T] = {}
    in_effect: list = []
    by_weekday: dict[int, T] = {}
    for n, day in enumerate(span):
        if n == 0 or day in boundaries:
            in_effect = items_on(routines, day)
            by_weekday = {} if shared is None else shared.setdefault(tuple(map(_schedule_of, in_effect)), {})
        weekday = day.weekday()
        if weekday not in by_weekday:
            by_weekday[weekday] = make(expected_of(in_effect, day))
        result[day] = by_weekday[weekday]
    return result


def expected_over(routines: list[LiveRoutine], span: list[date]) -> dict[date, list[Expected]]:
    """`schedule.expected_on(routines, day)` for each day of a span of consecutive days."""
    return _over(routines, span, list)


def plans_over(routines: list[LiveRoutine], span: list[date], shared: dict | None = None) -> dict[date, DayPlan]:
    """expected_over's lists as DayPlans, for `metrics.tally_parts` (`shared`: see _over)."""
    return _over(routines, span, DayPlan.of, shared)


@dataclass(frozen=True)
class _Span:
    """A patient's window (their last `days` whole days) and its Monday-to-Sunday weeks."""

    days: list[date]
    weeks: list[tuple[date, list[date]]]

    @property
    def parts(self) -> list[list[date]]:
        """The weeks' days: they make up `days`, in order."""
        return [week for _monday, week in self.weeks]


class _Window:
    """The spans of a report, one per distinct local today, and the first and last day any of them covers."""

    def __init__(self, days: int):
        self.days, self.first, self.last = days, None, None
        self._spans: dict[date, _Span] = {}

    def span(self, today: date) -> _Span:
        """The span ending yesterday for a patient whose local date is `today`."""
        found = self._spans.get(today)
        if found is None:
            days = days_between(today - timedelta(days=self.days), today - timedelta(days=1))
            weeks: dict[date, list[date]] = {}
            for day in days:
                weeks.setdefault(week_start(day), []).append(day)
            found = self._spans[today] = _Span(days, list(weeks.items()))
            self.first = days[0] if self.first is None else min(self.first, days[0])
            self.last = days[-1] if self.last is None else max(self.last, days[-1])
        return found


def _grouped(rows) -> dict[int, dict[date, DayLogs]]:
    """The day-logs rows as metrics.day_logs builds them, grouped by patient: {patient: {day: DayLogs}}."""
    result: dict[int, dict[date, DayLogs]] = defaultdict(dict)
    for pid, day, exercise_id, side, credit, count, pb_sum, pb_n, pa_sum, pa_n in rows:
        days = result[pid]
        logs = days.get(day)
        if logs is None:
            # What DayLogs(credit={}).add(...) makes, without its sums from zero (0.0 + x is x).
            days[day] = DayLogs(
                {(exercise_id, side): float(credit)}, count, (float(pb_sum), pb_n), (float(pa_sum), pa_n)
            )
        else:  # DayLogs.add, inline: this loop runs once per row of a large result
            logs.credit[exercise_id, side] = float(credit)
            logs.entries += count
            logs.pain_before = (logs.pain_before[0] + float(pb_sum), logs.pain_before[1] + pb_n)
            logs.pain_after = (logs.pain_after[0] + float(pa_sum), logs.pain_after[1] + pa_n)
    return result


def day_logs_by_patient(patient_ids: list[int], start: date, end: date) -> dict[int, dict[date, DayLogs]]:
    """`metrics.day_logs` for a batch of patients, grouped by patient: {patient: {day: DayLogs}}."""
    params = {"patient_ids": list(patient_ids), "start": start, "end": end}
    # Tens of thousands of aggregate rows per batch: plain tuples, not SQLAlchemy's Row objects.
    return _grouped(plain_rows(day_logs_statement(db.engine.dialect.name), params))


def _fetch_on_own_connection(engine: Engine, params: dict) -> dict[int, dict[date, DayLogs]]:
    """day_logs_by_patient on a connection of its own (PostgreSQL), for a worker thread."""
    sql, literals = driver_sql(day_logs_statement(engine.dialect.name), engine.dialect)
    with engine.connect() as conn, conn.connection.driver_connection.cursor() as cursor:
        rows = cursor.execute(sql, literals | params).fetchall()
    return _grouped(rows)


@cache
def _running_statement(dialect_name: str) -> Select:
    return (
        select(Routine.patient_id)
        .join(RoutineVersion, RoutineVersion.routine_id == Routine.id)
        .where(
            among(Routine.patient_id, "patient_ids", dialect_name),
            Routine.archived_at.is_(None),
            RoutineVersion.start_date <= bindparam("end"),
            or_(RoutineVersion.end_date.is_(None), RoutineVersion.end_date >= bindparam("start")),
        )
        .distinct()
    )


def _running(patient_ids: list[int], start: date, end: date) -> list[int]:
    """The patients with a live routine some version of which runs on some day from start to end.

    Nothing is in effect for anyone else on those days (a version's phases apply only between its start and
    end dates), so only these patients' routines need compiling.
    """
    params = {"patient_ids": list(patient_ids), "start": start, "end": end}
    return list(db.session.scalars(_running_statement(db.engine.dialect.name), params))


@dataclass(frozen=True)
class _Batch:
    rows: list  # (user_id, physiotherapist_id, timezone)
    todays: dict[int, date]  # each patient's local date now
    start: date  # the earliest day any of them counts
    end: date  # and the latest


def _batches(clinic_id: int, physio_id: int | None, days: int, now: datetime) -> Iterator[_Batch]:
    zones: dict[str, date] = {}  # time zone: its local date now
    for rows in _patient_batches(clinic_id, physio_id):
        todays = {}
        for row in rows:
            if row.timezone not in zones:
                zones[row.timezone] = local_today(row, now)
            todays[row.user_id] = zones[row.timezone]
        yield _Batch(
            rows, todays, min(todays.values()) - timedelta(days=days), max(todays.values()) - timedelta(days=1)
        )


def _with_logs(batches: Iterator[_Batch]) -> Iterator[tuple[_Batch, dict[int, dict[date, DayLogs]]]]:
    """Each batch with its patients' day logs. On PostgreSQL the next batch's logs are read on a second
    connection, in a worker thread, while the caller works this batch out: the database and Python then
    use a core each instead of taking turns."""
    if db.engine.dialect.name != "postgresql":
        for batch in batches:
            yield batch, day_logs_by_patient(list(batch.todays), batch.start, batch.end)
        return
    engine = db.engine
    with ThreadPoolExecutor(max_workers=1) as worker:
        ahead = None
        for batch in batches:
            params = {"patient_ids": list(batch.todays), "start": batch.start, "end": batch.end}
            future = worker.submit(_fetch_on_own_connection, engine, params)
            if ahead is not None:
                yield ahead[0], ahead[1].result()
            ahead = (batch, future)
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def clinic_report(actor: User, *, days: int, physiotherapist_id: int | None, now: datetime) -> dict:
    """Adherence and pain of the clinic's patients (or one physiotherapist's) over their last `days` whole days."""
    physio_id = _scope(actor, physiotherapist_id)
    clinic = db.session.get(Clinic, actor.clinic_id)
    window = _Window(days)
    total, weeks, physios = Group(), defaultdict(Group), defaultdict(Group)
    nothing: dict[date, DayPlan] = {}
    shared: dict = {}  # what the items in effect ask: its plan per weekday, for every patient
    idle: Counter = Counter()  # (physiotherapist, local today): patients with nothing due and nothing logged
    for batch, logs in _with_logs(_batches(clinic.id, physio_id, days, now)):
        todays = batch.todays
        routines = live_schedules(_running(list(todays), batch.start, batch.end), batch.start)
        for row in batch.rows:
            mine, own = routines.get(row.user_id), logs.get(row.user_id)
            if not mine and not own:
                idle[row.physiotherapist_id, todays[row.user_id]] += 1
                continue
            span = window.span(todays[row.user_id])
            plans = plans_over(mine, span.days, shared) if mine else nothing
            result, by_week = tally_parts(span.parts, plans, own or {})
            total.add(result)
            physios[row.physiotherapist_id].add(result)
            for (monday, _week), week_tally in zip(span.weeks, by_week, strict=True):
                weeks[monday].add(week_tally)
    for (physio, today), count in idle.items():
        total.add_idle(count)
        physios[physio].add_idle(count)
        for monday, _week in window.span(today).weeks:
            weeks[monday].add_idle(count)
    if window.first is None:
        today = now.astimezone(ZoneInfo(clinic.timezone)).date()
        window.first, window.last = today - timedelta(days=days), today - timedelta(days=1)
    names = (
        dict(db.session.execute(select(User.id, User.name).where(User.id.in_(list(physios)))).all()) if physios else {}
    )
    return {
        "generated_at": now,
        "days": days,
        "first_day": window.first,
        "last_day": window.last,
        "physiotherapist_id": physio_id,
        **total.figures(),
        "weeks": [{"week_start": monday, **weeks[monday].figures()} for monday in sorted(weeks)],
        "physiotherapists": sorted(
            (
                {"physiotherapist_id": pid, "name": names.get(pid, ""), **group.figures()}
                for pid, group in physios.items()
            ),
            key=lambda row: (row["name"], row["physiotherapist_id"]),
        ),
    }
