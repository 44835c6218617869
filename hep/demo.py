"""The demo clinic: one physiotherapist, one clinic admin, three patients in different time zones.

Their history is laid out back from the day it is first seeded, and moved forward to today whenever
`seed` runs on a later day (`flask seed-demo`, `python3 tasks.py run`), so the stories read the same
on any day. Only the demo clinic's three patients are touched.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hep import signals
from hep.accounts import passwords
from hep.accounts.models import CLINIC_ADMIN, PATIENT, PHYSIOTHERAPIST, Clinic, Patient, User
from hep.adherence import service as adherence
from hep.adherence import summaries
from hep.adherence.models import AdherenceLog, PainReport
from hep.audit import service as audit
from hep.extensions import db
from hep.programs import service as programs
from hep.programs import templates
from hep.programs.models import ProgramTemplate, Routine, RoutinePhase, RoutineVersion
from hep.programs.schedule import due_on
from hep.programs.service import local_today
from hep.reminders import consent
from hep.reminders.models import Reminder
from hep.sessions import service as sessions
from hep.sessions.models import COMPLETED, NeedlingSession

CLINIC_NAME = "Demo IMS Clinic"
DEMO_NAMESPACE = uuid.UUID("6f1d7c52-5b8e-4d0e-9a57-6e2f0d3c9b11")
STAFF = [
    {"role": CLINIC_ADMIN, "name": "Alex Admin", "email": "admin@demo.hep.test", "password": "demo-admin-pass"},
    {"role": PHYSIOTHERAPIST, "name": "Priya Physio", "email": "physio@demo.hep.test", "password": "demo-physio-pass"},
]
# Stories for the risk list: keeps going well / stopped (nothing logged for 6 days) / doing it, but pain climbs.
PATIENTS = [
    {"name": "Vera Vancouver", "email": "vera@demo.hep.test", "phone": "+16045550101",
     "timezone": "America/Vancouver", "language": "en", "password": "demo-patient-pass",
     "template": "low-back-pain-early", "story": "steady"},
    {"name": "Liam London", "email": "liam@demo.hep.test", "phone": "+447400123101",
     "timezone": "Europe/London", "language": "en", "password": "demo-patient-pass",
     "template": "neck-pain-early", "story": "stopped"},
    {"name": "Sofia Sydney", "email": "sofia@demo.hep.test", "phone": "+61491570101",
     "timezone": "Australia/Sydney", "language": "en", "password": "demo-patient-pass",
     "template": "plantar-fasciitis", "story": "pain-rising"},
]  # fmt: skip
HISTORY_DAYS = 20
# A few notes the patients left with their logs (days back from today), so the web app shows some.
NOTES = {
    "steady": {18: "Back felt stiff in the morning, easier after.", 9: "Did them after my walk.", 2: "Easy today."},
    "stopped": {14: "Neck sore after the needling, went gently.", 6: "Busy week at work, did what I could."},
    "pain-rising": {12: "Heel hurts more first thing in the morning.", 4: "Pain after standing all day.",
                    1: "Sharp pain on the first steps."},
}  # fmt: skip
# Pain scores Sofia texted in (days back: score), climbing like her logged ones.
TEXTED_PAIN = {"pain-rising": {13: 3, 10: 4, 6: 6, 3: 7}}
# Needling sessions for each demo patient: two done (days back), one booked (days ahead, at 10:00 in the clinic).
SESSIONS_DONE, SESSION_AHEAD = (14, 7), 2


def _user(clinic: Clinic, spec: dict, now: datetime) -> User:
    user = db.session.scalar(select(User).where(User.email == spec["email"], User.clinic_id == clinic.id))
    if user is None:
        user = User(
            clinic=clinic,
            role=spec["role"],
            name=spec["name"],
            email=spec["email"],
            phone=spec.get("phone"),
            created_at=now,
        )
        db.session.add(user)
    if not passwords.verify_password(user.password_hash, spec["password"]):
        user.password_hash = passwords.hash_password(spec["password"])
        user.password_changed_at = now
    user.is_active = True
    return user


def _program(patient: User, physio: User, spec: dict, now: datetime) -> None:
    """Give a demo patient a routine from a template and a few weeks of history, once."""
    if db.session.scalar(select(Routine.id).where(Routine.patient_id == patient.id)) or not db.session.scalar(
        select(ProgramTemplate.id).where(ProgramTemplate.key == spec["template"])
    ):
        return  # already seeded, or the library (with its templates) is not loaded yet
    today = local_today(patient.patient, now)
    start = today - timedelta(days=HISTORY_DAYS)
    body = templates.draft(templates.get_template(physio, spec["template"]), start)
    routine = programs.create_routine(physio, patient.id, body, now=now)
    zone = ZoneInfo(patient.patient.timezone)
    entries = []
    for back in range(HISTORY_DAYS, 0, -1):
        day = today - timedelta(days=back)
        if spec["story"] == "stopped" and back <= 5:
            continue
        if spec["story"] == "steady" and back % 7 == 3:
            continue  # an off day now and then
        pain = (
            2 + (HISTORY_DAYS - back) // 3 if spec["story"] == "pain-rising" else max(2, 6 - (HISTORY_DAYS - back) // 5)
        )
        note = NOTES[spec["story"]].get(back)
        for _routine, item in due_on([routine], day, {}):
            for n in range(item.times_per_day):
                at = datetime.combine(day, time(8 + 6 * n, 30), zone)
                entries.append(
                    {
                        "data": {
                            "id": uuid.uuid5(DEMO_NAMESPACE, f"{patient.id}/{item.id}/{day}/{n}"),
                            "routine_item_id": item.id,
                            "performed_at": at,
                            "sets_done": item.sets,
                            "reps_done": item.reps,
                            "hold_seconds_done": item.hold_seconds,
                            "pain_before": min(10, pain),
                            "pain_after": min(10, max(0, pain - 1)),
                            "difficulty": 4,
                            "note": note,
                        },
                        "raw": {},
                    }
                )
                note = None  # one note a day, with the day's first entry
    adherence.sync(patient, patient.id, entries, now=now, rules=adherence.LogRules(max_age_days=HISTORY_DAYS + 1))


def _texted_pain(patient: User, spec: dict, now: datetime) -> None:
    """The pain scores a demo patient texted in, once (as the SMS reply handler stores them)."""
    scores = TEXTED_PAIN.get(spec["story"])
    if not scores or db.session.scalar(select(PainReport.id).where(PainReport.patient_id == patient.id).limit(1)):
        return
    today, zone = local_today(patient.patient, now), ZoneInfo(patient.patient.timezone)
    for back, score in scores.items():
        day = today - timedelta(days=back)
        received = datetime.combine(day, time(19, 5), zone)
        db.session.add(PainReport(patient_id=patient.id, local_date=day, score=score, received_at=received))
    summaries.touch(patient.id, [today - timedelta(days=back) for back in scores])
    db.session.commit()


def _reanchor(patient: User, clinic: Clinic, now: datetime) -> int:
    """Move a demo patient's history forward to today when it was laid out on an earlier day; return
    the days moved (0: already anchored today).

    The anchor is the day the history was laid out back from: the demo routine (the patient's first)
    starts HISTORY_DAYS before it. Routines, log entries, sessions and texted pain scores all move by
    the same whole days; log entries keep the fingerprint they were first sent with, so a resend from
    the app is still a duplicate. Reminders are re-planned from the moved data.
    """
    first = db.session.scalar(select(Routine).where(Routine.patient_id == patient.id).order_by(Routine.id).limit(1))
    if first is None:
        return 0
    anchor = first.versions[0].start_date + timedelta(days=HISTORY_DAYS)
    shift = (local_today(patient.patient, now) - anchor).days
    if shift <= 0:
        return 0
    by = timedelta(days=shift)
    routine_ids = select(Routine.id).where(Routine.patient_id == patient.id)
    for version in db.session.scalars(select(RoutineVersion).where(RoutineVersion.routine_id.in_(routine_ids))):
        version.start_date += by
        version.effective_from += by
        version.end_date = version.end_date + by if version.end_date else None
        # A new fingerprint, so every process's cache of compiled versions reads the moved dates.
        version.content_hash = hashlib.sha256(f"{version.content_hash}+{shift}d".encode()).hexdigest()
    versions = select(RoutineVersion.id).where(RoutineVersion.routine_id.in_(routine_ids))
    for phase in db.session.scalars(select(RoutinePhase).where(RoutinePhase.version_id.in_(versions))):
        phase.start_date += by
    for log in db.session.scalars(select(AdherenceLog).where(AdherenceLog.patient_id == patient.id)):
        log.performed_at += by
        log.local_date += by
    for report in db.session.scalars(select(PainReport).where(PainReport.patient_id == patient.id)):
        report.local_date += by
        report.received_at += by
    zone = ZoneInfo(clinic.timezone)
    for booked in db.session.scalars(select(NeedlingSession).where(NeedlingSession.patient_id == patient.id)):
        local = booked.starts_at.astimezone(zone)  # same time of day in the clinic, across a DST change
        booked.starts_at = datetime.combine(local.date() + by, local.time(), zone)
    audit.record(None, audit.UPDATE, "demo_history", now=now, patient_id=patient.id, clinic_id=clinic.id)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient.id, now=now)
    return shift


def _sessions(patient: User, physio: User, clinic: Clinic, now: datetime) -> None:
    """Two needling sessions done and one booked, once (the booked one through the sessions service,
    so its reminder is planned; finished ones are history, which the service cannot book)."""
    if db.session.scalar(select(NeedlingSession.id).where(NeedlingSession.patient_id == patient.id)):
        return
    zone = ZoneInfo(clinic.timezone)
    today = now.astimezone(zone).date()
    for back in SESSIONS_DONE:
        start = datetime.combine(today - timedelta(days=back), time(10, 0), zone)
        db.session.add(
            NeedlingSession(
                patient_id=patient.id,
                physiotherapist_id=physio.id,
                starts_at=start,
                duration_minutes=30,
                status=COMPLETED,
                created_at=now,
                updated_at=now,
            )
        )
    db.session.commit()
    ahead = datetime.combine(today + timedelta(days=SESSION_AHEAD), time(10, 0), zone)
    sessions.schedule(physio, patient.id, {"starts_at": ahead, "duration_minutes": 30}, now=now)


WHAT = {"consent": "confirmation", "exercise": "exercise reminder", "pre_session": "session reminder",
        "post_needling": "needling-day text"}  # fmt: skip


def queued_texts(*, now: datetime) -> list[dict]:
    """The demo patients' texts waiting to go out, soonest first: to whom, what, and when (their time)."""
    rows = db.session.execute(
        select(User.name, Patient.timezone, Reminder.kind, Reminder.due_at)
        .join(Patient, Patient.user_id == Reminder.patient_id)
        .join(User, User.id == Reminder.patient_id)
        .join(Clinic, Clinic.id == User.clinic_id)
        .where(Clinic.name == CLINIC_NAME, Reminder.status == "planned", Reminder.due_at >= now - timedelta(minutes=5))
        .order_by(Reminder.due_at, User.name)
    ).all()
    return [
        {"patient": name, "text": WHAT.get(kind, kind), "at": due.astimezone(ZoneInfo(zone)), "in": due - now}
        for name, zone, kind, due in rows
    ]


def seed(*, now: datetime) -> dict:
    """Create the demo clinic if missing (safe to run again); return the logins."""
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == CLINIC_NAME))
    if clinic is None:
        clinic = Clinic(
            name=CLINIC_NAME,
            timezone="America/Vancouver",
            contact_phone="+16045550100",
            contact_email="hello@demo.hep.test",
            created_at=now,
        )
        db.session.add(clinic)
        db.session.flush()
    staff = {spec["role"]: _user(clinic, spec, now) for spec in STAFF}
    db.session.flush()
    for spec in PATIENTS:
        user = _user(clinic, {**spec, "role": PATIENT}, now)
        db.session.flush()
        if db.session.get(Patient, user.id) is None:
            db.session.add(
                Patient(
                    user_id=user.id,
                    physiotherapist_id=staff[PHYSIOTHERAPIST].id,
                    timezone=spec["timezone"],
                    language=spec["language"],
                    activated_at=now,
                )
            )
    db.session.commit()
    for spec in PATIENTS:
        user = db.session.scalar(select(User).where(User.email == spec["email"], User.clinic_id == clinic.id))
        _reanchor(user, clinic, now)
        _program(user, staff[PHYSIOTHERAPIST], spec, now)
        _texted_pain(user, spec, now)
        _sessions(user, staff[PHYSIOTHERAPIST], clinic, now)
        consent.grant(staff[PHYSIOTHERAPIST], user.id, "verbal", now=now)  # once: granting again changes nothing
    return {
        "clinic": CLINIC_NAME,
        "staff": [{"role": s["role"], "username": s["email"], "password": s["password"]} for s in STAFF],
        "patients": [
            {
                "username": p["email"],
                "phone": p["phone"],
                "timezone": p["timezone"],
                "password": p["password"],
                "program": p["template"],
            }
            for p in PATIENTS
        ],
    }
