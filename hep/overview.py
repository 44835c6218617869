"""One patient's overview for staff (the web app's patient page): every read it makes, each recorded in
the audit log, in one transaction. It sits above the areas it reads from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hep.accounts.models import Patient, User
from hep.accounts.service import get_patient
from hep.adherence import metrics
from hep.adherence.models import AdherenceLog
from hep.adherence.reads import recent_logs
from hep.audit import service as audit
from hep.extensions import db
from hep.programs import service as programs
from hep.programs.models import Routine
from hep.reminders import service as reminders
from hep.reminders.models import Reminder
from hep.sessions import service as sessions
from hep.sessions.models import NeedlingSession


@dataclass(frozen=True)
class Overview:
    patient: Patient
    routines: list[Routine]  # newest first, archived ones too
    today: date  # in the patient's time zone
    view: dict  # adherence and pain per day over the last `days` days (metrics.patient_view)
    recent: list[AdherenceLog]
    sessions: list[NeedlingSession]  # those starting in the last `days` days or later, by start
    sms: dict
    history: list[Reminder]  # the latest reminders, newest first


def patient_overview(
    actor: User, patient_id: int, *, days: int, now: datetime, recent: int = 15, reminders_shown: int = 20
) -> Overview:
    """Everything the patient page shows about one patient, the reads audited and committed once."""
    patient = get_patient(actor, patient_id)
    audit.record(actor, audit.READ, "patient", now=now, patient_id=patient_id, resource_id=patient_id)
    routines = programs.patient_routines(actor, patient_id, now=now)
    active = sorted((r for r in routines if r.archived_at is None), key=lambda r: r.id)
    today = programs.local_today(patient, now)
    view = metrics.patient_view(patient_id, active, today=today, days=days)
    audit.record(actor, audit.READ, "adherence", now=now, patient_id=patient_id)
    latest = recent_logs(actor, patient_id, limit=recent, now=now)
    query = sessions.patient_sessions(actor, patient_id).where(NeedlingSession.starts_at >= now - timedelta(days=days))
    found = list(db.session.scalars(query.order_by(NeedlingSession.starts_at, NeedlingSession.id)))
    sms = reminders.sms_status(actor, patient_id)
    history = reminders.history(actor, patient_id).order_by(Reminder.id.desc()).limit(reminders_shown)
    shown = list(db.session.scalars(history))
    db.session.commit()
    return Overview(patient, routines, today, view, latest, found, sms, shown)
