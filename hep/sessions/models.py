"""Needling sessions (appointments) and the secret calendar feed of a patient."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hep.accounts.models import User
from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db

SCHEDULED, COMPLETED, CANCELLED, NO_SHOW = "scheduled", "completed", "cancelled", "no_show"
STATUSES = (SCHEDULED, COMPLETED, CANCELLED, NO_SHOW)


class NeedlingSession(db.Model):
    __tablename__ = "needling_sessions"
    __table_args__ = (
        Index("ix_needling_sessions_patient_starts", "patient_id", "starts_at"),
        Index("ix_needling_sessions_physio_starts", "physiotherapist_id", "starts_at"),
        # A patient is in one scheduled session at a given start: makes a concurrently retried booking a no-op.
        Index(
            "uq_needling_sessions_scheduled_start",
            "patient_id",
            "starts_at",
            unique=True,
            sqlite_where=text("status = 'scheduled'"),
            postgresql_where=text("status = 'scheduled'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    physiotherapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(12), default=SCHEDULED)
    notes: Mapped[str | None] = mapped_column(Text)  # clinical notes: staff only, never shown to the patient
    patient_note: Mapped[str | None] = mapped_column(Text)  # a note for the patient ("bring shorts")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Bumped on every change, so calendar clients see reschedules (iCalendar SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)

    physiotherapist: Mapped[User] = relationship(foreign_keys=[physiotherapist_id], lazy="joined")

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


class CalendarFeed(db.Model):
    """The secret that opens a patient's calendar feed, stored only as its SHA-256."""

    __tablename__ = "calendar_feeds"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
