"""Planning: turn routines, sessions and preferences into reminder rows for the next day or so.

Rows are unique per (patient, kind, slot), so planning twice creates nothing twice. Patients
are streamed in batches: memory stays flat however many there are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, TextClause, bindparam, select, text, update
from sqlalchemy.dialects import sqlite

from hep.accounts.models import Patient, User
from hep.dbtypes import among
from hep.extensions import db
from hep.programs.compiled import LiveRoutine, items_on, live_routines
from hep.reminders.models import (
    ACTIVE,
    EXERCISE,
    MISSED,
    PLANNED,
    POST_NEEDLING,
    PRE_SESSION,
    SKIPPED,
    WITHDRAWN,
    Reminder,
    ReminderSettings,
    SmsContact,
)
from hep.sessions.models import SCHEDULED, NeedlingSession

HORIZON = timedelta(hours=36)
NOT_COUNTED = (SKIPPED, WITHDRAWN, MISSED)  # states that do not use up a cap


@dataclass(frozen=True)
class Wanted:
    kind: str
    slot: str
    local_date: date
    due_at: datetime
    window_end_at: datetime
    session_id: int | None = None


def settings_for(clinic_id: int) -> ReminderSettings:
    """The clinic's reminder rules (defaults when it never set any)."""
    row = db.session.get(ReminderSettings, clinic_id)
    if row is None:
        row = ReminderSettings(
            clinic_id=clinic_id,
            window_start="08:00",
            window_end="21:00",
            exercise_times=["18:00"],
            max_per_day=1,
            max_per_week=3,
            pre_session_hours=24,
            needling_day="skip",
        )
    return row


def local_moment(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC."""
    # fold=0 maps a time skipped by a DST jump to just past the gap, and a repeated time to its first occurrence.
    aware = datetime.combine(day, time.fromisoformat(hhmm)).replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC)


def wanted_for(
    timezone: str,
    exercise_times: list[str] | None,
    settings: ReminderSettings,
    routines: list[LiveRoutine],
    sessions: list[NeedlingSession],
    existing: list,
    now: datetime,
) -> list[Wanted]:
    """The reminders a patient should have from now to the horizon, by the clinic's rules."""
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    last_day = (now + HORIZON).astimezone(zone).date()
    needling_days = {s.starts_at.astimezone(zone).date() for s in sessions}
    counted = {r.slot for r in existing if r.kind == EXERCISE and r.status not in NOT_COUNTED}
    used_per_week = Counter(_week(r.local_date) for r in existing if r.slot in counted and r.kind == EXERCISE)
    wanted: list[Wanted] = []
    day = today
    while day <= last_day:
        window_end = local_moment(day, settings.window_end, zone)
        window_start = local_moment(day, settings.window_start, zone)
        times = [
            t
            for t in (exercise_times or settings.exercise_times)
            if window_start <= local_moment(day, t, zone) <= window_end
        ][: settings.max_per_day]
        due_items = [i for _r, i in items_on(routines, day) if i.flexible or i.fixed_on(day)]
        if due_items and times:
            if day in needling_days:
                if settings.needling_day == "gentle":
                    wanted.append(
                        Wanted(POST_NEEDLING, day.isoformat(), day, local_moment(day, times[0], zone), window_end)
                    )
            else:
                for hhmm in times:
                    slot = f"{day.isoformat()}T{hhmm}"
                    if slot in counted:  # already planned or sent: keep it, it has used its share
                        wanted.append(Wanted(EXERCISE, slot, day, local_moment(day, hhmm, zone), window_end))
                    elif used_per_week[_week(day)] < settings.max_per_week:
                        used_per_week[_week(day)] += 1
                        wanted.append(Wanted(EXERCISE, slot, day, local_moment(day, hhmm, zone), window_end))
        day += timedelta(days=1)
    for session in sessions:
        wanted.extend(_pre_session(session, settings, zone, now))
    return [w for w in wanted if w.window_end_at > now]


def _pre_session(session: NeedlingSession, settings: ReminderSettings, zone: ZoneInfo, now: datetime) -> list[Wanted]:
    due = session.starts_at - timedelta(hours=settings.pre_session_hours)
    day = due.astimezone(zone).date()
    start, end = local_moment(day, settings.window_start, zone), local_moment(day, settings.window_end, zone)
    due = min(max(due, start), end)  # into that day's allowed window
    window_end = min(end, session.starts_at)
    if due >= session.starts_at or window_end <= now:
        return []
    slot = f"session-{session.id}-{session.starts_at.strftime('%Y%m%dT%H%M')}"
    return [Wanted(PRE_SESSION, slot, day, max(due, min(now, window_end)), window_end, session.id)]


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


@cache
def _contacts_statement() -> Select:
    return (
        select(Patient.user_id, Patient.timezone, User.clinic_id, SmsContact.exercise_times)
        .join(SmsContact, SmsContact.patient_id == Patient.user_id)
        .join(User, User.id == Patient.user_id)
        .where(SmsContact.status == ACTIVE, User.is_active.is_(True), Patient.user_id > bindparam("after"))
        .order_by(Patient.user_id)
        .limit(bindparam("batch"))
    )


def _contacts(patient_ids: list[int] | None, batch: int) -> Iterator[list[Row]]:
    """Consenting, active patients in id order, `batch` at a time: memory stays flat however many there are."""
    query, params = _contacts_statement(), {}
    if patient_ids is not None:
        # One array parameter on PostgreSQL: a plain IN would hit the driver's 65,535-parameter limit.
        query = query.where(among(Patient.user_id, "only", db.engine.dialect.name))
        params["only"] = list(patient_ids)
    last = 0
    while True:
        rows = db.session.execute(query, {**params, "after": last, "batch": batch}).all()
        if not rows:
            return
        yield rows
        last = rows[-1].user_id


def plan(now: datetime, *, patient_ids: list[int] | None = None, batch: int = 500) -> int:
    """Insert the reminder rows that are wanted and missing; return how many were added."""
    added = 0
    settings_cache: dict[int, ReminderSettings] = {}
    since = (now - timedelta(days=1)).date()  # the earliest local "today" anywhere on Earth
    for rows in _contacts(patient_ids, batch):
        ids = [row.user_id for row in rows]
        routines = live_routines(ids, since, remember=False)
        sessions = _sessions(ids, now)
        existing = _existing(ids, now)
        values = []
        for row in rows:
            if row.clinic_id not in settings_cache:
                settings_cache[row.clinic_id] = settings_for(row.clinic_id)
            for w in wanted_for(
                row.timezone,
                row.exercise_times,
                settings_cache[row.clinic_id],
                routines[row.user_id],
                sessions.get(row.user_id, []),
                existing.get(row.user_id, []),
                now,
            ):
                values.append(
                    {
                        "patient_id": row.user_id,
                        "clinic_id": row.clinic_id,
                        "kind": w.kind,
                        "slot": w.slot,
                        "local_date": w.local_date,
                        "session_id": w.session_id,
                        "due_at": w.due_at,
                        "window_end_at": w.window_end_at,
                        "next_attempt_at": w.due_at,
                        "status": PLANNED,
                        "attempts": 0,
                        "reason": None,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
        added += _insert_missing(values)
        db.session.commit()
    return added


@cache
def _sessions_statement(dialect_name: str) -> Select:
    return select(NeedlingSession).where(
        among(NeedlingSession.patient_id, "ids", dialect_name),
        NeedlingSession.status == SCHEDULED,
        NeedlingSession.starts_at >= bindparam("start"),
        NeedlingSession.starts_at <= bindparam("end"),
    )


def _sessions(ids: list[int], now: datetime) -> dict[int, list[NeedlingSession]]:
    found: dict[int, list[NeedlingSession]] = {}
    params = {"ids": list(ids), "start": now, "end": now + HORIZON + timedelta(days=3)}
    for s in db.session.scalars(_sessions_statement(db.engine.dialect.name), params):
        found.setdefault(s.patient_id, []).append(s)
    return found


@cache
def _existing_statement(dialect_name: str) -> Select:
    return select(Reminder.patient_id, Reminder.kind, Reminder.slot, Reminder.status, Reminder.local_date).where(
        among(Reminder.patient_id, "ids", dialect_name), Reminder.local_date >= bindparam("since")
    )


def _existing(ids: list[int], now: datetime) -> dict[int, list[Row]]:
    found: dict[int, list[Row]] = {}
    params = {"ids": list(ids), "since": (now - timedelta(days=8)).date()}
    for r in db.session.execute(_existing_statement(db.engine.dialect.name), params):
        found.setdefault(r.patient_id, []).append(r)
    return found


# Column and PostgreSQL array type of each planned row's value, in insert order.
_COLUMNS = (
    ("patient_id", "integer"),
    ("clinic_id", "integer"),
    ("kind", "text"),
    ("slot", "text"),
    ("local_date", "date"),
    ("session_id", "integer"),
    ("due_at", "timestamptz"),
    ("window_end_at", "timestamptz"),
    ("next_attempt_at", "timestamptz"),
    ("status", "text"),
    ("attempts", "integer"),
    ("reason", "text"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
_REVIVED = ("status", "due_at", "next_attempt_at", "window_end_at", "local_date", "updated_at", "reason")


@cache
def _postgresql_insert() -> TextClause:
    # One statement for the whole batch, its values sent as one array per column: PostgreSQL parses
    # and plans it once, and the driver does not build a multi-row VALUES text per batch.
    names = ", ".join(name for name, _type in _COLUMNS)
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS)
    revived = ", ".join(f"{name} = excluded.{name}" for name in _REVIVED)
    return text(
        f"INSERT INTO reminders ({names}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT (patient_id, kind, slot) DO UPDATE SET {revived} WHERE reminders.status = '{WITHDRAWN}' "
        "RETURNING id"
    )


@cache
def _sqlite_insert():
    statement = sqlite.insert(Reminder.__table__)
    return statement.on_conflict_do_update(
        index_elements=["patient_id", "kind", "slot"],
        set_={name: statement.excluded[name] for name in _REVIVED},
        where=Reminder.__table__.c.status == WITHDRAWN,
    ).returning(Reminder.__table__.c.id)


def _insert_missing(values: list[dict]) -> int:
    """Insert wanted rows; an existing row is left alone unless it was withdrawn, which is revived."""
    if not values:
        return 0
    if db.engine.dialect.name == "postgresql":
        arrays = {name: [v[name] for v in values] for name, _type in _COLUMNS}
        return len(db.session.execute(_postgresql_insert(), arrays).all())
    # One compiled statement over many parameter sets, rather than a multi-row INSERT compiled per batch.
    return len(db.session.connection().execute(_sqlite_insert(), values).all())


def replan(patient_id: int, now: datetime) -> None:
    """After a change (routine, session, time zone, times, consent): withdraw planned reminders
    that are no longer wanted, then plan what is."""
    contact = db.session.get(SmsContact, patient_id)
    patient = db.session.get(Patient, patient_id)
    wanted: set[tuple[str, str]] = set()
    if contact is not None and contact.status == ACTIVE and patient.user.is_active:
        settings = settings_for(patient.user.clinic_id)
        wanted = {
            (w.kind, w.slot)
            for w in wanted_for(
                patient.timezone,
                contact.exercise_times,
                settings,
                live_routines([patient_id], (now - timedelta(days=1)).date())[patient_id],
                _sessions([patient_id], now).get(patient_id, []),
                _existing([patient_id], now).get(patient_id, []),
                now,
            )
        }
    for reminder in db.session.scalars(
        select(Reminder).where(
            Reminder.patient_id == patient_id, Reminder.status == PLANNED, Reminder.kind != "consent"
        )
    ):
        if (reminder.kind, reminder.slot) not in wanted:
            db.session.execute(
                update(Reminder)
                .where(Reminder.id == reminder.id, Reminder.status == PLANNED)
                .values(status=WITHDRAWN, reason="no longer wanted after a change", updated_at=now)
            )
    db.session.commit()
    plan(now, patient_ids=[patient_id])
