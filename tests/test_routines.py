"""Prescribing routines: validation, phases, versions that keep history right, templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from hep.adherence.models import AdherenceLog
from hep.extensions import db
from hep.programs.models import Routine
from hep.programs.schedule import items_on
from hep.programs.service import routines_for
from tests.factories import item, routine_body

START = date(2026, 11, 16)  # a Monday


@pytest.fixture
def physio(make):
    return make.physio()


@pytest.fixture
def headers(make, physio):
    return make.headers(physio)


@pytest.fixture
def patient(make, physio):
    return make.patient(physio.clinic, physio, timezone="Europe/London")


@pytest.fixture
def exercises(make):
    return [make.exercise(slug=slug) for slug in ("bridge", "bird-dog", "side-plank")]


def post(client, headers, patient, body):
    return client.post(f"/api/v1/patients/{patient.id}/routines", headers=headers, json=body)


def test_physio_prescribes_a_routine_with_dosage(client, headers, patient, exercises):
    body = routine_body(
        START,
        items=[
            item(
                "bridge",
                sets=2,
                reps=12,
                rest_seconds=45,
                side="left",
                load="yellow band",
                times_per_day=2,
                weekdays=["fri", "mon"],
                notes="Slow on the way down",
            )
        ],
    )
    response = post(client, headers, patient, body)
    assert response.status_code == 201, response.json
    prescribed = response.json["current"]["phases"][0]["items"][0]
    assert prescribed | {"id": 0} == {
        "id": 0,
        "exercise": "bridge",
        "exercise_name": exercises[0].name,
        "sets": 2,
        "reps": 12,
        "hold_seconds": None,
        "rest_seconds": 45,
        "side": "left",
        "load": "yellow band",
        "rep_max": None,
        "progression": None,
        "times_per_day": 2,
        "days_per_week": None,
        "weekdays": ["mon", "fri"],
        "notes": "Slow on the way down",
    }
    assert response.json["current"]["number"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"exercise": "no-such-exercise"}, "phases.0.items.0.exercise"),
        ({"sets": 0}, "phases.0.items.0.sets"),
        ({"reps": 101}, "phases.0.items.0.reps"),
        ({"reps": None, "hold_seconds": None}, "phases.0.items.0.reps"),
        ({"hold_seconds": 301}, "phases.0.items.0.hold_seconds"),
        ({"times_per_day": 7}, "phases.0.items.0.times_per_day"),
        ({"days_per_week": 3, "weekdays": ["mon"]}, "phases.0.items.0.weekdays"),
        ({"weekdays": ["mon", "funday"]}, "phases.0.items.0.weekdays.1"),
        ({"side": "middle"}, "phases.0.items.0.side"),
        ({"reps": 5, "rep_max": 5}, "phases.0.items.0.rep_max"),
        ({"rep_max": 31}, "phases.0.items.0.rep_max"),
        ({"reps": 15, "rep_max": 12}, "phases.0.items.0.reps"),
        ({"reps": None, "hold_seconds": 30, "rep_max": 12}, "phases.0.items.0.rep_max"),
        ({"progression": "x" * 301}, "phases.0.items.0.progression"),
        ({"progression": ""}, "phases.0.items.0.progression"),
    ],
)
def test_bad_items_are_rejected_naming_the_field(client, headers, patient, exercises, change, field):
    response = post(client, headers, patient, routine_body(START, items=[{**item("bridge"), **change}]))
    assert response.status_code == 422
    assert field in [p["name"] for p in response.json["invalid_params"]]
    assert db.session.scalar(db.select(db.func.count()).select_from(Routine)) == 0


def test_load_by_repetition_maximum_is_kept_shown_and_snapshotted(client, make, headers, patient, exercises):
    rule = "When you can do 2 more than asked on every set, add about 5%."
    heavy = item("bridge", sets=4, reps=8, rep_max=8, progression=rule, load="a backpack with books")
    routine = post(client, headers, patient, routine_body(START, items=[heavy])).json
    stored = routine["current"]["phases"][0]["items"][0]
    assert (stored["rep_max"], stored["progression"], stored["load"]) == (8, rule, "a backpack with books")
    mine = make.headers(patient)
    with time_machine.travel(datetime(2026, 11, 17, 12, 0, tzinfo=UTC), tick=False):
        plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=mine).json
        make.log(patient, stored["id"], datetime(2026, 11, 17, 11, 0, tzinfo=UTC), sets_done=4)
    assert (plan["items"][0]["rep_max"], plan["items"][0]["progression"]) == (8, rule)
    log = db.session.scalar(db.select(AdherenceLog))
    assert (log.prescribed["rep_max"], log.prescribed["progression"]) == (8, rule)


def test_dates_must_be_in_order(client, headers, patient, exercises):
    body = routine_body(START, end=START - timedelta(days=1), items=[item("bridge")])
    assert post(client, headers, patient, body).json["invalid_params"][0]["name"] == "end_date"
    phases = [
        {"name": "A", "start_date": START, "items": [item("bridge")]},
        {"name": "B", "start_date": START, "items": [item("bird-dog")]},
    ]
    response = post(client, headers, patient, routine_body(START, phases=phases))
    assert response.json["invalid_params"][0]["name"] == "phases.1.start_date"


def test_archived_and_foreign_exercises_cannot_be_prescribed(client, make, headers, patient, exercises):
    make.exercise(make.clinic(), slug="elsewhere")
    make.exercise(slug="retired", archived_at=datetime(2026, 1, 1, tzinfo=UTC))
    for slug in ("elsewhere", "retired"):
        response = post(client, headers, patient, routine_body(START, items=[item(slug)]))
        assert response.status_code == 422


def test_clinic_exercises_can_be_prescribed_in_that_clinic(client, make, headers, patient, physio):
    make.exercise(physio.clinic, slug="house-special")
    assert post(client, headers, patient, routine_body(START, items=[item("house-special")])).status_code == 201


def test_another_clinics_patient_is_404(client, make, headers, exercises):
    stranger = make.patient()
    assert post(client, headers, stranger, routine_body(START, items=[item("bridge")])).status_code == 404


def test_phases_take_over_on_their_start_date(make, patient, exercises):
    phases = [
        {"name": "Weeks 1-2", "start_date": START, "items": [item("bridge")]},
        {"name": "Weeks 3-6", "start_date": START + timedelta(weeks=2), "items": [item("side-plank")]},
    ]
    make.routine(patient, routine_body(START, phases=phases, end=START + timedelta(weeks=6, days=-1)))
    routines = routines_for([patient.id])[patient.id]

    def slugs_on(day):
        return [i.slug for _, i in items_on(routines, day)]

    assert slugs_on(START - timedelta(days=1)) == []
    assert slugs_on(START + timedelta(days=13)) == ["bridge"]
    assert slugs_on(START + timedelta(days=14)) == ["side-plank"]
    assert slugs_on(START + timedelta(weeks=6)) == []


def test_saving_unchanged_content_creates_no_version(client, headers, patient, exercises):
    body = routine_body(START, items=[item("bridge")])
    routine_id = post(client, headers, patient, body).json["id"]
    again = client.put(f"/api/v1/routines/{routine_id}", headers=headers, json=body)
    assert again.status_code == 200 and again.json["version_count"] == 1


def test_editing_creates_a_version_and_old_ones_stay_readable(client, headers, patient, exercises):
    routine_id = post(client, headers, patient, routine_body(START, items=[item("bridge", sets=2)])).json["id"]
    edited = client.put(
        f"/api/v1/routines/{routine_id}", headers=headers, json=routine_body(START, items=[item("bridge", sets=4)])
    )
    assert edited.status_code == 201 and edited.json["current"]["number"] == 2
    first = client.get(f"/api/v1/routines/{routine_id}/versions/1", headers=headers).json
    assert first["phases"][0]["items"][0]["sets"] == 2
    listed = client.get(f"/api/v1/routines/{routine_id}/versions", headers=headers).json["items"]
    assert [v["number"] for v in listed] == [1, 2]


def test_logs_keep_the_prescription_they_were_done_against(client, make, headers, patient, exercises):
    with time_machine.travel(datetime(2026, 11, 18, 12, tzinfo=UTC), tick=False) as clock:
        routine_id = post(client, headers, patient, routine_body(START, items=[item("bridge", sets=2)])).json["id"]
        old_item = db.session.get(Routine, routine_id).current.phases[0].items[0]
        make.log(patient, old_item.id, datetime(2026, 11, 18, 9, tzinfo=UTC), sets_done=2)
        clock.shift(timedelta(days=1))
        client.put(
            f"/api/v1/routines/{routine_id}", headers=headers, json=routine_body(START, items=[item("bridge", sets=4)])
        )
        log = db.session.scalar(db.select(AdherenceLog))
        assert (log.prescribed["sets"], log.credit) == (2, 1.0)
        view = client.get(f"/api/v1/patients/{patient.id}/adherence?days=2", headers=headers).json
    # The 18th was governed by version 1 (2 sets, done in full); the 19th by version 2.
    assert [(d["date"], d["due"], d["done"]) for d in view["days"]] == [
        ("2026-11-18", 1.0, 1.0),
        ("2026-11-19", 1.0, 0.0),
    ]


def test_archived_routine_leaves_the_plan_but_stays_readable(client, make, headers, patient, exercises):
    routine_id = post(client, headers, patient, routine_body(START, items=[item("bridge")])).json["id"]
    assert client.delete(f"/api/v1/routines/{routine_id}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/routines/{routine_id}", headers=headers).status_code == 204
    plan = client.get(f"/api/v1/patients/{patient.id}/today", headers=make.headers(patient)).json
    assert plan["items"] == []
    assert client.get(f"/api/v1/routines/{routine_id}", headers=headers).json["archived"] is True


def test_patients_read_but_do_not_write_routines(client, make, headers, patient, exercises):
    routine_id = post(client, headers, patient, routine_body(START, items=[item("bridge")])).json["id"]
    mine = make.headers(patient)
    assert client.get(f"/api/v1/routines/{routine_id}", headers=mine).status_code == 200
    assert (
        client.put(
            f"/api/v1/routines/{routine_id}", headers=mine, json=routine_body(START, items=[item("bridge")])
        ).status_code
        == 403
    )


def test_shipped_templates_are_listed_and_laid_out_from_a_start_date(client, app, headers):
    from hep.config import PROJECT_ROOT
    from hep.content import load_shipped

    load_shipped(PROJECT_ROOT / "exercises", now=datetime(2026, 11, 1, tzinfo=UTC))
    listed = client.get("/api/v1/templates?condition=low-back-pain", headers=headers).json["items"]
    assert {t["key"] for t in listed} >= {"low-back-pain-early"}
    draft = client.get("/api/v1/templates/low-back-pain-early/draft?start_date=2026-11-16", headers=headers).json
    assert draft["start_date"] == "2026-11-16" and draft["phases"][1]["start_date"] == "2026-11-30"
    assert draft["end_date"] == "2026-12-27"  # six weeks


def test_a_draft_from_a_template_can_be_adjusted_and_prescribed(client, app, headers, patient):
    from hep.config import PROJECT_ROOT
    from hep.content import load_shipped

    load_shipped(PROJECT_ROOT / "exercises", now=datetime(2026, 11, 1, tzinfo=UTC))
    draft = client.get("/api/v1/templates/carpal-tunnel/draft?start_date=2026-11-16", headers=headers).json
    draft["phases"][0]["items"][0]["side"] = "right"
    created = post(client, headers, patient, draft)
    assert created.status_code == 201
    assert created.json["current"]["template"] == "carpal-tunnel"
    assert created.json["current"]["phases"][0]["items"][0]["side"] == "right"


def test_clinic_templates_are_private_and_keys_unique(client, make, headers, exercises):
    body = {
        "key": "our-back-protocol",
        "name": "Our back protocol",
        "condition": "low-back-pain",
        "summary": "The way we like to start backs.",
        "duration_weeks": 4,
        "phases": [{"name": "All of it", "start_week": 1, "items": [item("bridge")]}],
    }
    assert client.post("/api/v1/templates", headers=headers, json=body).status_code == 201
    assert client.post("/api/v1/templates", headers=headers, json=body).status_code == 409
    outsider = make.headers(make.physio())
    assert client.get("/api/v1/templates/our-back-protocol", headers=outsider).status_code == 404
