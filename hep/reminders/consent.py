"""Consent to be texted: record it (when, how, by whom), lose it (STOP, provider errors), regain it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hep import signals
from hep.accounts.models import Patient, User
from hep.accounts.service import get_patient
from hep.audit import service as audit
from hep.dbtypes import insert_new
from hep.errors import Invalid
from hep.extensions import db
from hep.reminders import policy
from hep.reminders.facts import rules_for
from hep.reminders.models import ConsentEvent, Reminder, SmsContact
from hep.reminders.moves import move
from hep.reminders.states import ContactStatus, Kind, Status

METHODS = ("verbal", "written", "app")  # how a patient gives consent
# How any recorded change came about: as given, by staff, by a STOP or START text, or by a provider's error.
EVENT_METHODS = (*METHODS, "staff", "sms-keyword", "provider-error")
EVENTS = ("granted", "opted_out", "opted_in", "unusable", "phone_changed")


def grant(actor: User, patient_id: int, method: str, *, now: datetime) -> SmsContact:
    """Record consent to reminder texts at the patient's mobile number, and queue one confirmation text.

    Recording it again while it stands changes nothing and sends nothing.
    """
    patient = get_patient(actor, patient_id)
    phone = patient.user.phone
    if not phone:
        raise Invalid("phone", "the patient has no mobile number")
    # Claim the contact row, then lock it: a concurrent grant for the same patient waits here, then
    # finds the consent standing and changes nothing (one event, one confirmation text).
    insert_new(
        SmsContact,
        {"patient_id": patient_id, "phone": phone, "status": ContactStatus.NO_CONSENT, "updated_at": now},
        keys=["patient_id"],
    )
    contact = db.session.get(SmsContact, patient_id, with_for_update=True, populate_existing=True)
    if contact.status == ContactStatus.ACTIVE and contact.phone == phone:
        audit.read(actor, "sms_consent", now=now, patient_id=patient_id)  # a retry: it reads what stands
        return contact
    contact.phone, contact.status, contact.updated_at = phone, ContactStatus.ACTIVE, now
    db.session.add(
        ConsentEvent(
            patient_id=patient_id, at=now, event="granted", method=method, phone=phone, recorded_by_id=actor.id
        )
    )
    _confirmation(patient_id, patient.user.clinic_id, now)
    audit.record(actor, audit.UPDATE, "sms_consent", now=now, patient_id=patient_id)
    db.session.commit()
    signals.consent_changed.send(patient_id=patient_id, now=now)
    return contact


def _confirmation(patient_id: int, clinic_id: int, now: datetime) -> None:
    """Queue the one confirmation text, inside today's (or the next day's) allowed window."""
    rules = rules_for(clinic_id)
    zone = ZoneInfo(db.session.get(Patient, patient_id).timezone)
    day = now.astimezone(zone).date()
    start, end = policy.window(day, rules, zone)
    if now >= end:
        day += timedelta(days=1)
        start, end = policy.window(day, rules, zone)
    due = max(now, start)
    count = db.session.scalar(
        select(func.count())
        .select_from(ConsentEvent)
        .where(ConsentEvent.patient_id == patient_id, ConsentEvent.event == "granted")
    )
    db.session.add(
        Reminder(
            patient_id=patient_id,
            clinic_id=clinic_id,
            kind=Kind.CONSENT,
            slot=f"consent-{count}",
            local_date=day,
            due_at=due,
            next_attempt_at=due,
            window_end_at=end,
            status=Status.PLANNED,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )


def revoke(actor: User, patient_id: int, *, now: datetime) -> SmsContact | None:
    """Staff or the patient withdraw consent; planned texts stop."""
    patient = get_patient(actor, patient_id)
    contact = db.session.get(SmsContact, patient_id)
    if contact is not None and contact.status == ContactStatus.ACTIVE:
        _set(
            contact,
            ContactStatus.OPTED_OUT,
            now,
            method="app" if actor.id == patient.user_id else "staff",
            recorded_by=actor.id,
            event="opted_out",
        )
        audit.record(actor, audit.UPDATE, "sms_consent", now=now, patient_id=patient_id)
        db.session.commit()
        signals.consent_changed.send(patient_id=patient_id, now=now)
    return contact


def lose(
    patient_id: int, phone: str | None, *, opted_out: bool, now: datetime, detail: str, method: str = "provider-error"
) -> None:
    """Stop texting a number: it opted out (STOP, 21610) or cannot receive texts (21211, 21614...)."""
    contact = db.session.get(SmsContact, patient_id)
    if contact is None or (phone and contact.phone != phone):
        return
    _set(
        contact,
        ContactStatus.OPTED_OUT if opted_out else ContactStatus.UNUSABLE,
        now,
        method=method,
        detail=detail,
        event="opted_out" if opted_out else "unusable",
    )
    _system_change(patient_id, now)
    db.session.commit()
    signals.consent_changed.send(patient_id=patient_id, now=now)


def opt_in(patient_id: int, *, now: datetime) -> bool:
    """START/YES/UNSTOP: texts resume, but only for a patient who had consented before."""
    contact = db.session.get(SmsContact, patient_id)
    if contact is None or contact.status != ContactStatus.OPTED_OUT:
        return False
    _set(contact, ContactStatus.ACTIVE, now, method="sms-keyword", event="opted_in")
    _system_change(patient_id, now)
    db.session.commit()
    signals.consent_changed.send(patient_id=patient_id, now=now)
    return True


def _system_change(patient_id: int, now: datetime) -> None:
    """Audit a consent change no one signed in made (a STOP or START text, a provider's error)."""
    clinic_id = db.session.scalar(db.select(User.clinic_id).where(User.id == patient_id))
    audit.record(None, audit.UPDATE, "sms_consent", now=now, patient_id=patient_id, clinic_id=clinic_id)


def _set(
    contact: SmsContact,
    status: str,
    now: datetime,
    *,
    method: str,
    event: str,
    detail: str | None = None,
    recorded_by: int | None = None,
) -> None:
    contact.status, contact.updated_at = status, now
    db.session.add(
        ConsentEvent(
            patient_id=contact.patient_id,
            at=now,
            event=event,
            method=method,
            phone=contact.phone,
            recorded_by_id=recorded_by,
            detail=detail,
        )
    )
    if status != ContactStatus.ACTIVE:
        move(
            Status.PLANNED,
            Status.WITHDRAWN,
            Reminder.patient_id == contact.patient_id,
            now=now,
            reason=f"texts stopped: {event}",
        )


def follow_phone(patient_id: int, *, now: datetime) -> None:
    """Consent was given for a number: after the patient's number changed, it must be recorded again."""
    contact = db.session.get(SmsContact, patient_id)
    if contact is None or contact.status == ContactStatus.NO_CONSENT:
        return
    if contact.phone == db.session.get(User, patient_id).phone:
        return
    _set(
        contact,
        ContactStatus.NO_CONSENT,
        now,
        method="staff",
        event="phone_changed",
        detail="the mobile number changed; consent must be recorded again",
    )
    db.session.commit()
