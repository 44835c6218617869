"""The reminder rules: what a patient should be reminded of and when, whether a reminder may go out now,
and by which channel (a text, or a push when the patient chose push; the same rules for both).

Pure functions on plain values. The planner asks `planned_for` what rows to have; the dispatcher asks
`verdict` again, at send time, with the facts as they are then (the patient's current time zone, the
clinic's current rules, today's sessions and logs, the texts that already went out), so a late or
failed re-plan can never send a wrong text. "What is due on a day" is hep/programs/schedule.py's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from hep.accounts.models import PUSH, SMS
from hep.programs import schedule
from hep.reminders.states import DAY_KINDS, NOT_COUNTED, ContactStatus, Kind, Status
from hep.sessions.models import SCHEDULED

HORIZON = timedelta(hours=36)  # how far ahead the planner keeps rows
GRACE = timedelta(minutes=1)  # a reminder whose time in force is further off than this waits for it
SKIP, GENTLE = "skip", "gentle"  # what a needling day gets: no exercise reminder, or the gentler one


@dataclass(frozen=True)
class Rules:
    """A clinic's reminder rules, as in force."""

    window_start: str = "08:00"
    window_end: str = "21:00"
    exercise_times: tuple[str, ...] = ("18:00",)
    max_per_day: int = 1
    max_per_week: int = 3
    pre_session_hours: int = 24
    needling_day: str = SKIP

    @classmethod
    def of(cls, row: Any) -> Rules:
        """The rules of a ReminderSettings row (or the defaults, for None)."""
        if row is None:
            return cls()
        return cls(
            row.window_start,
            row.window_end,
            tuple(row.exercise_times),
            row.max_per_day,
            row.max_per_week,
            row.pre_session_hours,
            row.needling_day,
        )


@dataclass(frozen=True)
class Session:
    id: int
    starts_at: datetime
    status: str  # scheduled | completed (cancelled and no-show sessions are not facts here)


@dataclass(frozen=True)
class Facts:
    """What the rules need to know of one patient."""

    patient_id: int
    timezone: str
    own_times: tuple[str, ...] | None  # the patient's chosen local times; None: the clinic's
    rules: Rules
    routines: Sequence[Any]  # compiled LiveRoutines (hep/programs/compiled.py)
    sessions: Sequence[Session] = ()  # scheduled or completed, from a day or two back

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def times(self) -> tuple[str, ...]:
        return self.own_times or self.rules.exercise_times

    @cached_property
    def needling_days(self) -> frozenset[date]:
        """Local days (in the current zone) with a scheduled or completed session: a needling day stays one
        all day, also after its session has started or ended."""
        return frozenset(s.starts_at.astimezone(self.zone).date() for s in self.sessions)


@dataclass(frozen=True)
class Contact:
    """How the patient may be reached: text consent for a number, and push when they chose it."""

    status: str | None  # text consent (a ContactStatus); None: never recorded
    consented_phone: str | None
    phone: str | None  # the patient's current mobile number
    active: bool
    push: bool = False  # the patient chose push and a subscription of theirs is alive


@dataclass(frozen=True)
class Wanted:
    kind: str
    slot: str
    local_date: date
    due_at: datetime
    window_end_at: datetime
    session_id: int | None = None


@dataclass(frozen=True)
class Send:
    window_end_at: datetime  # the window in force: the provider must not deliver after it
    channel: str = SMS


@dataclass(frozen=True)
class Later:
    wanted: Wanted  # the time the rules in force give it
    reason: str


@dataclass(frozen=True)
class Stop:
    status: Status
    reason: str


Verdict = Send | Later | Stop


@lru_cache(maxsize=65_536)
def local_moment(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC."""
    # Cached: the planner asks the same few (day, time, zone) for every patient of a zone.
    # fold=0 maps a time skipped by a DST jump to just past the gap, and a repeated time to its first occurrence.
    aware = datetime.combine(day, time.fromisoformat(hhmm)).replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC)


def window(day: date, rules: Rules, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The allowed sending window of a local day, in UTC."""
    return local_moment(day, rules.window_start, zone), local_moment(day, rules.window_end, zone)


def day_reminders(facts: Facts, day: date) -> list[Wanted]:
    """The exercise reminders a local day wants under the rules, before caps and logs.

    None when nothing is prescribed for the day; on a needling day none (`skip`) or one gentler
    text (`gentle`) at the first reminder time; otherwise one per reminder time inside the window,
    up to the daily cap.
    """
    if not schedule.due_on(facts.routines, day, {}):
        return []
    start, end = window(day, facts.rules, facts.zone)
    moments = [(t, local_moment(day, t, facts.zone)) for t in sorted(facts.times)]
    times = [(t, at) for t, at in moments if start <= at <= end][: facts.rules.max_per_day]
    if not times:
        return []
    if day in facts.needling_days:
        if facts.rules.needling_day != GENTLE:
            return []
        return [Wanted(Kind.POST_NEEDLING, day.isoformat(), day, times[0][1], end)]
    return [Wanted(Kind.EXERCISE, f"{day.isoformat()}T{t}", day, at, end) for t, at in times]


def pre_session(session: Session, rules: Rules, zone: ZoneInfo, now: datetime) -> Wanted | None:
    """The reminder before a scheduled session: `pre_session_hours` ahead, moved into that day's window."""
    due = session.starts_at - timedelta(hours=rules.pre_session_hours)
    day = due.astimezone(zone).date()
    start, end = window(day, rules, zone)
    due = min(max(due, start), end)
    window_end = min(end, session.starts_at)
    if due >= session.starts_at or window_end <= now:
        return None
    return Wanted(Kind.PRE_SESSION, session_slot(session), day, max(due, min(now, window_end)), window_end, session.id)


def session_slot(session: Session) -> str:
    """A pre-session reminder's slot: a moved session is another slot, so its old reminder is withdrawn."""
    return f"session-{session.id}-{session.starts_at.astimezone(UTC).strftime('%Y%m%dT%H%M')}"


def planned_for(facts: Facts, existing: Sequence[Any], now: datetime) -> list[Wanted]:
    """The rows the planner should have from now to the horizon.

    `existing` are the patient's reminder rows of the last week or so (kind, slot, status, local_date).
    Exercise reminders are kept within the weekly cap: rows already planned (and still wanted) or gone
    out use up its share, and new ones are added while the week has room.
    """
    zone = facts.zone
    today, last = now.astimezone(zone).date(), (now + HORIZON).astimezone(zone).date()
    candidates = [w for n in range((last - today).days + 1) for w in day_reminders(facts, today + timedelta(days=n))]
    wanted_slots = {(w.kind, w.slot) for w in candidates}
    held = {
        (r.kind, r.slot)
        for r in existing
        if r.kind in DAY_KINDS
        and r.status not in NOT_COUNTED
        and (r.status != Status.PLANNED or (r.kind, r.slot) in wanted_slots)
    }
    used = Counter(schedule.week_start(r.local_date) for r in existing if (r.kind, r.slot) in held)
    wanted = []
    for w in candidates:
        if (w.kind, w.slot) in held:
            wanted.append(w)
        elif used[schedule.week_start(w.local_date)] < facts.rules.max_per_week:
            used[schedule.week_start(w.local_date)] += 1
            wanted.append(w)
    for session in facts.sessions:
        if session.status == SCHEDULED and session.starts_at > now:
            found = pre_session(session, facts.rules, zone, now)
            if found is not None:
                wanted.append(found)
    return [w for w in wanted if w.window_end_at > now]


@dataclass(frozen=True)
class Sent:
    """The exercise reminders of one patient that already went out, per local day (the caps' count)."""

    per_day: Counter = field(default_factory=Counter)

    def on(self, day: date) -> int:
        return self.per_day[day]

    def in_week_of(self, day: date) -> int:
        monday = schedule.week_start(day)
        return sum(n for d, n in self.per_day.items() if monday <= d <= monday + timedelta(days=6))


def verdict(
    reminder: Any,
    facts: Facts,
    contact: Contact | None,
    credit: Mapping[date, schedule.Credit],
    sent: Sent,
    now: datetime,
) -> Verdict:
    """Whether this reminder may go out now under the rules and facts in force, and if not, why.

    `reminder` has kind, slot, local_date and session_id; `credit` holds the logs of its week (up to
    its day); `sent` counts the patient's other exercise reminders that went out.
    """
    channel = channel_for(reminder.kind, contact)
    refusal = _push_refusal(contact) if channel == PUSH else _consent_refusal(contact)
    if refusal:
        return Stop(Status.SKIPPED, refusal)
    if reminder.kind == Kind.CONSENT:
        start, end = window(reminder.local_date, facts.rules, facts.zone)
        wanted = Wanted(reminder.kind, reminder.slot, reminder.local_date, start, end)
    elif reminder.kind == Kind.PRE_SESSION:
        session = next((s for s in facts.sessions if s.id == reminder.session_id), None)
        if session is None or session.status != SCHEDULED or session_slot(session) != reminder.slot:
            return Stop(Status.WITHDRAWN, "the session was cancelled or moved")
        wanted = pre_session(session, facts.rules, facts.zone, now)
        if wanted is None:
            return Stop(Status.MISSED, "the session's sending window closed")
    else:
        found = _day_reminder(reminder, facts, credit, sent)
        if isinstance(found, Stop):
            return found
        wanted = found
    if wanted.due_at > now + GRACE:
        return Later(wanted, "moved by the rules in force")
    if now > wanted.window_end_at:
        return Stop(Status.MISSED, "the sending window in force closed before it could go out")
    return Send(wanted.window_end_at, channel)


def channel_for(kind: str, contact: Contact | None) -> str:
    """The channel a reminder goes by: push when the patient chose it and a subscription is alive, else a
    text (also the fallback when push was turned off or its last subscription died). The text asking to
    confirm text consent is always a text."""
    if kind != Kind.CONSENT and contact is not None and contact.push:
        return PUSH
    return SMS


def _push_refusal(contact: Contact) -> str | None:
    return None if contact.active else "patient deactivated"


def _consent_refusal(contact: Contact | None) -> str | None:
    if contact is None or contact.status != ContactStatus.ACTIVE:
        return f"no text consent ({(contact and contact.status) or 'none recorded'})"
    if contact.consented_phone != contact.phone:
        return "consent was for another number"
    if not contact.active:
        return "patient deactivated"
    return None


def _day_reminder(reminder: Any, facts: Facts, credit: Mapping[date, schedule.Credit], sent: Sent) -> Wanted | Stop:
    day = reminder.local_date
    wanted = {(w.kind, w.slot): w for w in day_reminders(facts, day)}.get((reminder.kind, reminder.slot))
    if wanted is None:
        return Stop(Status.WITHDRAWN, _why_not_wanted(reminder, facts))
    due = schedule.due_on(facts.routines, day, credit)
    if not due:
        return Stop(Status.WITHDRAWN, "nothing is due that day any more (this week's days are done)")
    if schedule.all_done(due, credit.get(day, {})):
        return Stop(Status.SKIPPED, "today's exercises are already logged")
    if sent.on(day) >= facts.rules.max_per_day:
        return Stop(Status.SKIPPED, "daily cap reached")
    if sent.in_week_of(day) >= facts.rules.max_per_week:
        return Stop(Status.SKIPPED, "weekly cap reached")
    return wanted


def _why_not_wanted(reminder: Any, facts: Facts) -> str:
    day = reminder.local_date
    if not schedule.due_on(facts.routines, day, {}):
        return "nothing is due that day any more"
    if day in facts.needling_days:
        if facts.rules.needling_day == GENTLE and reminder.kind == Kind.EXERCISE:
            return "a needling day: the gentler text goes instead"
        return "a needling day: no exercise reminder"
    if reminder.kind == Kind.POST_NEEDLING:
        return "no longer a needling day"
    return "not a reminder time inside the sending window in force"
