"""Consent to be texted: record it (when, how, by whom), lose it (STOP, provider errors), regain it."""

from __future__ import annotations

from datetime import datetime, timedelta

from hep.accounts.models import User
from hep.accounts.service import get_patient
from hep.audit import service as audit
from hep.dbtypes import insert_new
from hep.errors import Invalid
from hep.extensions import db
from hep.reminders.models import (
    ACTIVE,
    CONSENT_CONFIRMATION,
    NO_CONSENT,
    OPTED_OUT,
    PLANNED,
    UNUSABLE,
    ConsentEvent,
    Reminder,
    SmsContact,
)

METHODS = ("verbal", "written", "app")


def contact_for(patient_id: int) -> SmsContact | None:
    return db.session.get(SmsContact, patient_id)


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
        {"patient_id": patient_id, "phone": phone, "status": NO_CONSENT, "updated_at": now},
        keys=["patient_id"],
    )
    contact = db.session.get(SmsContact, patient_id, with_for_update=True, populate_existing=True)
    if contact.status == ACTIVE and contact.phone == phone:
        audit.read(actor, "sms_consent", now=now, patient_id=patient_id)  # a retry: it reads what stands
        return contact
    contact.phone, contact.status, contact.updated_at = phone, ACTIVE, now
    db.session.add(
        ConsentEvent(
            patient_id=patient_id, at=now, event="granted", method=method, phone=phone, recorded_by_id=actor.id
        )
    )
    _confirmation(patient_id, patient.user.clinic_id, now)
    audit.record(actor, audit.UPDATE, "sms_consent", now=now, patient_id=patient_id)
    db.session.commit()
    return contact


def _confirmation(patient_id: int, clinic_id: int, now: datetime) -> None:
    """Queue the one confirmation text, inside today's (or the next day's) allowed window."""
    from zoneinfo import ZoneInfo

    from hep.accounts.models import Patient
    from hep.reminders.planner import local_moment, settings_for

    settings = settings_for(clinic_id)
    zone = ZoneInfo(db.session.get(Patient, patient_id).timezone)
    day = now.astimezone(zone).date()
    end = local_moment(day, settings.window_end, zone)
    if now >= end:
        day += timedelta(days=1)
        end = local_moment(day, settings.window_end, zone)
    due = max(now, local_moment(day, settings.window_start, zone))
    count = db.session.scalar(
        db.select(db.func.count())
        .select_from(ConsentEvent)
        .where(ConsentEvent.patient_id == patient_id, ConsentEvent.event == "granted")
    )
    db.session.add(
        Reminder(
            patient_id=patient_id,
            clinic_id=clinic_id,
            kind=CONSENT_CONFIRMATION,
            slot=f"consent-{count}",
            local_date=day,
            due_at=due,
            next_attempt_at=due,
            window_end_at=end,
            status=PLANNED,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )


def revoke(actor: User, patient_id: int, *, now: datetime) -> SmsContact | None:
    """Staff or the patient withdraw consent; planned texts stop."""
    patient = get_patient(actor, patient_id)
    contact = db.session.get(SmsContact, patient_id)
    if contact is not None and contact.status == ACTIVE:
        _set(
            contact,
            OPTED_OUT,
            now,
            method="app" if actor.id == patient.user_id else "staff",
            recorded_by=actor.id,
            event="opted_out",
        )
        audit.record(actor, audit.UPDATE, "sms_consent", now=now, patient_id=patient_id)
        db.session.commit()
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
        OPTED_OUT if opted_out else UNUSABLE,
        now,
        method=method,
        detail=detail,
        event="opted_out" if opted_out else "unusable",
    )
    _system_change(patient_id, now)
    db.session.commit()


def opt_in(patient_id: int, *, now: datetime) -> bool:
    """START/YES/UNSTOP: texts resume, but only for a patient who had consented before."""
    contact = db.session.get(SmsContact, patient_id)
    if contact is None or contact.status != OPTED_OUT:
        return False
    _set(contact, ACTIVE, now, method="sms-keyword", event="opted_in")
    _system_change(patient_id, now)
    db.session.commit()
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
    if status != ACTIVE:
        db.session.execute(
            db.update(Reminder)
            .where(Reminder.patient_id == contact.patient_id, Reminder.status == PLANNED)
            .values(status="withdrawn", reason=f"texts stopped: {event}", updated_at=now)
        )


def phone_changed(patient_id: int, new_phone: str | None, *, now: datetime) -> None:
    """Consent was given for a number: a new number needs consent again. Caller commits."""
    contact = db.session.get(SmsContact, patient_id)
    if contact is not None and contact.phone != new_phone and contact.status != NO_CONSENT:
        _set(
            contact,
            NO_CONSENT,
            now,
            method="staff",
            event="phone_changed",
            detail="the mobile number changed; consent must be recorded again",
        )
