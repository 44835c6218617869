"""SMS reminders: who may be texted (consent), clinic rules, the reminder rows the engine works through."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db
from hep.reminders.policy import Rules
from hep.reminders.states import ContactStatus, Status

_DEFAULT = Rules()


class ReminderSettings(db.Model):
    """A clinic's reminder rules; a clinic without a row uses the defaults of policy.Rules."""

    __tablename__ = "reminder_settings"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    window_start: Mapped[str] = mapped_column(String(5), default=_DEFAULT.window_start)
    window_end: Mapped[str] = mapped_column(String(5), default=_DEFAULT.window_end)
    exercise_times: Mapped[list] = mapped_column(JSON, default=lambda: list(_DEFAULT.exercise_times))
    max_per_day: Mapped[int] = mapped_column(Integer, default=_DEFAULT.max_per_day)
    max_per_week: Mapped[int] = mapped_column(Integer, default=_DEFAULT.max_per_week)
    pre_session_hours: Mapped[int] = mapped_column(Integer, default=_DEFAULT.pre_session_hours)
    needling_day: Mapped[str] = mapped_column(String(10), default=_DEFAULT.needling_day)  # skip | gentle


class SmsContact(db.Model):
    """Whether a patient may be texted, at which number, and why not when not."""

    __tablename__ = "sms_contacts"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(12), default=ContactStatus.NO_CONSENT)
    exercise_times: Mapped[list | None] = mapped_column(JSON)  # the patient's own local times; None: clinic's
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConsentEvent(db.Model):
    """Append-only record of consent given, withdrawn or lost: when, how and by whom."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    event: Mapped[str] = mapped_column(String(20))  # granted | opted_out | opted_in | unusable
    method: Mapped[str] = mapped_column(String(20))  # verbal | written | app | sms-keyword | provider-error
    phone: Mapped[str] = mapped_column(String(20))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str | None] = mapped_column(Text)


class Reminder(db.Model):
    """One reminder to send (a text or a push), planned ahead: unique per patient, kind and local slot."""

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("patient_id", "kind", "slot"),
        Index("ix_reminders_due", "status", "next_attempt_at"),
        Index("ix_reminders_clinic_created", "clinic_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.user_id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(20))
    slot: Mapped[str] = mapped_column(String(40))  # e.g. "2026-11-23T18:00" (local) or "session-12"
    local_date: Mapped[date] = mapped_column(Date)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("needling_sessions.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default=Status.PLANNED)  # a states.Status
    reason: Mapped[str | None] = mapped_column(String(120))  # why skipped, withdrawn, missed or failed
    # The channel of the current attempt (sms | push), chosen at send time from the patient's choice.
    channel: Mapped[str] = mapped_column(String(8), default="sms", server_default="sms")
    to_phone: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Provider lookups of the current attempt that found nothing (reconcile looks twice before resending).
    lookups: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class InboundMessage(db.Model):
    """A text a patient sent us; the provider's id makes a re-delivered webhook harmless."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.user_id"))
    body: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(20))
    reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Heartbeat(db.Model):
    """The last time each scheduler process ran its dispatch tick."""

    __tablename__ = "scheduler_heartbeats"

    owner: Mapped[str] = mapped_column(String(80), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlanSlice(db.Model):
    """One slice of the patients (user_id modulo `slices`) for the periodic plan: which scheduler process
    is planning it now (under a lease) and when it was last planned, so several processes share a plan
    run instead of each repeating all of it."""

    __tablename__ = "plan_slices"

    slices: Mapped[int] = mapped_column(Integer, primary_key=True)  # how many the patients are cut into
    slice: Mapped[int] = mapped_column(Integer, primary_key=True)  # this one: user_id % slices
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    planned_by: Mapped[str | None] = mapped_column(String(80))


class EarlyStatus(db.Model):
    """A delivery report that arrived before its reminder's SID was recorded (the provider can call back
    while the dispatcher is still waiting for the same call to return); applied once the SID is known."""

    __tablename__ = "early_provider_statuses"

    provider_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageTemplate(db.Model):
    """A clinic's own wording for one kind of text in one language."""

    __tablename__ = "message_templates"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
