"""The one way a reminder's status changes: a compare-and-set UPDATE checked against states.MOVES."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, Update, update

from hep.extensions import db
from hep.reminders.models import Reminder
from hep.reminders.states import Status, check


def move_statement(sources: Status | Iterable[Status], to: Status, *where: ColumnElement, **values) -> Update:
    """An UPDATE moving the matching reminders still in `sources` to `to` (values may be bind parameters)."""
    sources = check([sources] if isinstance(sources, Status) else sources, to)
    return (
        update(Reminder)
        # One source is an `=`, not an IN: an expanding IN cannot run as an executemany.
        .where(Reminder.status == next(iter(sources)) if len(sources) == 1 else Reminder.status.in_(sorted(sources)))
        .where(*where)
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )


def move(sources: Status | Iterable[Status], to: Status, *where: ColumnElement, now: datetime, **values) -> int:
    """Move the matching reminders still in `sources` to `to`; return how many moved. The caller commits."""
    statement = move_statement(sources, to, *where, updated_at=now, **values)
    return db.session.execute(statement).rowcount
