"""Clinics, users (staff and patients), activation codes and auth tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from hep.dbtypes import UTCDateTime, utcnow
from hep.extensions import db

PHYSIOTHERAPIST = "physiotherapist"
CLINIC_ADMIN = "clinic_admin"
PATIENT = "patient"
STAFF_ROLES = (PHYSIOTHERAPIST, CLINIC_ADMIN)
ROLES = (*STAFF_ROLES, PATIENT)
# How reminders reach a patient: texts, or push notifications (texts stay the fallback; see hep/push).
SMS, PUSH = "sms", "push"
REMINDER_CHANNELS = (SMS, PUSH)


class Clinic(db.Model):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # What calendar events say (the feed leaves the clinic's name out); None: "Appointment".
    calendar_label: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Risk thresholds for the physiotherapist's at-risk list (see README, "Adherence").
    risk_inactive_days: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    risk_adherence_drop: Mapped[int] = mapped_column(Integer, default=20, server_default="20")
    risk_pain_rise: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    risk_pain_after: Mapped[int] = mapped_column(Integer, default=7, server_default="7")
    # The pain rule patients are given (hep/library/safety.py): pain up to this (0-10) is acceptable
    # during exercise if it settles by the next morning.
    pain_rule_max: Mapped[int] = mapped_column(Integer, default=5, server_default="5")


class User(db.Model):
    """Anyone who can sign in: a physiotherapist, a clinic admin or a patient.

    E-mail and phone are unique within a clinic, not across the server: each clinic's accounts are its
    own, so nothing one clinic does (an invitation) can tell it who is registered at another.
    """

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("clinic_id", "email"), UniqueConstraint("clinic_id", "phone"))

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    # Stored lowercased; a login name, unique in the clinic.
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    # E.164, normalised with phonenumbers; a login name, unique in the clinic.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    clinic: Mapped[Clinic] = relationship(lazy="joined")
    patient: Mapped[Patient | None] = relationship(back_populates="user", foreign_keys="Patient.user_id", uselist=False)

    @validates("email")
    def _lowercase_email(self, _key, value: str | None) -> str | None:
        return value.strip().lower() if value else None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class Patient(db.Model):
    """The patient side of a User: shares its id."""

    __tablename__ = "patients"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    physiotherapist_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16), default="en")
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminder_channel: Mapped[str] = mapped_column(String(8), default=SMS, server_default=SMS)

    user: Mapped[User] = relationship(back_populates="patient", foreign_keys=[user_id], lazy="joined")
    physiotherapist: Mapped[User] = relationship(foreign_keys=[physiotherapist_id])


class ActivationCode(db.Model):
    """A one-time code that lets an invited patient choose a password."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TokenFamily(db.Model):
    """One sign-in: every access and refresh token descended from one login share it."""

    __tablename__ = "token_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class AuthToken(db.Model):
    """An opaque bearer token, stored only as its SHA-256."""

    __tablename__ = "auth_tokens"
    __table_args__ = (Index("ix_auth_tokens_family_kind", "family_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("token_families.id"))
    kind: Mapped[str] = mapped_column(String(10))  # access | refresh
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    family: Mapped[TokenFamily] = relationship(lazy="joined")
