"""Recording and listing audit events."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Insert, insert, select

from hep.audit.models import AuditEvent
from hep.extensions import db

READ, CREATE, UPDATE, DELETE, REFUSED = "read", "create", "update", "delete", "refused"
ACTIONS = (READ, CREATE, UPDATE, DELETE, REFUSED)


def record(
    actor,
    action: str,
    resource: str,
    *,
    now: datetime,
    patient_id: int | None = None,
    resource_id: object = None,
    clinic_id: int | None = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits with the change it describes).

    `actor` is None when no one signed in did it (a calendar app with the feed's secret, a text
    message, the provider); `clinic_id` then says whose log it goes in.
    """
    event = AuditEvent(
        at=now,
        clinic_id=clinic_id if clinic_id is not None else actor.clinic_id,
        actor_id=actor.id if actor is not None else None,
        patient_id=patient_id,
        action=action,
        resource=resource,
        resource_id=None if resource_id is None else str(resource_id),
    )
    db.session.add(event)
    return event


@cache
def _read_statement() -> Insert:
    return insert(AuditEvent.__table__)


def read(actor, resource: str, *, now: datetime, patient_id: int | None = None, resource_id: object = None) -> None:
    """Record a read of patient data and commit it (for views that only read)."""
    # A plain INSERT, not an ORM object: reads are the hottest paths, and nothing needs the new row's id.
    db.session.execute(
        _read_statement(),
        {
            "at": now,
            "clinic_id": actor.clinic_id,
            "actor_id": actor.id,
            "patient_id": patient_id,
            "action": READ,
            "resource": resource,
            "resource_id": None if resource_id is None else str(resource_id),
        },
    )
    db.session.commit()


def refused(actor, endpoint: str, path_values: dict, *, now: datetime) -> None:
    """Record that `actor` was refused (403, or 404 for another clinic's id), in a transaction of its own.

    Only the endpoint and the ids the caller sent are kept: nothing about the object, which the
    caller may not see (and which may not exist).
    """
    db.session.rollback()
    ids = ",".join(f"{key}={value}" for key, value in path_values.items())
    record(actor, REFUSED, endpoint[:60], now=now, resource_id=ids[:64] or None)
    db.session.commit()


def events_query(clinic_id: int, *, patient_id: int | None = None, actor_id: int | None = None):
    """Select a clinic's audit events, newest first, optionally for one patient or actor."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == clinic_id)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    return query
