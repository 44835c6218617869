"""Scheduling needling sessions, listing them, and the patient's iCalendar feed."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.exc import IntegrityError

from hep import signals
from hep.accounts import tokens
from hep.accounts.models import PHYSIOTHERAPIST, STAFF_ROLES, Patient, User
from hep.accounts.service import get_patient, require_patient_access
from hep.audit import service as audit
from hep.dbtypes import upsert
from hep.errors import Conflict, Forbidden, Invalid, NotFound
from hep.extensions import db
from hep.sessions.models import CANCELLED, SCHEDULED, CalendarFeed, NeedlingSession

# Changes that may follow each status; a finished session is history.
NEXT_STATUS = {SCHEDULED: {SCHEDULED, "completed", CANCELLED, "no_show"}}


def _check_start(starts_at: datetime, now: datetime) -> None:
    if starts_at < now:
        raise Invalid("starts_at", "is in the past")
    if starts_at > now + timedelta(days=730):
        raise Invalid("starts_at", "is more than two years ahead")


def _require_staff(actor: User) -> None:
    if actor.role not in STAFF_ROLES:
        raise Forbidden("Only staff schedule sessions.")


def _physio(actor: User, physiotherapist_id: int | None, patient: Patient) -> int:
    physio_id = physiotherapist_id or (actor.id if actor.role == PHYSIOTHERAPIST else patient.physiotherapist_id)
    physio = db.session.get(User, physio_id)
    if physio is None or physio.clinic_id != actor.clinic_id or physio.role != PHYSIOTHERAPIST:
        raise Invalid("physiotherapist_id", "is not a physiotherapist of your clinic")
    return physio.id


def schedule(actor: User, patient_id: int, data: dict, *, now: datetime) -> NeedlingSession:
    """Book a needling session for a patient of the caller's clinic; booking the same start again books nothing."""
    _require_staff(actor)
    patient = get_patient(actor, patient_id)
    _check_start(data["starts_at"], now)
    same = _booked_at(patient_id, data["starts_at"])
    if same is not None:  # a retried booking: the patient cannot be in two sessions at once anyway
        return same
    session = NeedlingSession(
        patient_id=patient_id,
        physiotherapist_id=_physio(actor, data.get("physiotherapist_id"), patient),
        starts_at=data["starts_at"],
        duration_minutes=data["duration_minutes"],
        notes=data.get("notes"),
        patient_note=data.get("patient_note"),
        status=SCHEDULED,
        created_at=now,
        updated_at=now,
    )
    db.session.add(session)
    try:
        db.session.flush()
    except IntegrityError:
        # The same booking, retried at the same instant, won the unique index: answer with that one.
        db.session.rollback()
        same = _booked_at(patient_id, data["starts_at"])
        if same is None:
            raise
        return same
    audit.record(actor, audit.CREATE, "session", now=now, patient_id=patient_id, resource_id=session.id)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)
    return session


def _booked_at(patient_id: int, starts_at: datetime) -> NeedlingSession | None:
    return db.session.scalar(
        select(NeedlingSession).where(
            NeedlingSession.patient_id == patient_id,
            NeedlingSession.starts_at == starts_at,
            NeedlingSession.status == SCHEDULED,
        )
    )


def get_session(actor: User, session_id: int) -> NeedlingSession:
    """A session the caller may see (its patient, or staff of the clinic), or NotFound."""
    session = db.session.get(NeedlingSession, session_id)
    if session is None:
        raise NotFound(f"No session {session_id}.")
    require_patient_access(actor, session.patient_id, f"No session {session_id}.")
    return session


def read_session(actor: User, session_id: int, *, now: datetime) -> NeedlingSession:
    """A session for display, recording the read in the audit log."""
    session = get_session(actor, session_id)
    audit.read(actor, "session", now=now, patient_id=session.patient_id, resource_id=session_id)
    return session


def change(actor: User, session_id: int, changes: dict, *, now: datetime) -> NeedlingSession:
    """Reschedule, cancel, complete or mark a no-show. Sending the same change again changes nothing."""
    _require_staff(actor)
    session = get_session(actor, session_id)
    new_status = changes.get("status", session.status)
    if new_status != session.status and new_status not in NEXT_STATUS.get(session.status, set()):
        raise Invalid("status", f"a {session.status} session cannot become {new_status}")
    if "starts_at" in changes and changes["starts_at"] != session.starts_at:
        if session.status != SCHEDULED:
            raise Invalid("starts_at", f"a {session.status} session cannot be rescheduled")
        _check_start(changes["starts_at"], now)
    if "physiotherapist_id" in changes:
        changes["physiotherapist_id"] = _physio(
            actor, changes["physiotherapist_id"], db.session.get(Patient, session.patient_id)
        )
    dirty = {k: v for k, v in changes.items() if getattr(session, k) != v}
    if dirty:
        for key, value in dirty.items():
            setattr(session, key, value)
        session.updated_at = now
        session.sequence += 1
        audit.record(actor, audit.UPDATE, "session", now=now, patient_id=session.patient_id, resource_id=session_id)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Conflict("The patient already has a session booked at that time.") from None
        signals.patient_changed.send(patient_id=session.patient_id, now=now)
    return session


def patient_sessions(actor: User, patient_id: int, *, upcoming_from: datetime | None = None) -> Select:
    """A patient's sessions by start time (only those not yet ended, when upcoming_from is given)."""
    get_patient(actor, patient_id)
    query = select(NeedlingSession).where(NeedlingSession.patient_id == patient_id)
    if upcoming_from is not None:
        query = query.where(NeedlingSession.starts_at >= upcoming_from, NeedlingSession.status == SCHEDULED)
    return query


def physio_sessions(actor: User, physiotherapist_id: int | None, *, upcoming_from: datetime | None) -> Select:
    """A physiotherapist's sessions in the caller's clinic (default: the caller's own)."""
    _require_staff(actor)
    physio_id = physiotherapist_id or actor.id
    physio = db.session.get(User, physio_id)
    if physio is None or physio.clinic_id != actor.clinic_id:
        raise Invalid("physiotherapist_id", "is not staff of your clinic", location="query")
    query = select(NeedlingSession).where(NeedlingSession.physiotherapist_id == physio_id)
    if upcoming_from is not None:
        query = query.where(NeedlingSession.starts_at >= upcoming_from, NeedlingSession.status == SCHEDULED)
    return query


def upcoming_sessions(
    actor: User, physiotherapist_id: int | None, *, now: datetime, limit: int
) -> list[NeedlingSession]:
    """A physiotherapist's next `limit` scheduled sessions, soonest first, recording the read."""
    query = physio_sessions(actor, physiotherapist_id, upcoming_from=now)
    rows = list(db.session.scalars(query.order_by(NeedlingSession.starts_at, NeedlingSession.id).limit(limit)))
    audit.read(actor, "session_list", now=now)
    return rows


@cache
def _next_session_statement() -> Select:
    # Built once: today's plan runs it on every request. Only the columns the plan shows, not an ORM object.
    return (
        select(
            NeedlingSession.id,
            NeedlingSession.starts_at,
            NeedlingSession.duration_minutes,
            NeedlingSession.patient_note,
        )
        .where(
            NeedlingSession.patient_id == bindparam("patient_id"),
            NeedlingSession.status == SCHEDULED,
            NeedlingSession.starts_at >= bindparam("now"),
        )
        .order_by(NeedlingSession.starts_at)
        .limit(1)
    )


def next_session(patient_id: int, now: datetime) -> Row | None:
    """The patient's next scheduled session that has not started yet (id, starts_at, duration_minutes, patient_note)."""
    return db.session.execute(_next_session_statement(), {"patient_id": patient_id, "now": now}).first()


def issue_feed(actor: User, patient_id: int, *, now: datetime) -> str:
    """Create (or replace) the patient's secret calendar token; the old link stops working."""
    get_patient(actor, patient_id)
    token = secrets.token_urlsafe(24)
    # An upsert: of two links made at once (a double tap), the later one is the patient's link.
    values = {"patient_id": patient_id, "token_hash": tokens.token_hash(token), "created_at": now}
    upsert(CalendarFeed, values, keys=["patient_id"])
    audit.record(actor, audit.UPDATE, "calendar_feed", now=now, patient_id=patient_id)
    db.session.commit()
    return token


def feed_sessions(token: str, *, now: datetime) -> tuple[Patient, list[NeedlingSession]]:
    """The patient and sessions a calendar token opens (scheduled and cancelled, from 30 days back)."""
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == tokens.token_hash(token)))
    if feed is None:
        raise NotFound("No such calendar.")
    patient = db.session.get(Patient, feed.patient_id)
    if not patient.user.is_active:
        raise NotFound("No such calendar.")
    sessions = db.session.scalars(
        select(NeedlingSession)
        .where(NeedlingSession.patient_id == feed.patient_id, NeedlingSession.starts_at >= now - timedelta(days=30))
        .order_by(NeedlingSession.starts_at)
    ).all()
    # Read by a calendar app holding the secret: no one signed in, so the event has no actor.
    audit.record(
        None, audit.READ, "calendar_feed", now=now, patient_id=patient.user_id, clinic_id=patient.user.clinic_id
    )
    db.session.commit()
    return patient, list(sessions)
