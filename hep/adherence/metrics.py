"""Adherence and pain metrics, with the definitions in the README ("Adherence: definitions").

Logs are aggregated in the database (one GROUP BY per question); what was due comes from the
prescriptions, which are small. Nothing here loads individual log rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, func, select

from hep.accounts.models import Patient
from hep.adherence.models import AdherenceLog, PainReport
from hep.dbtypes import among, plain_rows
from hep.extensions import db
from hep.programs.models import Routine
from hep.programs.schedule import Expected, Key, expected_on, missed_on, required_on, week_start


@dataclass
class DayLogs:
    credit: dict[Key, float]
    entries: int = 0
    pain_before: tuple[float, int] = (0.0, 0)
    pain_after: tuple[float, int] = (0.0, 0)
    pain_texted: tuple[float, int] = (0.0, 0)  # scores the patient texted in that day (sum, count)

    def add(self, exercise_id: int, side: str, credit, count: int, pb_sum, pb_n: int, pa_sum, pa_n: int) -> None:
        """Fold in one row of day_logs_statement (one exercise and side of the day)."""
        self.credit[(exercise_id, side)] = float(credit)
        self.entries += count
        self.pain_before = (self.pain_before[0] + float(pb_sum), self.pain_before[1] + pb_n)
        self.pain_after = (self.pain_after[0] + float(pa_sum), self.pain_after[1] + pa_n)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@cache
def day_logs_statement(dialect_name: str) -> Select:
    """Per patient, local day, exercise and side: credit, entries and pain sums (patient_ids, start, end)."""
    # Built once per dialect: today's plan runs it on every request, the clinic report per batch.
    return (
        select(
            AdherenceLog.patient_id,
            AdherenceLog.local_date,
            AdherenceLog.exercise_id,
            AdherenceLog.side,
            func.sum(AdherenceLog.credit),
            func.count(),
            func.coalesce(func.sum(AdherenceLog.pain_before), 0),
            func.count(AdherenceLog.pain_before),
            func.coalesce(func.sum(AdherenceLog.pain_after), 0),
            func.count(AdherenceLog.pain_after),
        )
        .where(
            among(AdherenceLog.patient_id, "patient_ids", dialect_name),
            AdherenceLog.deleted_at.is_(None),
            AdherenceLog.local_date.between(bindparam("start"), bindparam("end")),
        )
        .group_by(AdherenceLog.patient_id, AdherenceLog.local_date, AdherenceLog.exercise_id, AdherenceLog.side)
    )


def day_logs(patient_ids: list[int], start: date, end: date) -> dict[tuple[int, date], DayLogs]:
    """Per patient and local day: credit per (exercise, side), entry count and pain sums, in one query."""
    rows = db.session.execute(
        day_logs_statement(db.engine.dialect.name), {"patient_ids": list(patient_ids), "start": start, "end": end}
    )
    result: dict[tuple[int, date], DayLogs] = {}
    for pid, day, *sums in rows:
        result.setdefault((pid, day), DayLogs(credit={})).add(*sums)
    return result


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


def _texted_pain(patient_ids: list[int], start: date, end: date):
    return db.session.execute(
        select(PainReport.patient_id, PainReport.local_date, func.sum(PainReport.score), func.count())
        .where(PainReport.patient_id.in_(patient_ids), PainReport.local_date.between(start, end))
        .group_by(PainReport.patient_id, PainReport.local_date)
    )


def add_texted_pain(logs: dict[tuple[int, date], DayLogs], patient_ids: list[int], start: date, end: date) -> None:
    """Fold the pain scores patients texted in (SMS replies 0-10) into their days' logs, in one query."""
    for pid, day, total, count in _texted_pain(patient_ids, start, end):
        logs.setdefault((pid, day), DayLogs(credit={})).pain_texted = (float(total), count)


def add_texted_pain_by_patient(
    logs: dict[int, dict[date, DayLogs]], patient_ids: list[int], start: date, end: date
) -> None:
    """add_texted_pain for day logs grouped by patient ({patient: {day: DayLogs}})."""
    for pid, day, total, count in _texted_pain(patient_ids, start, end):
        logs.setdefault(pid, {}).setdefault(day, DayLogs(credit={})).pain_texted = (float(total), count)


def last_activity(patient_ids: list[int]) -> dict[int, date]:
    """The latest local day each patient logged anything."""
    # One probe per patient, read backwards off the (patient, day) index and stopping at the first live
    # entry, rather than a GROUP BY (or a max() the planner may not turn into that) over every log the
    # patients ever wrote: this stays flat as history grows.
    latest = (
        select(AdherenceLog.local_date)
        .where(AdherenceLog.patient_id == Patient.user_id, AdherenceLog.deleted_at.is_(None))
        .order_by(AdherenceLog.local_date.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = db.session.execute(select(Patient.user_id, latest).where(Patient.user_id.in_(patient_ids))).all()
    return {pid: day for pid, day in rows if day is not None}


@dataclass
class Tally:
    due: float = 0.0
    done: float = 0.0
    pain_before: tuple[float, int] = (0.0, 0)
    pain_after: tuple[float, int] = (0.0, 0)
    pain_texted: tuple[float, int] = (0.0, 0)
    entries: int = 0

    @property
    def adherence(self) -> float | None:
        return round(self.done / self.due, 3) if self.due > 0 else None

    @staticmethod
    def _mean(pair: tuple[float, int]) -> float | None:
        return round(pair[0] / pair[1], 2) if pair[1] else None

    @property
    def mean_pain_before(self) -> float | None:
        return self._mean(self.pain_before)

    @property
    def mean_pain_after(self) -> float | None:
        return self._mean(self.pain_after)

    @property
    def mean_pain_texted(self) -> float | None:
        return self._mean(self.pain_texted)


def tally(days: list[date], expected: dict[date, list[Expected]], logs: dict[date, DayLogs]) -> Tally:
    """Due and done occurrences over some days, by the README's definitions."""
    result = Tally()
    flexible: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day in days:
        day_log = logs.get(day)
        credit = day_log.credit if day_log else {}
        for want in expected.get(day, []):
            done = min(credit.get(want.key, 0.0), want.times)
            if want.flexible_days:
                slot = flexible[want.key]
                slot[0] += want.times * want.flexible_days / 7
                slot[1] += done
            else:
                result.due += want.times
                result.done += done
        if day_log:
            result.entries += day_log.entries
            result.pain_before = tuple(a + b for a, b in zip(result.pain_before, day_log.pain_before, strict=True))
            result.pain_after = tuple(a + b for a, b in zip(result.pain_after, day_log.pain_after, strict=True))
            result.pain_texted = tuple(a + b for a, b in zip(result.pain_texted, day_log.pain_texted, strict=True))
    for due, done in flexible.values():
        result.due += due
        result.done += min(done, due)
    return result


@dataclass(frozen=True, slots=True)
class DayPlan:
    """A day's Expected list compacted for tallying: the fixed-day items' total times, then each part of it."""

    fixed_due: int  # the fixed-day items' times summed (whole numbers: the same float whatever the order)
    fixed: tuple[tuple[Key, int], ...]  # (key, times) of each fixed-day item, in the list's order
    flexible: tuple[tuple[Key, int, float], ...]  # (key, times, times * N / 7) of each flexible item

    @classmethod
    def of(cls, expected: list[Expected]) -> DayPlan:
        """The plan of one day's Expected list."""
        fixed = tuple((want.key, want.times) for want in expected if not want.flexible_days)
        flexible = tuple(
            (want.key, want.times, want.times * want.flexible_days / 7) for want in expected if want.flexible_days
        )
        return cls(sum(times for _key, times in fixed), fixed, flexible)


NO_PLAN = DayPlan(0, (), ())


def tally_parts(
    parts: list[list[date]], plans: Mapping[date, DayPlan], logs: Mapping[date, DayLogs]
) -> tuple[Tally, list[Tally]]:
    """`tally` over all the days of `parts` (consecutive runs of days) and over each part, in one pass.

    Returns (the whole's Tally, [each part's Tally]), equal to what `tally` gives with each plan's Expected list:
    every sum takes the same additions in the same order (so its floats come out the same), less those of zero.
    Flexible items' due and done are kept in two dicts by key, in the order `tally` first meets them.
    """
    # The whole's running sums (w_*) and the part's are locals, updated side by side: this runs per patient-day.
    w_due = w_done = w_pb = w_pa = w_pt = 0.0
    w_entries = w_pb_n = w_pa_n = w_pt_n = 0
    w_flex_due: dict[Key, float] = {}
    w_flex_done: dict[Key, float] = {}
    tallies = []
    plan_of, log_of = plans.get, logs.get
    for part in parts:
        due = done = pb = pa = pt = 0.0
        entries = pb_n = pa_n = pt_n = 0
        flex_due: dict[Key, float] = {}
        flex_done: dict[Key, float] = {}
        for day in part:
            plan = plan_of(day, NO_PLAN)
            if plan.fixed_due:
                w_due += plan.fixed_due
                due += plan.fixed_due
            day_log = log_of(day)
            if day_log is None:
                for key, _times, share in plan.flexible:
                    w_flex_due[key] = w_flex_due.get(key, 0.0) + share
                    flex_due[key] = flex_due.get(key, 0.0) + share
                continue
            credit = day_log.credit
            for key, times in plan.fixed:
                got = credit.get(key)
                if got:
                    got = got if got <= times else times
                    w_done += got
                    done += got
            for key, times, share in plan.flexible:
                w_flex_due[key] = w_flex_due.get(key, 0.0) + share
                flex_due[key] = flex_due.get(key, 0.0) + share
                got = credit.get(key)
                if got:
                    got = got if got <= times else times
                    w_flex_done[key] = w_flex_done.get(key, 0.0) + got
                    flex_done[key] = flex_done.get(key, 0.0) + got
            entries += day_log.entries
            w_entries += day_log.entries
            (b, b_n), (a, a_n), (t, t_n) = day_log.pain_before, day_log.pain_after, day_log.pain_texted
            pb, pb_n, pa, pa_n, pt, pt_n = pb + b, pb_n + b_n, pa + a, pa_n + a_n, pt + t, pt_n + t_n
            w_pb, w_pb_n, w_pa, w_pa_n = w_pb + b, w_pb_n + b_n, w_pa + a, w_pa_n + a_n
            w_pt, w_pt_n = w_pt + t, w_pt_n + t_n
        tallies.append(tally_of(due, done, flex_due, flex_done, (pb, pb_n), (pa, pa_n), (pt, pt_n), entries))
    whole = tally_of(w_due, w_done, w_flex_due, w_flex_done, (w_pb, w_pb_n), (w_pa, w_pa_n), (w_pt, w_pt_n), w_entries)
    return whole, tallies


def tally_of(due, done, flex_due, flex_done, pain_before, pain_after, pain_texted, entries) -> Tally:
    """The Tally of tally_parts' sums: each flexible item counts what was done up to what was expected."""
    for key, expected in flex_due.items():
        due += expected
        done += min(flex_done.get(key, 0.0), expected)
    return Tally(due, done, pain_before, pain_after, pain_texted, entries)


def streak(today: date, routines: list, logs: dict[date, DayLogs], horizon: int) -> int:
    """Days in a row, back from today, on which nothing required was missed (see the README's "Streak").

    A day breaks the streak only when it missed something it required (schedule.missed_on): a fixed-day
    item not done its times, or an N-days-a-week item on a day its week had none to spare. A day counts
    when it required something or has an entry for an item in effect; other days neither break nor
    count. Today counts once nothing it requires is missing and does not break the streak while under way.
    """
    credit = {day: day_log.credit for day, day_log in logs.items()}
    count = 0
    for back in range(horizon):
        day = today - timedelta(days=back)
        if missed_on(routines, day, credit):
            if back > 0:
                break
            continue
        done = credit.get(day, {})
        if required_on(routines, day, credit) or any(done.get(want.key, 0) > 0 for want in expected_on(routines, day)):
            count += 1
    return count


def patient_view(patient_id: int, routines: list[Routine], *, today: date, days: int) -> dict:
    """Daily and weekly adherence, streak, pain, last activity for one patient."""
    horizon = max(days, 120)
    start = today - timedelta(days=horizon - 1)
    span = days_between(start, today)
    expected = {day: expected_on(routines, day) for day in span}
    by_day = day_logs([patient_id], start, today)
    add_texted_pain(by_day, [patient_id], start, today)
    logs = {day: v for (_pid, day), v in by_day.items()}
    shown = span[-days:]
    daily = []
    for day in shown:
        t = tally([day], expected, logs)
        daily.append(
            {
                "date": day,
                "due": round(t.due, 3),
                "done": round(t.done, 3),
                "adherence": t.adherence,
                "pain_before": t.mean_pain_before,
                "pain_after": t.mean_pain_after,
                "pain_texted": t.mean_pain_texted,
                "entries": t.entries,
            }
        )
    weeks = []
    first = week_start(shown[0])
    while first <= today:
        week_days = [d for d in days_between(first, first + timedelta(days=6)) if d <= today]
        t = tally(week_days, expected, logs)
        weeks.append(
            {
                "week_start": first,
                "due": round(t.due, 3),
                "done": round(t.done, 3),
                "adherence": t.adherence,
                "pain_before": t.mean_pain_before,
                "pain_after": t.mean_pain_after,
                "pain_texted": t.mean_pain_texted,
            }
        )
        first += timedelta(days=7)
    this_week = week_start(today)
    last_week = this_week - timedelta(days=7)
    per_routine = []
    for routine in routines:
        first = max(routine.versions[0].start_date, start)
        last = min(today, max((v.end_date or today) for v in routine.versions))
        span_days = days_between(first, last) if first <= last else []
        own = {day: expected_on([routine], day) for day in span_days}
        result = tally(span_days, own, logs)
        per_routine.append(
            {
                "routine_id": routine.id,
                "title": routine.current.title,
                "since": first,
                "due": round(result.due, 3),
                "done": round(result.done, 3),
                "adherence": result.adherence,
            }
        )
    return {
        "today": today,
        "streak": streak(today, routines, logs, horizon),
        "last_activity": last_activity([patient_id]).get(patient_id),
        "adherence_this_week": tally(days_between(this_week, today), expected, logs).adherence,
        "adherence_last_week": tally(days_between(last_week, this_week - timedelta(days=1)), expected, logs).adherence,
        "days": daily,
        "weeks": weeks,
        "routines": per_routine,
    }
