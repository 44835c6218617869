"""Safety blocks: written once in exercises/safety/, required by region, shown wherever exercises are."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from hep.content import load_shipped
from hep.library.loader import LibraryError, read_library
from tests.factories import NOW, exercise_data, item, routine_body

BACK = {
    "key": "low-back",
    "title": "Back pain: when to get help",
    "priority": 10,
    "lines": ["Go to an emergency department if you lose bladder control."],
    "applies_to": [{"body_regions": ["lower-back"]}],
    "sources": [
        {
            "citation": "Finucane LM et al. International framework for red flags. JOSPT 2020.",
            "year": 2020,
            "kind": "consensus",
            "follows": "The warning signs of serious spinal problems.",
        }
    ],
}
NEEDLING = {
    **BACK,
    "key": "after-needling",
    "title": "After needling",
    "priority": 20,
    "lines": ["Soreness for 2 to 3 days is normal."],
    "applies_to": [{"all": True}],
}
HOLDS = {
    **BACK,
    "key": "long-holds",
    "title": "Long holds",
    "priority": 30,
    "lines": ["Breathe steadily."],
    "applies_to": [{"categories": ["isometric"], "min_hold_seconds": 15}],
}


def write(folder: Path, data: dict, sub: str = "") -> None:
    target = folder / sub
    target.mkdir(exist_ok=True)
    name = data.get("slug") or data["key"]
    (target / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def folder(tmp_path) -> Path:
    for block in (BACK, NEEDLING, HOLDS):
        write(tmp_path, block, "safety")
    return tmp_path


def test_a_file_missing_its_regions_block_is_refused_naming_file_and_block(folder):
    write(folder, exercise_data(slug="cat-camel", body_regions=["lower-back"]))
    with pytest.raises(LibraryError) as caught:
        read_library(folder)
    assert (caught.value.filename, caught.value.field) == ("cat-camel.yaml", "safety")
    assert "'low-back'" in caught.value.problem and "body region lower-back" in caught.value.problem


def test_a_listed_block_is_accepted_and_the_universal_one_is_added_without_listing(folder):
    write(folder, exercise_data(slug="cat-camel", body_regions=["lower-back"], safety=["low-back"]))
    write(folder, exercise_data(slug="neck-turns"))
    entries = read_library(folder)
    assert entries["cat-camel"]["safety"] == ["low-back", "after-needling"]
    assert entries["neck-turns"]["safety"] == ["after-needling"]


def test_a_hold_block_applies_only_from_its_minimum_hold(folder):
    dosage = {"sets": 5, "hold_seconds": 45}
    write(folder, exercise_data(slug="wall-sit", category="isometric", default_dosage=dosage))
    write(folder, exercise_data(slug="quad-set", category="isometric", default_dosage={"sets": 1, "hold_seconds": 5}))
    with pytest.raises(LibraryError, match=r"^wall-sit.yaml: safety: must list 'long-holds'.*a 45 s hold"):
        read_library(folder)
    write(folder, exercise_data(slug="wall-sit", category="isometric", default_dosage=dosage, safety=["long-holds"]))
    assert read_library(folder)["quad-set"]["safety"] == ["after-needling"]


def test_an_unknown_block_is_refused_naming_the_entry(folder):
    write(folder, exercise_data(slug="neck-turns", safety=["after-needling", "volcano"]))
    with pytest.raises(LibraryError, match=r"^neck-turns.yaml: safety.1: names 'volcano'"):
        read_library(folder)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"applies_to": [{}]}, "applies_to.0"),
        ({"applies_to": [{"min_hold_seconds": 10}]}, "applies_to.0.min_hold_seconds"),
        ({"applies_to": [{"all": True, "conditions": ["neck-pain"]}]}, "applies_to.0.all"),
        ({"sources": []}, "sources"),
        ({"lines": []}, "lines"),
    ],
)
def test_a_bad_block_file_is_refused_naming_it(folder, change, field):
    write(folder, {**BACK, **change}, "safety")
    with pytest.raises(LibraryError) as caught:
        read_library(folder)
    assert (caught.value.filename, caught.value.field) == ("safety/low-back.yaml", field)


def test_blocks_load_with_the_library_and_a_changed_text_is_shown(app, client, make, folder):
    write(folder, exercise_data(slug="cat-camel", body_regions=["lower-back"], safety=["low-back"]))
    load_shipped(folder, now=NOW)
    headers = make.headers(make.physio())
    shown = client.get("/api/v1/exercises/cat-camel", headers=headers).json["safety"]
    assert [b["key"] for b in shown] == ["low-back", "after-needling"]
    assert shown[0]["lines"] == BACK["lines"] and shown[0]["sources"][0]["year"] == 2020
    write(folder, {**BACK, "lines": ["Call for help."]}, "safety")
    load_shipped(folder, now=NOW)
    assert client.get("/api/v1/exercises/cat-camel", headers=headers).json["safety"][0]["lines"] == ["Call for help."]


def test_a_clinic_exercise_gets_the_blocks_its_regions_need(app, client, make, folder):
    load_shipped(folder, now=NOW)
    headers = make.headers(make.physio())
    body = {k: v for k, v in exercise_data(body_regions=["lower-back"]).items() if k != "slug"}
    created = client.post("/api/v1/exercises", headers=headers, json=body)
    assert created.status_code == 201, created.json
    assert [b["key"] for b in created.json["safety"]] == ["low-back", "after-needling"]
    unknown = client.post("/api/v1/exercises", headers=headers, json={**body, "name": "Other", "safety": ["volcano"]})
    assert unknown.status_code == 422
    assert unknown.json["invalid_params"][0]["name"] == "safety"


@pytest.fixture
def loaded(app, make, folder):
    write(folder, exercise_data(slug="cat-camel", body_regions=["lower-back"], safety=["low-back"]))
    write(folder, exercise_data(slug="neck-turns"))
    load_shipped(folder, now=NOW)
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, timezone="UTC")
    start = date(2026, 11, 16)
    make.routine(patient, routine_body(start, items=[item("cat-camel"), item("neck-turns")]), now=NOW)
    return {"physio": physio, "patient": patient}


def test_todays_plan_shows_each_block_once_and_which_exercise_carries_it(client, make, loaded):
    plan = client.get(f"/api/v1/patients/{loaded['patient'].id}/today", headers=make.headers(loaded["patient"])).json
    assert [b["key"] for b in plan["safety"]] == ["low-back", "after-needling"]
    assert [i["safety"] for i in plan["items"]] == [["low-back", "after-needling"], ["after-needling"]]
    assert "up to 5 out of 10" in plan["pain_rule"]


def test_the_routine_read_shows_blocks_and_the_clinics_pain_rule(client, make, loaded, app):
    from hep.extensions import db

    loaded["physio"].clinic.pain_rule_max = 3
    db.session.commit()
    routine = client.get(f"/api/v1/patients/{loaded['patient'].id}/routine", headers=make.headers(loaded["patient"]))
    body = routine.json
    assert [b["title"] for b in body["safety"]] == ["Back pain: when to get help", "After needling"]
    assert body["routines"][0]["items"][0]["instructions"]["safety"] == ["low-back", "after-needling"]
    assert "up to 3 out of 10" in body["pain_rule"] and "next morning" in body["pain_rule"]


def test_the_clinic_admin_sets_the_pain_rule_within_the_models_limit(client, make):
    admin = make.admin()
    headers = make.headers(admin)
    assert client.get("/api/v1/clinic", headers=headers).json["pain_rule_max"] == 5
    assert client.patch("/api/v1/clinic", headers=headers, json={"pain_rule_max": 3}).json["pain_rule_max"] == 3
    refused = client.patch("/api/v1/clinic", headers=headers, json={"pain_rule_max": 8})
    assert refused.status_code == 422 and refused.json["invalid_params"][0]["name"] == "pain_rule_max"


def test_the_pain_rule_says_no_pain_when_the_clinic_allows_none():
    from hep.library.safety import pain_rule_text

    assert "should not hurt" in pain_rule_text(0)
    assert "up to 4 out of 10" in pain_rule_text(4)
