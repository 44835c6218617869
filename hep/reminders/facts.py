"""Read the facts the reminder rules need (hep/reminders/policy.py), for many patients in a few queries."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache

from sqlalchemy import Row, Select, and_, bindparam, func, select

from hep.accounts.models import PUSH, Patient, User
from hep.adherence.metrics import day_logs
from hep.dbtypes import among
from hep.extensions import db
from hep.programs import schedule
from hep.programs.compiled import live_routines
from hep.push.models import PushSubscription
from hep.reminders import policy
from hep.reminders.models import Reminder, ReminderSettings, SmsContact
from hep.reminders.states import DAY_KINDS, GONE_OUT
from hep.sessions.models import COMPLETED, SCHEDULED, NeedlingSession


def rules_for(clinic_id: int, cache: dict[int, policy.Rules] | None = None) -> policy.Rules:
    """The clinic's reminder rules in force (the defaults when it never set any)."""
    if cache is not None and clinic_id in cache:
        return cache[clinic_id]
    rules = policy.Rules.of(db.session.get(ReminderSettings, clinic_id))
    if cache is not None:
        cache[clinic_id] = rules
    return rules


def patient_facts(rows: Iterable[Row], now: datetime, rules: dict[int, policy.Rules]) -> dict[int, policy.Facts]:
    """policy.Facts for patients given as rows of (user_id, timezone, clinic_id, exercise_times).

    Routines are the compiled versions from two days back (the earliest local day a reminder can
    still be for); sessions are those scheduled or completed from two days back to past the horizon.
    """
    rows = list(rows)
    ids = [row.user_id for row in rows]
    routines = live_routines(ids, (now - timedelta(days=2)).date(), remember=False)
    sessions = _sessions(ids, now)
    return {
        row.user_id: policy.Facts(
            patient_id=row.user_id,
            timezone=row.timezone,
            own_times=tuple(row.exercise_times) if row.exercise_times else None,
            rules=rules_for(row.clinic_id, rules),
            routines=routines[row.user_id],
            sessions=tuple(sessions.get(row.user_id, ())),
        )
        for row in rows
    }


@cache
def _sessions_statement(dialect_name: str) -> Select:
    return select(
        NeedlingSession.patient_id, NeedlingSession.id, NeedlingSession.starts_at, NeedlingSession.status
    ).where(
        among(NeedlingSession.patient_id, "ids", dialect_name),
        NeedlingSession.status.in_((SCHEDULED, COMPLETED)),
        NeedlingSession.starts_at >= bindparam("start"),
        NeedlingSession.starts_at <= bindparam("end"),
    )


def _sessions(ids: list[int], now: datetime) -> dict[int, list[policy.Session]]:
    found: dict[int, list[policy.Session]] = defaultdict(list)
    params = {"ids": list(ids), "start": now - timedelta(days=2), "end": now + policy.HORIZON + timedelta(days=3)}
    for patient_id, session_id, starts_at, status in db.session.execute(
        _sessions_statement(db.engine.dialect.name), params
    ):
        found[patient_id].append(policy.Session(session_id, starts_at, status))
    return found


def live_push():
    """True for a patient who chose push and has a live subscription (a column expression on Patient)."""
    alive = (
        select(PushSubscription.id)
        .where(PushSubscription.patient_id == Patient.user_id, PushSubscription.ended_at.is_(None))
        .exists()
    )
    return and_(Patient.reminder_channel == PUSH, alive)


@cache
def _contacts_statement(dialect_name: str) -> Select:
    return (
        select(
            Patient.user_id,
            Patient.timezone,
            User.clinic_id,
            SmsContact.exercise_times,
            SmsContact.status,
            SmsContact.phone,
            User.phone.label("user_phone"),
            User.is_active,
            live_push().label("push"),
        )
        .join(User, User.id == Patient.user_id)
        .outerjoin(SmsContact, SmsContact.patient_id == Patient.user_id)
        .where(among(Patient.user_id, "ids", dialect_name))
    )


def send_time_facts(
    reminders: list[Reminder], now: datetime, rules: dict[int, policy.Rules]
) -> tuple[dict[int, policy.Facts], dict[int, policy.Contact], dict, dict[int, policy.Sent]]:
    """Everything `policy.verdict` needs for these reminders, as the database has it now.

    Returns per patient: the facts, the contact, the logged credit per local day of the reminders'
    weeks, and the exercise reminders that already went out in those weeks.
    """
    ids = sorted({r.patient_id for r in reminders})
    rows = db.session.execute(_contacts_statement(db.engine.dialect.name), {"ids": ids}).all()
    facts = patient_facts(rows, now, rules)
    contacts = {
        row.user_id: policy.Contact(row.status, row.phone, row.user_phone, row.is_active, push=bool(row.push))
        for row in rows
    }
    days = [r.local_date for r in reminders]
    first, last = schedule.week_start(min(days)), max(days) + timedelta(days=6)
    credit: dict[int, dict[date, schedule.Credit]] = defaultdict(dict)
    for (patient_id, day), logs in day_logs(ids, first, last).items():
        credit[patient_id][day] = logs.credit
    return facts, contacts, credit, _sent(ids, first, last)


def _sent(ids: list[int], first: date, last: date) -> dict[int, policy.Sent]:
    found: dict[int, policy.Sent] = defaultdict(lambda: policy.Sent(Counter()))
    for patient_id, day, count in db.session.execute(
        select(Reminder.patient_id, Reminder.local_date, func.count())
        .where(
            among(Reminder.patient_id, "ids", db.engine.dialect.name),
            Reminder.kind.in_(sorted(DAY_KINDS)),
            Reminder.status.in_(sorted(GONE_OUT)),
            Reminder.local_date.between(first, last),
        )
        .group_by(Reminder.patient_id, Reminder.local_date),
        {"ids": ids},
    ):
        found[patient_id].per_day[day] += count
    return found
