"""Reminder settings, preferences and history for the API."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, func, select

from hep import signals
from hep.accounts.models import CLINIC_ADMIN, User
from hep.accounts.service import get_patient
from hep.audit import service as audit
from hep.dbtypes import insert_new, upsert
from hep.errors import Forbidden, Invalid
from hep.extensions import db
from hep.reminders import messages, policy
from hep.reminders.models import ConsentEvent, MessageTemplate, Reminder, ReminderSettings, SmsContact


def sms_status(actor: User, patient_id: int) -> dict:
    """A patient's text status and their consent history."""
    get_patient(actor, patient_id)
    contact = db.session.get(SmsContact, patient_id)
    events = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.patient_id == patient_id).order_by(ConsentEvent.id)
    ).all()
    return {
        "status": contact.status if contact else "no_consent",
        "phone": contact.phone if contact else None,
        "exercise_times": contact.exercise_times if contact else None,
        "events": events,
    }


def set_times(actor: User, patient_id: int, times: list[str] | None, *, now: datetime) -> dict:
    """Set the patient's own reminder times (local HH:MM), or None for the clinic's."""
    get_patient(actor, patient_id)
    contact = db.session.get(SmsContact, patient_id)
    if contact is None:
        raise Invalid("exercise_times", "record consent to texts first")
    contact.exercise_times = sorted(set(times)) if times else None
    contact.updated_at = now
    audit.record(actor, audit.UPDATE, "sms_times", now=now, patient_id=patient_id)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)
    return sms_status(actor, patient_id)


def history(actor: User, patient_id: int) -> Select:
    """A patient's reminders, for paging."""
    get_patient(actor, patient_id)
    return select(Reminder).where(Reminder.patient_id == patient_id)


def summary(actor: User, *, now: datetime, days: int = 30) -> dict:
    """Counts of the clinic's reminders by status over the last `days` days."""
    since = now - timedelta(days=days)
    rows = db.session.execute(
        select(Reminder.status, func.count())
        .where(Reminder.clinic_id == actor.clinic_id, Reminder.created_at >= since)
        .group_by(Reminder.status)
    ).all()
    return {"since": since, "counts": dict(rows)}


def get_settings(actor: User) -> ReminderSettings:
    """The clinic's reminder rules (a row with the defaults when it never set any)."""
    return db.session.get(ReminderSettings, actor.clinic_id) or _default_settings(actor.clinic_id)


def _default_settings(clinic_id: int) -> ReminderSettings:
    rules = asdict(policy.Rules())
    return ReminderSettings(clinic_id=clinic_id, **{**rules, "exercise_times": list(rules["exercise_times"])})


def update_settings(actor: User, changes: dict, *, now: datetime) -> ReminderSettings:
    """Change the clinic's reminder rules (clinic admins); its patients' reminders are re-planned."""
    if actor.role != CLINIC_ADMIN:
        raise Forbidden("Only a clinic admin may change reminder rules.")
    defaults = _default_settings(actor.clinic_id)  # a clinic's first change starts from the defaults
    columns = [c.key for c in ReminderSettings.__table__.columns]
    insert_new(ReminderSettings, {name: getattr(defaults, name) for name in columns}, keys=["clinic_id"])
    row = db.session.get(ReminderSettings, actor.clinic_id, with_for_update=True, populate_existing=True)
    for key, value in changes.items():
        setattr(row, key, value)
    if row.window_start >= row.window_end:
        raise Invalid("window_end", "must be after window_start")
    db.session.commit()
    if changes:
        signals.clinic_rules_changed.send(clinic_id=actor.clinic_id, now=now)
    return row


def list_templates(actor: User) -> list[dict]:
    """Every kind of text in every language we have, with the clinic's own wording where set."""
    own = {
        (t.kind, t.language): t.body
        for t in db.session.scalars(select(MessageTemplate).where(MessageTemplate.clinic_id == actor.clinic_id))
    }
    languages = sorted({lang for texts in messages.DEFAULTS.values() for lang in texts} | {k[1] for k in own})
    return [
        {
            "kind": kind,
            "language": lang,
            "body": own.get((kind, lang)) or messages.DEFAULTS[kind].get(lang),
            "custom": (kind, lang) in own,
        }
        for kind in messages.KINDS
        for lang in languages
        if own.get((kind, lang)) or lang in messages.DEFAULTS[kind]
    ]


def set_template(actor: User, kind: str, language: str, body: str | None) -> dict:
    """Set (or, with None, reset) the clinic's wording for one kind and language, if it may be sent."""
    if actor.role != CLINIC_ADMIN:
        raise Forbidden("Only a clinic admin may change the texts.")
    if body is None:
        # A statement, not an ORM delete: a concurrent reset of the same text finds nothing and is fine.
        db.session.execute(
            delete(MessageTemplate).where(
                MessageTemplate.clinic_id == actor.clinic_id,
                MessageTemplate.kind == kind,
                MessageTemplate.language == language,
            )
        )
        db.session.commit()
        return {
            "kind": kind,
            "language": language,
            "body": messages.template(actor.clinic_id, kind, language),
            "custom": False,
        }
    clinic = actor.clinic
    rendered = messages.render(body, clinic=clinic.name, contact=clinic.contact_phone or "", when="Tue 24 Nov 09:30")
    found = messages.problems(body, rendered)
    if found:
        raise Invalid("body", "; ".join(found))
    if "{clinic}" not in body:
        raise Invalid("body", "must name the clinic with {clinic}")
    # An upsert, so two first-time saves of one text cannot collide: the last one wins.
    values = {"clinic_id": actor.clinic_id, "kind": kind, "language": language, "body": body}
    upsert(MessageTemplate, values, keys=["clinic_id", "kind", "language"])
    db.session.commit()
    return {"kind": kind, "language": language, "body": body, "custom": True}
