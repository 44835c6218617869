"""Prescribing routines: create, revise (a new version each time), archive, and read them."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hep import signals
from hep.accounts.models import Patient, User
from hep.accounts.service import get_patient, require_patient_access
from hep.audit import service as audit
from hep.errors import Conflict, Forbidden, Invalid, NotFound
from hep.extensions import db
from hep.library import service as library
from hep.library.models import Exercise
from hep.programs.models import Routine, RoutineItem, RoutinePhase, RoutineVersion

ITEM_FIELDS = (
    "sets",
    "reps",
    "hold_seconds",
    "rest_seconds",
    "side",
    "load",
    "rep_max",
    "progression",
    "times_per_day",
    "days_per_week",
    "weekdays",
    "notes",
)


def local_today(patient: Patient, now: datetime) -> date:
    """The patient's calendar date at `now`, in their own time zone."""
    return now.astimezone(ZoneInfo(patient.timezone)).date()


def _content_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _exercises(clinic_id: int, data: dict) -> dict[str, Exercise]:
    """The exercises a routine names, checked to exist, be visible to the clinic and not archived
    (a merged slug means the exercise it was merged into)."""
    slugs = {item["exercise"] for phase in data["phases"] for item in phase["items"]}
    found = library.by_slugs(clinic_id, slugs)
    for p, phase in enumerate(data["phases"]):
        for i, item in enumerate(phase["items"]):
            if item["exercise"] not in found:
                raise Invalid(f"phases.{p}.items.{i}.exercise", "is not an exercise in your library")
    return found


def _build_version(
    routine: Routine,
    data: dict,
    actor: User,
    *,
    number: int,
    effective_from: date,
    exercises: dict[str, Exercise],
    now: datetime,
) -> RoutineVersion:
    version = RoutineVersion(
        routine=routine,
        number=number,
        title=data["title"],
        start_date=data["start_date"],
        end_date=data.get("end_date"),
        effective_from=effective_from,
        notes=data.get("notes"),
        template_key=data.get("template"),
        content_hash=_content_hash(data),
        created_by_id=actor.id,
        created_at=now,
    )
    for p, phase in enumerate(data["phases"]):
        row = RoutinePhase(position=p, name=phase["name"], start_date=phase["start_date"])
        row.items = [
            RoutineItem(position=i, exercise=exercises[item["exercise"]], **{k: item.get(k) for k in ITEM_FIELDS})
            for i, item in enumerate(phase["items"])
        ]
        version.phases.append(row)
    routine.versions.append(version)
    return version


def _require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise Forbidden("Only staff may prescribe routines.")


def create_routine(actor: User, patient_id: int, data: dict, *, now: datetime) -> Routine:
    """Prescribe a new routine for a patient of the caller's clinic."""
    patient = get_patient(actor, patient_id)
    _require_staff(actor)
    exercises = _exercises(actor.clinic_id, data)
    routine = Routine(patient_id=patient.user_id, created_by_id=actor.id, created_at=now)
    db.session.add(routine)
    effective = min(data["start_date"], local_today(patient, now))
    _build_version(routine, data, actor, number=1, effective_from=effective, exercises=exercises, now=now)
    db.session.flush()
    audit.record(actor, audit.CREATE, "routine", now=now, patient_id=patient_id, resource_id=routine.id)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)
    return routine


def get_routine(actor: User, routine_id: int) -> Routine:
    """A routine the caller may see (its patient, or staff of its clinic), or NotFound."""
    routine = db.session.get(Routine, routine_id)
    if routine is None:
        raise NotFound(f"No routine {routine_id}.")
    require_patient_access(actor, routine.patient_id, f"No routine {routine_id}.")
    return routine


def read_routine(actor: User, routine_id: int, *, now: datetime) -> Routine:
    """A routine for display, recording the read in the audit log."""
    routine = get_routine(actor, routine_id)
    audit.read(actor, "routine", now=now, patient_id=routine.patient_id, resource_id=routine_id)
    return routine


def read_versions(actor: User, routine_id: int, *, now: datetime) -> list[RoutineVersion]:
    """Every version of a routine, oldest first, recording the read."""
    routine = get_routine(actor, routine_id)
    audit.read(actor, "routine_versions", now=now, patient_id=routine.patient_id, resource_id=routine_id)
    return routine.versions


def revise_routine(actor: User, routine_id: int, data: dict, *, now: datetime) -> tuple[Routine, bool]:
    """Save edited content as a new version (governing from the patient's today on).

    Sending the current content again creates nothing, so a retried save is harmless.
    Returns (routine, whether a version was created).
    """
    routine = get_routine(actor, routine_id)
    _require_staff(actor)
    if routine.archived_at is not None:
        raise Invalid("routine", "is archived; start a new routine instead")
    if routine.current.content_hash == _content_hash(data):
        return routine, False
    exercises = _exercises(actor.clinic_id, data)
    patient = db.session.get(Patient, routine.patient_id)
    try:
        _build_version(
            routine,
            data,
            actor,
            number=routine.current.number + 1,
            effective_from=local_today(patient, now),
            exercises=exercises,
            now=now,
        )
        audit.record(actor, audit.UPDATE, "routine", now=now, patient_id=routine.patient_id, resource_id=routine.id)
        db.session.commit()
    except IntegrityError:
        # Another save took this version number first. The same content (a double click, a retry) is
        # simply already saved; different content means two people edited at once.
        db.session.rollback()
        routine = get_routine(actor, routine_id)
        if routine.current.content_hash == _content_hash(data):
            return routine, False
        raise Conflict("The routine was changed at the same time by someone else; reload it and save again.") from None
    db.session.refresh(routine)
    signals.patient_changed.send(patient_id=routine.patient_id, now=now)
    return routine, True


def archive_routine(actor: User, routine_id: int, *, now: datetime) -> None:
    """Stop a routine; its history stays readable. Archiving twice is harmless."""
    routine = get_routine(actor, routine_id)
    _require_staff(actor)
    if routine.archived_at is None:
        routine.archived_at = now
        audit.record(actor, audit.DELETE, "routine", now=now, patient_id=routine.patient_id, resource_id=routine_id)
        db.session.commit()
        signals.patient_changed.send(patient_id=routine.patient_id, now=now)


def patient_routines(actor: User, patient_id: int, *, now: datetime) -> list[Routine]:
    """A patient's routines, newest first, the read added to the audit log (the caller commits)."""
    get_patient(actor, patient_id)
    routines = list(
        db.session.scalars(select(Routine).where(Routine.patient_id == patient_id).order_by(Routine.id.desc()))
    )
    audit.record(actor, audit.READ, "routine_list", now=now, patient_id=patient_id)
    return routines


def list_routines(actor: User, patient_id: int, *, now: datetime) -> list[Routine]:
    """A patient's routines, newest first."""
    routines = patient_routines(actor, patient_id, now=now)
    db.session.commit()
    return routines


def read_handout(actor: User, routine_id: int, *, now: datetime) -> tuple[Routine, Patient]:
    """A routine and its patient for the printed sheet, recording the read."""
    routine = get_routine(actor, routine_id)
    patient = get_patient(actor, routine.patient_id)
    audit.read(actor, "routine_handout", now=now, patient_id=patient.user_id, resource_id=routine_id)
    return routine, patient


def get_version(actor: User, routine_id: int, number: int, *, now: datetime) -> RoutineVersion:
    """One version of a routine, recording the read."""
    routine = get_routine(actor, routine_id)
    for version in routine.versions:
        if version.number == number:
            audit.read(
                actor, "routine_version", now=now, patient_id=routine.patient_id, resource_id=f"{routine_id}/{number}"
            )
            return version
    raise NotFound(f"Routine {routine_id} has no version {number}.")


def routines_for(patient_ids: list[int]) -> dict[int, list[Routine]]:
    """Every non-archived routine of these patients, with versions, phases and items, in few queries."""
    result: dict[int, list[Routine]] = {pid: [] for pid in patient_ids}
    for routine in db.session.scalars(
        select(Routine).where(Routine.patient_id.in_(patient_ids), Routine.archived_at.is_(None)).order_by(Routine.id)
    ):
        result[routine.patient_id].append(routine)
    return result
