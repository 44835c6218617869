"""The periodic plan, shared by slice among scheduler processes.

The patients are cut into `slices` by user_id modulo `slices`. A scheduler process takes one slice at a
time under a lease (one atomic UPDATE, like a reminder claim: FOR UPDATE SKIP LOCKED on PostgreSQL,
SQLite's single writer), plans it and marks it planned, then takes the next. A slice planned less than
`fresh_seconds` ago is left alone. The plan job fires on the clock's ten minutes in every process, so
processes running it together each plan a share of the patients, and one starting late finds the work
done. A process that dies mid-slice leaves its lease to run out, and whoever comes next plans the slice
(planning is idempotent and commits per batch, so a half-planned slice is only finished, never doubled).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Update, bindparam, or_, select, update

from hep.dbtypes import insert_new
from hep.extensions import db
from hep.reminders.models import PlanSlice
from hep.reminders.planner import plan


@dataclass(frozen=True)
class Share:
    """What one process's turn at the periodic plan did."""

    slices: int = 0  # slices this process planned
    changed: int = 0  # reminder rows added or moved


@cache
def _claim_statement(dialect_name: str) -> Update:
    due = (
        select(PlanSlice.slice)
        .where(
            PlanSlice.slices == bindparam("cut"),
            or_(PlanSlice.planned_at.is_(None), PlanSlice.planned_at <= bindparam("fresh_since")),
            or_(PlanSlice.lease_expires_at.is_(None), PlanSlice.lease_expires_at <= bindparam("now")),
        )
        .order_by(PlanSlice.slice)
        .limit(1)
    )
    if dialect_name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return (
        update(PlanSlice)
        .where(PlanSlice.slices == bindparam("cut"), PlanSlice.slice == due.scalar_subquery())
        .values(lease_owner=bindparam("holder"), lease_expires_at=bindparam("until"))
        .returning(PlanSlice.slice)
        .execution_options(synchronize_session=False)
    )


def ensure_slices(slices: int) -> None:
    """Make sure every slice of this cut has its row (the caller commits)."""
    have = set(db.session.scalars(select(PlanSlice.slice).where(PlanSlice.slices == slices)))
    for number in range(slices):
        if number not in have:
            insert_new(PlanSlice, {"slices": slices, "slice": number}, keys=["slices", "slice"])


def claim_slice(owner: str, now: datetime, *, slices: int, fresh_seconds: float, lease_seconds: float) -> int | None:
    """Take one slice that is due and nobody holds, under a lease; None when none is left. Commits."""
    params = {
        "cut": slices,
        "holder": owner,
        "now": now,
        "fresh_since": now - timedelta(seconds=fresh_seconds),
        "until": now + timedelta(seconds=lease_seconds),
    }
    taken = db.session.execute(_claim_statement(db.engine.dialect.name), params).scalar()
    db.session.commit()
    return taken


def finish_slice(owner: str, now: datetime, *, slices: int, number: int) -> None:
    """Mark a slice planned and let go of its lease, if this process still holds it. Commits."""
    db.session.execute(
        update(PlanSlice)
        .where(PlanSlice.slices == slices, PlanSlice.slice == number, PlanSlice.lease_owner == owner)
        .values(planned_at=now, planned_by=owner, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def plan_share(
    owner: str, now_fn: Callable[[], datetime], *, slices: int, fresh_seconds: float, lease_seconds: float
) -> Share:
    """Plan every slice that is due and free, one at a time, until none is left; return what was done."""
    ensure_slices(slices)
    db.session.commit()
    done = changed = 0
    while True:
        number = claim_slice(owner, now_fn(), slices=slices, fresh_seconds=fresh_seconds, lease_seconds=lease_seconds)
        if number is None:
            return Share(done, changed)
        changed += plan(now_fn(), part=(number, slices))
        finish_slice(owner, now_fn(), slices=slices, number=number)
        done += 1
