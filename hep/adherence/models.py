"""Adherence logs: what a patient did, next to what was prescribed; pain scores texted in."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db

SOURCES = ("app", "sms")  # where a log came from: the app, or a DONE texted in


class AdherenceLog(db.Model):
    """One performance of a routine item, keyed by the UUID the app generated for it."""

    __tablename__ = "adherence_logs"
    __table_args__ = (
        Index("ix_adherence_logs_patient_day", "patient_id", "local_date"),
        Index("ix_adherence_logs_patient_performed", "patient_id", "performed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    routine_id: Mapped[int] = mapped_column(ForeignKey("routines.id"))
    routine_item_id: Mapped[int] = mapped_column(ForeignKey("routine_items.id"))
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercises.id"))
    side: Mapped[str] = mapped_column(String(5))
    prescribed: Mapped[dict] = mapped_column(JSON)
    performed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    utc_offset_minutes: Mapped[int] = mapped_column(Integer)
    # The calendar day the patient did it on, by the clock they did it by.
    local_date: Mapped[date] = mapped_column(Date)
    sets_done: Mapped[int] = mapped_column(Integer)
    reps_done: Mapped[int | None] = mapped_column(Integer)
    hold_seconds_done: Mapped[int | None] = mapped_column(Integer)
    pain_before: Mapped[int | None] = mapped_column(Integer)
    pain_after: Mapped[int | None] = mapped_column(Integer)
    difficulty: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    # Share of one prescribed occurrence this entry completes: min(1, sets_done / sets prescribed).
    credit: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(10), default="app")
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PainReport(db.Model):
    """A day's pain (0-10) as the patient texted it (a reply to a reminder; hep/reminders/inbound.py)."""

    __tablename__ = "pain_reports"
    __table_args__ = (Index("ix_pain_reports_patient_day", "patient_id", "local_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    local_date: Mapped[date] = mapped_column(Date)
    score: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10), default="sms")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdherenceDay(db.Model):
    """One patient-day's tally, kept for the risk list and the clinic report (hep/adherence/summaries.py).

    What was due comes from the routine versions the row was worked out with (`plan_key`, their fingerprint);
    what was done from the day's logs and texted pain. Every write of those marks the row stale (`gen` bumped),
    so a reader that worked it out from older logs cannot store it as fresh.
    """

    __tablename__ = "adherence_days"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    gen: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every write to the day's logs or pain
    stale: Mapped[bool] = mapped_column(Boolean, default=True)
    plan_key: Mapped[str] = mapped_column(String(16), default="")
    fixed_due: Mapped[float] = mapped_column(Float, default=0.0)
    fixed_done: Mapped[float] = mapped_column(Float, default=0.0)
    # JSON list of [exercise id, side, share of the week's times, done up to the day's times] per flexible item.
    flexible: Mapped[str] = mapped_column(Text, default="")
    entries: Mapped[int] = mapped_column(Integer, default=0)
    pain_before_sum: Mapped[float] = mapped_column(Float, default=0.0)
    pain_before_n: Mapped[int] = mapped_column(Integer, default=0)
    pain_after_sum: Mapped[float] = mapped_column(Float, default=0.0)
    pain_after_n: Mapped[int] = mapped_column(Integer, default=0)
    pain_texted_sum: Mapped[float] = mapped_column(Float, default=0.0)
    pain_texted_n: Mapped[int] = mapped_column(Integer, default=0)
