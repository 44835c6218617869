"""Factories for test data: sensible defaults, override what the test is about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hep.accounts import passwords, tokens
from hep.accounts.models import CLINIC_ADMIN, PATIENT, PHYSIOTHERAPIST, Clinic, Patient, User
from hep.extensions import db
from hep.library.loader import content_hash
from hep.library.models import Exercise
from hep.library.service import apply_content

_seq = itertools.count(1)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"


def exercise_data(**overrides) -> dict:
    """A valid exercise, as written in exercises/<slug>.yaml."""
    n = next(_seq)
    data = {
        "slug": f"test-exercise-{n}",
        "name": f"Test exercise {n}",
        "summary": "A gentle test exercise that helps nothing in particular.",
        "body_regions": ["neck"],
        "conditions": ["neck-pain"],
        "category": "mobility",
        "equipment": [],
        "position": "sitting",
        "difficulty": 1,
        "steps": ["Sit tall.", "Turn your head slowly.", "Come back to the middle."],
        "cues": ["Move slowly."],
        "common_mistakes": ["Rushing."],
        "precautions": ["Stop if pain spreads down your arm."],
        "contraindications": [],
        "default_dosage": {
            "sets": 2,
            "reps": 10,
            "hold_seconds": None,
            "rest_seconds": 30,
            "times_per_day": 1,
            "days_per_week": 7,
            "per_side": False,
        },
        "progressions": [],
        "regressions": [],
        "media": [],
    }
    data.update(overrides)
    return data


# A small valid figure: sitting on a chair, the right knee straightens (the right foot lifts).
FIGURE = {
    "view": "side",
    "support": "chair",
    "pose": "sitting",
    "side": "right",
    "highlight": "thigh_r",
    "frames": [{}, {"knee_r": 5, "lift": "foot_r"}],
    "arrows": [{"point": "ankle_r"}],
}


def item(exercise: str, **dosage) -> dict:
    """A routine item as the API takes it."""
    return {"exercise": exercise, "sets": 3, "reps": 10, **dosage}


def routine_body(start, *, items=None, phases=None, end=None, title="Home program") -> dict:
    """A routine body as the API takes it (JSON-ready: dates as ISO strings)."""
    phases = phases or [{"name": "Phase 1", "start_date": start, "items": items}]
    return {
        "title": title,
        "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else None,
        "phases": [{**p, "start_date": p["start_date"].isoformat()} for p in phases],
    }


class ProgramFactories:
    """Routines and logs, made through the services the API uses."""

    def routine(self, patient: User, body: dict, *, now: datetime | None = None):
        from hep.programs import service
        from hep.programs.schemas import RoutineInSchema

        physio = db.session.get(User, patient.patient.physiotherapist_id)
        return service.create_routine(physio, patient.id, RoutineInSchema().load(body), now=now or NOW)

    def log(self, patient: User, routine_item_id: int, performed_at: datetime, *, now: datetime | None = None, **done):
        """Store one entry as the app would; returns the sync answer."""
        import uuid

        from hep.adherence import service

        entry = {
            "id": done.pop("id", uuid.uuid4()),
            "routine_item_id": routine_item_id,
            "performed_at": performed_at,
            "sets_done": done.pop("sets_done", 3),
            "reps_done": None,
            "hold_seconds_done": None,
            "pain_before": None,
            "pain_after": None,
            "difficulty": None,
            "note": None,
            **done,
        }
        return service.sync(
            patient,
            patient.id,
            [{"data": entry, "raw": {}}],
            now=now or performed_at,
            rules=service.LogRules(max_age_days=3650),
        )[0]


class Factories(ProgramFactories):
    def clinic(self, **kw) -> Clinic:
        clinic = Clinic(
            name=kw.pop("name", f"Clinic {next(_seq)}"),
            timezone=kw.pop("timezone", "UTC"),
            contact_phone=kw.pop("contact_phone", "+16045550100"),
            created_at=NOW,
            **kw,
        )
        db.session.add(clinic)
        db.session.commit()
        return clinic

    def user(
        self, clinic: Clinic | None = None, role: str = PHYSIOTHERAPIST, *, password: str | None = None, **kw
    ) -> User:
        clinic = clinic or self.clinic()
        n = next(_seq)
        user = User(
            clinic_id=clinic.id,
            role=role,
            name=kw.pop("name", f"User {n}"),
            email=kw.pop("email", f"user{n}@example.test"),
            created_at=NOW,
            password_hash=passwords.hash_password(password) if password else None,
            **kw,
        )
        db.session.add(user)
        db.session.commit()
        return user

    def physio(self, clinic: Clinic | None = None, **kw) -> User:
        return self.user(clinic, PHYSIOTHERAPIST, **kw)

    def admin(self, clinic: Clinic | None = None, **kw) -> User:
        return self.user(clinic, CLINIC_ADMIN, **kw)

    def patient(
        self,
        clinic: Clinic | None = None,
        physio: User | None = None,
        *,
        timezone: str = "America/Vancouver",
        language: str = "en",
        **kw,
    ) -> User:
        clinic = clinic or (physio.clinic if physio else self.clinic())
        physio = physio or self.physio(clinic)
        user = self.user(clinic, PATIENT, **kw)
        db.session.add(
            Patient(
                user_id=user.id, physiotherapist_id=physio.id, timezone=timezone, language=language, activated_at=NOW
            )
        )
        db.session.commit()
        return user

    def exercise(self, clinic: Clinic | None = None, archived_at: datetime | None = None, **overrides) -> Exercise:
        data = exercise_data(**overrides)
        exercise = Exercise(
            slug=data.pop("slug"),
            clinic_id=clinic.id if clinic else None,
            created_at=NOW,
            content_hash=content_hash(data),
            archived_at=archived_at,
        )
        apply_content(exercise, data, now=NOW)
        db.session.add(exercise)
        db.session.commit()
        return exercise

    def headers(self, user: User, now: datetime | None = None) -> dict:
        """Authorization headers for a fresh sign-in of `user`."""
        pair = tokens.issue(user, now=now or datetime.now(UTC), access_ttl=900, refresh_ttl=3600)
        db.session.commit()
        return {"Authorization": f"Bearer {pair.access_token}"}


def web_sign_in(client, user: User, *, now: datetime | None = None) -> str:
    """Sign `user` in to the web app in `client`'s cookie jar, as the sign-in form would (a token family
    of its own), without the password hashing; return the session's CSRF token."""
    import secrets

    pair = tokens.issue(user, now=now or datetime.now(UTC), access_ttl=12 * 3600, refresh_ttl=0)
    db.session.commit()
    csrf = secrets.token_urlsafe(16)
    with client.session_transaction() as session:
        session.clear()
        session.update(token=pair.access_token, seen=int((now or datetime.now(UTC)).timestamp()), csrf=csrf)
    return csrf
