"""The demo clinic: one physiotherapist, one clinic admin, three patients in different time zones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from hep.accounts import passwords
from hep.accounts.models import CLINIC_ADMIN, PATIENT, PHYSIOTHERAPIST, Clinic, Patient, User
from hep.extensions import db

CLINIC_NAME = "Demo IMS Clinic"
STAFF = [
    {"role": CLINIC_ADMIN, "name": "Alex Admin", "email": "admin@demo.hep.test", "password": "demo-admin-pass"},
    {"role": PHYSIOTHERAPIST, "name": "Priya Physio", "email": "physio@demo.hep.test",
     "password": "demo-physio-pass"},
]
PATIENTS = [
    {"name": "Vera Vancouver", "email": "vera@demo.hep.test", "phone": "+16045550101",
     "timezone": "America/Vancouver", "language": "en", "password": "demo-patient-pass"},
    {"name": "Liam London", "email": "liam@demo.hep.test", "phone": "+447400123101",
     "timezone": "Europe/London", "language": "en", "password": "demo-patient-pass"},
    {"name": "Sofia Sydney", "email": "sofia@demo.hep.test", "phone": "+61491570101",
     "timezone": "Australia/Sydney", "language": "en", "password": "demo-patient-pass"},
]


def _user(clinic: Clinic, spec: dict, now: datetime) -> User:
    user = db.session.scalar(select(User).where(User.email == spec["email"]))
    if user is None:
        user = User(clinic=clinic, role=spec["role"], name=spec["name"], email=spec["email"],
                    phone=spec.get("phone"), created_at=now)
        db.session.add(user)
    if not passwords.verify_password(user.password_hash, spec["password"]):
        user.password_hash = passwords.hash_password(spec["password"])
        user.password_changed_at = now
    user.is_active = True
    return user


def seed(*, now: datetime) -> dict:
    """Create the demo clinic if missing (safe to run again); return the logins."""
    clinic = db.session.scalar(select(Clinic).where(Clinic.name == CLINIC_NAME))
    if clinic is None:
        clinic = Clinic(name=CLINIC_NAME, timezone="America/Vancouver", contact_phone="+16045550100",
                        contact_email="hello@demo.hep.test", created_at=now)
        db.session.add(clinic)
    staff = {spec["role"]: _user(clinic, spec, now) for spec in STAFF}
    db.session.flush()
    for spec in PATIENTS:
        user = _user(clinic, {**spec, "role": PATIENT}, now)
        db.session.flush()
        if db.session.get(Patient, user.id) is None:
            db.session.add(Patient(user_id=user.id, physiotherapist_id=staff[PHYSIOTHERAPIST].id,
                                   timezone=spec["timezone"], language=spec["language"], activated_at=now))
    db.session.commit()
    return {
        "clinic": CLINIC_NAME,
        "staff": [{"role": s["role"], "username": s["email"], "password": s["password"]} for s in STAFF],
        "patients": [{"username": p["email"], "phone": p["phone"], "timezone": p["timezone"],
                      "password": p["password"]} for p in PATIENTS],
    }
