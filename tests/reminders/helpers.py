"""Small helpers shared by the reminder tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hep.extensions import db
from hep.reminders.models import Reminder
from hep.reminders.planner import plan

SID, TOKEN, FROM = "AC" + "1" * 32, "test-auth-token", "+15005550006"
INBOUND = "http://localhost/webhooks/twilio/inbound"


def rows(patient, kind="exercise") -> list[Reminder]:
    return db.session.scalars(
        sa.select(Reminder).where(Reminder.patient_id == patient.id, Reminder.kind == kind).order_by(Reminder.due_at)
    ).all()


def local(tz: str, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def due_now(patient, when=datetime(2026, 11, 23, 18, 0, tzinfo=UTC)):
    """Plan ten hours ahead of `when` (18:00 UTC by default) and return `when`."""
    plan(when - timedelta(hours=10))
    return when


def texts(fake) -> list[dict]:
    """The messages HEP sent through the fake (not the simulated inbound ones)."""
    return [m for m in fake.messages if m.get("direction") != "inbound"]
