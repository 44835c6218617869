"""Planning: keep the reminder table in line with what the rules want, for the next day or so.

Rows are unique per (patient, kind, slot), so planning twice creates nothing twice. Each run also
withdraws planned rows that are no longer wanted and moves planned rows whose time in force changed
(a new time zone, window or reminder time), so a re-plan after any change, and the periodic plan,
converge on the same table. Patients are streamed in batches: memory stays flat however many there are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Row, Select, TextClause, and_, bindparam, or_, select, text
from sqlalchemy.dialects import sqlite

from hep.accounts.models import Patient, User
from hep.dbtypes import among
from hep.extensions import db
from hep.reminders import facts as reading
from hep.reminders import moves, policy
from hep.reminders.models import Reminder, SmsContact
from hep.reminders.states import MOVES, ContactStatus, Kind, Status

assert Status.PLANNED in MOVES[Status.WITHDRAWN]  # the upsert below revives withdrawn rows


@cache
def _contacts_statement() -> Select:
    return (
        select(Patient.user_id, Patient.timezone, User.clinic_id, SmsContact.exercise_times)
        .outerjoin(SmsContact, SmsContact.patient_id == Patient.user_id)
        .join(User, User.id == Patient.user_id)
        .where(
            or_(SmsContact.status == ContactStatus.ACTIVE, reading.live_push()),
            User.is_active.is_(True),
            Patient.user_id > bindparam("after"),
        )
        .order_by(Patient.user_id)
        .limit(bindparam("batch"))
    )


def _contacts(patient_ids: Sequence[int] | None, where, batch: int) -> Iterator[list[Row]]:
    """Active patients who may be reminded (text consent, or push chosen with a live subscription) in id
    order, `batch` at a time: memory stays flat however many there are."""
    query, params = _contacts_statement(), {}
    if patient_ids is not None:
        # One array parameter on PostgreSQL: a plain IN would hit the driver's 65,535-parameter limit.
        query = query.where(among(Patient.user_id, "only", db.engine.dialect.name))
        params["only"] = list(patient_ids)
    if where is not None:
        query = query.where(where)
    last = 0
    while True:
        rows = db.session.execute(query, {**params, "after": last, "batch": batch}).all()
        if not rows:
            return
        yield rows
        last = rows[-1].user_id


def plan(
    now: datetime,
    *,
    patient_ids: Sequence[int] | None = None,
    clinic_id: int | None = None,
    part: tuple[int, int] | None = None,
    batch: int = 500,
) -> int:
    """Bring the reminder rows of these patients (default: everyone reachable; `part` (n, of): only those
    whose user_id % of == n) in line with the rules; return how many rows were added or moved. Commits
    once per batch."""
    changed = 0
    rules: dict[int, policy.Rules] = {}
    seen: set[int] = set()
    where = User.clinic_id == clinic_id if clinic_id is not None else None
    if part is not None:
        number, of = part
        in_part = Patient.user_id % of == number
        where = in_part if where is None else and_(where, in_part)
    for rows in _contacts(patient_ids, where, batch):
        ids = [row.user_id for row in rows]
        seen.update(ids)
        facts = reading.patient_facts(rows, now, rules)
        existing = _existing(ids, now)
        values, keep = [], set()
        for row in rows:
            for w in policy.planned_for(facts[row.user_id], existing.get(row.user_id, []), now):
                keep.add((row.user_id, w.kind, w.slot))
                values.append(_row_values(row, w))
        unwanted = [
            r.id
            for rs in existing.values()
            for r in rs
            if r.status == Status.PLANNED
            and r.kind != Kind.CONSENT
            and r.window_end_at > now
            and (r.patient_id, r.kind, r.slot) not in keep
        ]
        _withdraw(unwanted, now, "no longer wanted under the rules in force")
        changed += _upsert(values, now)
        db.session.commit()
    if patient_ids is not None:
        # Patients who may not be reminded any more (consent lost, push ended, deactivated): nothing stays planned.
        gone = sorted(set(patient_ids) - seen)
        if gone:
            moves.move(
                Status.PLANNED,
                Status.WITHDRAWN,
                Reminder.patient_id.in_(gone),
                Reminder.kind != Kind.CONSENT,
                now=now,
                reason="reminders are off for this patient",
            )
    db.session.commit()  # also ends the last (empty) read, so no transaction is left open
    return changed


def replan(patient_ids: Sequence[int], now: datetime) -> int:
    """After a change to these patients (routine, session, time zone, times, consent): re-plan them."""
    return plan(now, patient_ids=patient_ids)


def replan_clinic(clinic_id: int, now: datetime) -> int:
    """After a change of a clinic's rules: re-plan each of its patients."""
    return plan(now, clinic_id=clinic_id)


def _row_values(row: Row, w: policy.Wanted) -> dict:
    """What differs from one planned row to the next; _new_row adds what every new row has."""
    return {
        "patient_id": row.user_id,
        "clinic_id": row.clinic_id,
        "kind": w.kind,
        "slot": w.slot,
        "local_date": w.local_date,
        "session_id": w.session_id,
        "due_at": w.due_at,
        "window_end_at": w.window_end_at,
    }


# What every newly planned row has, besides next_attempt_at = due_at and created_at = updated_at = now.
_NEW_ROW = {"status": Status.PLANNED, "attempts": 0, "lookups": 0, "reason": None}


def _new_row(values: dict, now: datetime) -> dict:
    return {**values, **_NEW_ROW, "next_attempt_at": values["due_at"], "created_at": now, "updated_at": now}


def _withdraw(ids: list[int], now: datetime, reason: str) -> None:
    if ids:
        moves.move(Status.PLANNED, Status.WITHDRAWN, Reminder.id.in_(ids), now=now, reason=reason)


@cache
def _existing_statement(dialect_name: str) -> Select:
    return select(
        Reminder.id,
        Reminder.patient_id,
        Reminder.kind,
        Reminder.slot,
        Reminder.status,
        Reminder.local_date,
        Reminder.window_end_at,
    ).where(among(Reminder.patient_id, "ids", dialect_name), Reminder.local_date >= bindparam("since"))


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
    ("lookups", "integer"),
    ("reason", "text"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
# On a conflict: a withdrawn row is wanted again, or a planned row's time in force moved. A row
# already being retried keeps its later attempt time unless the new time in force is later still.
# SQLite names the proposed row `excluded` as PostgreSQL does, so the same SQL serves both.
_ON_CONFLICT_SET = (
    ("status", f"'{Status.PLANNED}'"),
    ("reason", "NULL"),
    ("due_at", "excluded.due_at"),
    ("window_end_at", "excluded.window_end_at"),
    ("local_date", "excluded.local_date"),
    (
        "next_attempt_at",
        f"CASE WHEN reminders.status = '{Status.WITHDRAWN}' OR reminders.attempts = 0 THEN excluded.next_attempt_at "
        "WHEN excluded.next_attempt_at > reminders.next_attempt_at THEN excluded.next_attempt_at "
        "ELSE reminders.next_attempt_at END",
    ),
    ("updated_at", "excluded.updated_at"),
)
_ON_CONFLICT_WHERE = (
    f"reminders.status = '{Status.WITHDRAWN}' OR (reminders.status = '{Status.PLANNED}' AND ("
    "reminders.due_at <> excluded.due_at OR reminders.window_end_at <> excluded.window_end_at "
    "OR reminders.local_date <> excluded.local_date))"
)


# On PostgreSQL: columns computed in the statement; _NEW_ROW's sent as scalars; the rest (_row_values' keys)
# differ from row to row and go as one array each.
_SHARED = {
    "next_attempt_at": "u.due_at",
    "created_at": "CAST(:now AS timestamptz)",
    "updated_at": "CAST(:now AS timestamptz)",
}
_VARYING = tuple((name, kind) for name, kind in _COLUMNS if name not in _NEW_ROW and name not in _SHARED)
_TYPES = dict(_COLUMNS)


def _picked(name: str) -> str:
    if name in _SHARED:
        return _SHARED[name]
    return f"u.{name}" if name not in _NEW_ROW else f"CAST(:{name} AS {_TYPES[name]})"


@cache
def _postgresql_upsert() -> TextClause:
    # One statement for the whole batch, its varying values sent as one array per column: PostgreSQL
    # parses and plans it once, and the driver adapts 8 arrays rather than building a multi-row VALUES.
    names = ", ".join(name for name, _type in _COLUMNS)
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _VARYING)
    picked = ", ".join(_picked(name) for name, _type in _COLUMNS)
    assignments = ", ".join(f"{name} = {expression}" for name, expression in _ON_CONFLICT_SET)
    return text(
        f"INSERT INTO reminders ({names}) SELECT {picked} "
        f"FROM unnest({arrays}) AS u({', '.join(name for name, _type in _VARYING)}) "
        f"ON CONFLICT (patient_id, kind, slot) DO UPDATE SET {assignments} WHERE {_ON_CONFLICT_WHERE} "
        "RETURNING id"
    )


@cache
def _sqlite_upsert():
    statement = sqlite.insert(Reminder.__table__)
    return statement.on_conflict_do_update(
        index_elements=["patient_id", "kind", "slot"],
        set_={name: text(expression) for name, expression in _ON_CONFLICT_SET},
        where=text(_ON_CONFLICT_WHERE),
    ).returning(Reminder.__table__.c.id)


def _upsert(values: list[dict], now: datetime) -> int:
    """Insert wanted rows, revive withdrawn ones and move planned ones whose time changed; return how many."""
    if not values:
        return 0
    if db.engine.dialect.name == "postgresql":
        arrays = {name: [v[name] for v in values] for name, _type in _VARYING}
        return len(db.session.execute(_postgresql_upsert(), {**arrays, **_NEW_ROW, "now": now}).all())
    # One compiled statement over many parameter sets, rather than a multi-row INSERT compiled per batch.
    rows = [_new_row(v, now) for v in values]
    return len(db.session.connection().execute(_sqlite_upsert(), rows).all())
