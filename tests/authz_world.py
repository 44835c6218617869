"""Two clinics with every kind of user, for the authorization matrix."""

from __future__ import annotations

from dataclasses import dataclass, field

from hep.accounts.models import User
from tests.factories import FIGURE, Factories

ANON, SELF, PEER, PHYSIO, ADMIN = "anonymous", "patient", "other_patient", "physio", "admin"
OUT_PATIENT, OUT_PHYSIO, OUT_ADMIN = "outsider_patient", "outsider_physio", "outsider_admin"
ACTORS = (ANON, SELF, PEER, PHYSIO, ADMIN, OUT_PATIENT, OUT_PHYSIO, OUT_ADMIN)
PATIENTS = (SELF, PEER, OUT_PATIENT)
STAFF = (PHYSIO, ADMIN, OUT_PHYSIO, OUT_ADMIN)
AUTHENTICATED = ACTORS[1:]


@dataclass
class World:
    users: dict[str, User] = field(default_factory=dict)
    headers: dict[str, dict] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def patient(self) -> User:
        return self.users[SELF]

    @property
    def physio(self) -> User:
        return self.users[PHYSIO]


def build(make: Factories) -> World:
    """Clinic A (the target) and clinic B (the outsiders); objects under test belong to A."""
    world = World()
    home, away = make.clinic(name="Home clinic"), make.clinic(name="Away clinic")
    world.users[PHYSIO] = make.physio(home)
    world.users[ADMIN] = make.admin(home)
    world.users[SELF] = make.patient(home, world.users[PHYSIO])
    world.users[PEER] = make.patient(home, world.users[PHYSIO])
    world.users[OUT_PHYSIO] = make.physio(away)
    world.users[OUT_ADMIN] = make.admin(away)
    world.users[OUT_PATIENT] = make.patient(away, world.users[OUT_PHYSIO])
    world.headers = {actor: make.headers(user) for actor, user in world.users.items()}
    world.headers[ANON] = {}
    world.extra["home_exercise"] = make.exercise(home, slug="home-clinic-exercise", figure=FIGURE)
    world.extra["library_exercise"] = make.exercise(slug="library-exercise")
    _program(make, world)
    return world


def _program(make: Factories, world: World) -> None:
    """A routine with one logged entry for the target patient, and a template of the home clinic."""
    from datetime import UTC, datetime, timedelta

    from hep.programs import templates
    from hep.programs.schemas import TemplateInSchema
    from tests.factories import item, routine_body

    now = datetime.now(UTC)
    routine = make.routine(
        world.patient, routine_body(now.date() - timedelta(days=7), items=[item("library-exercise")]), now=now
    )
    world.extra["routine"] = routine
    world.extra["item_id"] = routine.current.phases[0].items[0].id
    from hep.sessions import service as sessions

    world.extra["session"] = sessions.schedule(
        world.physio, world.patient.id, {"starts_at": now + timedelta(days=3), "duration_minutes": 30}, now=now
    )
    from hep.reminders import consent

    world.patient.phone = "+447400100001"
    consent.grant(world.physio, world.patient.id, "verbal", now=now)
    world.extra["log_id"] = make.log(world.patient, world.extra["item_id"], now - timedelta(hours=1))["id"]
    templates.create_template(
        world.physio,
        TemplateInSchema().load(
            {
                "key": "home-template",
                "name": "Home template",
                "condition": "neck-pain",
                "summary": "Our neck protocol.",
                "duration_weeks": 2,
                "phases": [{"name": "All", "start_week": 1, "items": [item("library-exercise")]}],
            }
        ),
        now=now,
    )
