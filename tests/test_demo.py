"""The demo clinic's stories hold on any day: Vera keeps going, Liam stopped, Sofia's pain climbs.

`seed-demo` (and `python3 tasks.py run`) on a later day moves the demo history forward to today, once,
without duplicating anything and without touching anyone else's data.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
import yaml

from hep import demo
from hep.accounts.models import User
from hep.adherence.models import AdherenceLog, PainReport
from hep.content import load_shipped
from hep.extensions import db
from hep.programs.models import Routine, RoutineVersion
from hep.sessions.models import NeedlingSession
from tests.factories import item, routine_body

SHIPPED = Path(__file__).resolve().parent.parent / "exercises"
SEEDED = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # day D
LATER = SEEDED + timedelta(days=4)  # D+4


@pytest.fixture(scope="session")
def demo_library(tmp_path_factory) -> Path:
    """The shipped demo templates and the exercises they name, without figures or links (fast to load)."""
    folder = tmp_path_factory.mktemp("demo-library")
    shutil.copytree(SHIPPED / "safety", folder / "safety")
    (folder / "templates").mkdir()
    slugs = set()
    for key in {p["template"] for p in demo.PATIENTS}:
        shutil.copy(SHIPPED / "templates" / f"{key}.yaml", folder / "templates")
        template = yaml.safe_load((SHIPPED / "templates" / f"{key}.yaml").read_text())
        slugs |= {i["exercise"] for phase in template["phases"] for i in phase["items"]}
    for slug in slugs:
        data = yaml.safe_load((SHIPPED / f"{slug}.yaml").read_text())
        data["progressions"], data["regressions"] = [], []
        (folder / f"{slug}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))
    (folder / "figures").mkdir()
    (folder / "figures" / "PENDING").write_text("\n".join(sorted(slugs)) + "\n")
    return folder


@pytest.fixture
def seeded(app, demo_library):
    load_shipped(demo_library, now=SEEDED)
    demo.seed(now=SEEDED)


def physio() -> User:
    return db.session.scalar(sa.select(User).where(User.email == "physio@demo.hep.test"))


def patient(name: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == f"{name}@demo.hep.test"))


def risk(client, make, at: datetime) -> dict[str, dict]:
    with time_machine.travel(at, tick=False):
        rows = client.get("/api/v1/risk", headers=make.headers(physio())).json["items"]
    return {row["name"].split()[0]: row for row in rows}


def stories(rows: dict[str, dict]) -> dict[str, list[tuple[str, str]]]:
    return {name: [(r["code"], r["detail"]) for r in row["reasons"]] for name, row in rows.items()}


def codes(rows: dict[str, dict]) -> dict[str, list[str]]:
    """The reasons, without their figures (a point of adherence moves with the weekday)."""
    return {name: [r["code"] for r in row["reasons"]] for name, row in rows.items()}


def counts() -> tuple[int, ...]:
    return tuple(
        db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Routine, RoutineVersion, AdherenceLog, NeedlingSession, PainReport, User)
    )


def test_on_the_day_it_is_seeded_vera_keeps_going_liam_stopped_and_sofias_pain_climbs(client, make, seeded):
    rows = risk(client, make, SEEDED)
    assert stories(rows)["Vera"] == []
    liam = dict(stories(rows)["Liam"])
    assert liam["inactive"] == "no exercise logged for 6 days" and set(liam) == {"inactive", "adherence_drop"}
    [(code, detail)] = stories(rows)["Sofia"]
    assert code == "pain_rising" and "texted pain rose" in detail


def test_four_days_later_the_stories_read_the_same(client, make, seeded):
    on_the_day = codes(risk(client, make, SEEDED))
    demo.seed(now=LATER)
    rows = risk(client, make, LATER)
    assert (
        codes(rows)
        == on_the_day
        == {
            "Liam": ["inactive", "adherence_drop"],
            "Sofia": ["pain_rising"],
            "Vera": [],
        }
    )
    assert dict(stories(rows)["Liam"])["inactive"] == "no exercise logged for 6 days"
    assert "texted pain rose" in dict(stories(rows)["Sofia"])["pain_rising"]


def test_without_seeding_again_four_days_later_everyone_reads_inactive(client, make, seeded):
    """Why `seed-demo` moves the history: left where it was laid out, the stories fade."""
    assert all("inactive" in reasons for reasons in codes(risk(client, make, LATER)).values())


def test_four_days_later_vera_has_her_streak_and_liam_his_six_days(client, make, seeded):
    demo.seed(now=LATER)
    with time_machine.travel(LATER, tick=False):
        vera = client.get(f"/api/v1/patients/{patient('vera').id}/adherence", headers=make.headers(physio())).json
        liam = client.get(f"/api/v1/patients/{patient('liam').id}/adherence", headers=make.headers(physio())).json
    assert vera["streak"] >= 2 and vera["last_activity"] == str(date.fromisoformat(vera["today"]) - timedelta(days=1))
    assert liam["last_activity"] == str(date.fromisoformat(liam["today"]) - timedelta(days=6))


def test_four_days_later_the_booked_session_is_still_ahead(seeded):
    demo.seed(now=LATER)
    ahead = db.session.scalars(sa.select(NeedlingSession).where(NeedlingSession.status == "scheduled")).all()
    assert len(ahead) == 3 and all(s.starts_at > LATER for s in ahead)


def test_moving_the_history_duplicates_nothing_and_happens_once_a_day(seeded):
    before = counts()
    demo.seed(now=LATER)
    moved = {v.id: v.start_date for v in db.session.scalars(sa.select(RoutineVersion))}
    demo.seed(now=LATER + timedelta(minutes=30))  # still the same day in Vancouver, London and Sydney
    assert counts() == before
    assert {v.id: v.start_date for v in db.session.scalars(sa.select(RoutineVersion))} == moved


def test_moving_the_demo_history_leaves_other_patients_alone(make, seeded):
    make.exercise(slug="daily")
    other = make.patient(timezone="Europe/London", email="vera@demo.hep.test")  # same e-mail, another clinic
    make.routine(other, routine_body(date(2026, 11, 2), items=[item("daily")]), now=SEEDED)
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == other.id))
    at = datetime.combine(date(2026, 11, 17), time(9), ZoneInfo("Europe/London"))
    make.log(other, routine.current.phases[0].items[0].id, at, now=SEEDED)
    demo.seed(now=LATER)
    db.session.expire_all()
    assert db.session.get(Routine, routine.id).current.start_date == date(2026, 11, 2)
    log = db.session.scalar(sa.select(AdherenceLog).where(AdherenceLog.patient_id == other.id))
    assert log.local_date == date(2026, 11, 17)
    assert db.session.get(User, other.id).password_hash is None  # not given the demo password


def test_seed_demo_prints_the_texts_it_queued_and_when_they_go_out(app, demo_library):
    load_shipped(demo_library, now=SEEDED)
    night_in_vancouver = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # 02:00 in Vancouver, 21:00 in Sydney
    with time_machine.travel(night_in_vancouver, tick=False):
        result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["clinic"] == demo.CLINIC_NAME
    assert "Wed 18 Nov 08:00 America/Vancouver (in 6 h 00 min): confirmation to Vera Vancouver" in result.stderr
    assert "Thu 19 Nov 08:00 Australia/Sydney (in 11 h 00 min): confirmation to Sofia Sydney" in result.stderr
