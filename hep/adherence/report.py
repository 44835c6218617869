"""The clinic adherence report: a clinic's (or one physiotherapist's) patients over their last N whole days.

Every figure is metrics.py's (the README's "Adherence: definitions"): each patient is tallied as
`metrics.tally` does over their own last `days` whole days (yesterday back, in their time zone: today is still
under way, as on the risk list) and per Monday-to-Sunday week within those days, and the tallies are summed.
Patients are streamed in batches by id; each batch's days come from the kept day summaries
(`summaries.closed_days`: one row per patient-day, worked out from logs and routines only where a write changed
it; `summaries.tally_days` gives `metrics.tally_parts`' figures, tested against it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hep.accounts.models import PHYSIOTHERAPIST, Clinic, Patient, User
from hep.adherence.metrics import Tally, days_between
from hep.adherence.summaries import closed_days, tally_days
from hep.errors import Forbidden, Invalid
from hep.extensions import db
from hep.programs.schedule import week_start
from hep.programs.service import local_today

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


def _batches(clinic_id: int, physio_id: int | None, now: datetime) -> Iterator[tuple[list, dict[int, date]]]:
    """The patients BATCH at a time, with each one's local date now."""
    zones: dict[str, date] = {}  # time zone: its local date now
    for rows in _patient_batches(clinic_id, physio_id):
        todays = {}
        for row in rows:
            if row.timezone not in zones:
                zones[row.timezone] = local_today(row, now)
            todays[row.user_id] = zones[row.timezone]
        yield rows, todays


def clinic_report(actor: User, *, days: int, physiotherapist_id: int | None, now: datetime) -> dict:
    """Adherence and pain of the clinic's patients (or one physiotherapist's) over their last `days` whole days."""
    physio_id = _scope(actor, physiotherapist_id)
    clinic = db.session.get(Clinic, actor.clinic_id)
    window = _Window(days)
    total, weeks, physios = Group(), defaultdict(Group), defaultdict(Group)
    idle: Counter = Counter()  # (physiotherapist, local today): patients with nothing due and nothing logged
    for rows, todays in _batches(clinic.id, physio_id, now):
        spans = {pid: window.span(today) for pid, today in todays.items()}
        kept = closed_days({pid: span.days for pid, span in spans.items()})
        for row in rows:
            own = kept[row.user_id]
            if not own:
                idle[row.physiotherapist_id, todays[row.user_id]] += 1
                continue
            span = spans[row.user_id]
            result, by_week = tally_days(span.parts, own)
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
