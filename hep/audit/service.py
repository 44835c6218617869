"""Recording and listing audit events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hep.audit.models import AuditEvent
from hep.extensions import db

READ, CREATE, UPDATE, DELETE = "read", "create", "update", "delete"


def record(
    actor,
    action: str,
    resource: str,
    *,
    now: datetime,
    patient_id: int | None = None,
    resource_id: object = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits with the change it describes)."""
    event = AuditEvent(
        at=now,
        clinic_id=actor.clinic_id,
        actor_id=actor.id,
        patient_id=patient_id,
        action=action,
        resource=resource,
        resource_id=None if resource_id is None else str(resource_id),
    )
    db.session.add(event)
    return event


def events_query(clinic_id: int, *, patient_id: int | None = None, actor_id: int | None = None):
    """Select a clinic's audit events, newest first, optionally for one patient or actor."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    return query
