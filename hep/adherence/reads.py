"""What staff and patients read about adherence: each read is recorded in the audit log and committed once here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from hep.accounts.models import User
from hep.accounts.service import get_patient
from hep.adherence import metrics, report, risk
from hep.adherence.models import AdherenceLog
from hep.adherence.service import logs_query
from hep.audit import service as audit
from hep.extensions import db
from hep.pagination import paginate
from hep.programs.service import local_today, routines_for


def log_page(
    actor: User,
    patient_id: int,
    *,
    date_from: date | None,
    date_to: date | None,
    cursor: str | None,
    limit: int | None,
    now: datetime,
) -> dict:
    """One page of a patient's log entries, newest first."""
    query = logs_query(actor, patient_id, date_from=date_from, date_to=date_to)
    items, next_cursor = paginate(
        query,
        [AdherenceLog.performed_at, AdherenceLog.id],
        cursor=cursor,
        limit=limit,
        descending=True,
        cursor_values=lambda log: (log.performed_at, str(log.id)),
    )
    audit.record(actor, audit.READ, "logs", now=now, patient_id=patient_id)
    db.session.commit()
    return {"items": items, "next_cursor": next_cursor}


def recent_logs(actor: User, patient_id: int, *, limit: int, now: datetime) -> list[AdherenceLog]:
    """A patient's latest entries (the caller commits: a page that reads more than this)."""
    query = logs_query(actor, patient_id).order_by(AdherenceLog.performed_at.desc(), AdherenceLog.id).limit(limit)
    found = list(db.session.scalars(query))
    audit.record(actor, audit.READ, "logs", now=now, patient_id=patient_id)
    return found


def export_logs(actor: User, patient_id: int, *, now: datetime) -> Iterator[AdherenceLog]:
    """Every entry of a patient, oldest first, read in chunks as they are streamed; the read is committed first."""
    query = logs_query(actor, patient_id).order_by(AdherenceLog.performed_at, AdherenceLog.id)
    audit.record(actor, audit.READ, "logs_export", now=now, patient_id=patient_id)
    db.session.commit()

    def rows() -> Iterator[AdherenceLog]:
        yield from db.session.scalars(query.execution_options(yield_per=500))

    return rows()


def patient_adherence(actor: User, patient_id: int, *, days: int, now: datetime) -> dict:
    """Daily and weekly adherence, streak, pain trends and last activity of a patient."""
    patient = get_patient(actor, patient_id)
    view = metrics.patient_view(
        patient_id, routines_for([patient_id])[patient_id], today=local_today(patient, now), days=days
    )
    audit.record(actor, audit.READ, "adherence", now=now, patient_id=patient_id)
    db.session.commit()
    return view


def risk_list(actor: User, physiotherapist_id: int | None, *, now: datetime) -> list[dict]:
    """A physiotherapist's patients, the most at risk first, with the reasons."""
    rows = risk.risk_list(actor, physiotherapist_id, now=now)
    audit.record(actor, audit.READ, "risk_list", now=now)
    db.session.commit()
    return rows


def clinic_report(actor: User, *, days: int, physiotherapist_id: int | None, now: datetime) -> dict:
    """The clinic's adherence and pain over the last `days` whole days."""
    result = report.clinic_report(actor, days=days, physiotherapist_id=physiotherapist_id, now=now)
    audit.record(actor, audit.READ, "adherence_report", now=now)
    db.session.commit()
    return result
