"""The shipped templates: each names its evidence, loads, drafts and can be prescribed as it stands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from hep.config import PROJECT_ROOT
from hep.content import load_shipped
from hep.library.loader import LibraryError, read_library
from hep.programs.templates import read_templates

TEMPLATES = PROJECT_ROOT / "exercises" / "templates"
KEYS = sorted(p.stem for p in TEMPLATES.glob("*.yaml"))


@pytest.fixture
def library(app):
    load_shipped(PROJECT_ROOT / "exercises", now=datetime(2026, 11, 1, tzinfo=UTC))


def test_every_template_names_what_it_follows_from_a_guideline_or_trial():
    entries = read_library(PROJECT_ROOT / "exercises")
    templates = read_templates(TEMPLATES, set(entries))
    assert sorted(templates) == KEYS and len(KEYS) == 10
    for key, data in templates.items():
        assert data["sources"], key
        assert any(s["kind"] in ("guideline", "trial") for s in data["sources"]), key
        assert all(s["citation"] and s["follows"] and 1990 < s["year"] <= 2026 for s in data["sources"]), key


def test_a_shipped_template_without_sources_is_refused(tmp_path):
    data = yaml.safe_load((TEMPLATES / "carpal-tunnel.yaml").read_text())
    del data["sources"]
    (tmp_path / "carpal-tunnel.yaml").write_text(yaml.safe_dump(data))
    slugs = set(read_library(PROJECT_ROOT / "exercises"))
    with pytest.raises(LibraryError, match=r"^carpal-tunnel.yaml: sources: name at least one"):
        read_templates(tmp_path, slugs)


def test_every_template_drafts_and_is_prescribed_unchanged(client, make, library):
    physio = make.physio()
    patient = make.patient(physio.clinic, physio)
    headers = make.headers(physio)
    for key in KEYS:
        draft = client.get(f"/api/v1/templates/{key}/draft?start_date=2026-11-16", headers=headers)
        assert draft.status_code == 200, (key, draft.json)
        created = client.post(f"/api/v1/patients/{patient.id}/routines", headers=headers, json=draft.json)
        assert created.status_code == 201, (key, created.json)
        assert created.json["current"]["template"] == key


def test_a_template_read_shows_its_sources_safety_and_the_pain_rule(client, make, library):
    body = client.get("/api/v1/templates/carpal-tunnel", headers=make.headers(make.physio())).json
    assert {s["year"] for s in body["sources"]} >= {2019, 2012}
    keys = [b["key"] for b in body["safety"]]
    assert keys.index("after-needling") < keys.index("carpal-tunnel")  # the most urgent first
    referral = next(b for b in body["safety"] if b["key"] == "carpal-tunnel")
    assert any("base of your thumb" in line for line in referral["lines"])
    assert "next morning" in body["pain_rule"]
    items = [i["exercise"] for phase in body["phases"] for i in phase["items"]]
    assert "wrist-night-splint" in items and "wrist-prayer-stretch" not in items


def shipped(key: str) -> dict:
    return yaml.safe_load((TEMPLATES / f"{key}.yaml").read_text())


def items_of(template: dict, exercise: str) -> list[tuple[int, dict]]:
    return [(p["start_week"], i) for p in template["phases"] for i in p["items"] if i["exercise"] == exercise]


def test_achilles_loads_by_rep_max_from_15_to_6_then_hops():
    t = shipped("achilles-tendinopathy")
    assert [i["rep_max"] for _w, i in items_of(t, "calf-raise-standing-weighted")] == [15, 12, 10, 8, 6, 6]
    assert [w for w, _i in items_of(t, "ankle-hop-double-leg")] == [9]
    assert [w for w, _i in items_of(t, "ankle-hop-single-leg")] == [11]


def test_patellar_runs_heavy_slow_resistance_then_energy_storage_with_criteria():
    t = shipped("patellar-tendinopathy")
    assert [i["rep_max"] for _w, i in items_of(t, "knee-squat-goblet")] == [15, 12, 10, 8, 6, 6]
    jumps = items_of(t, "knee-jump-landing-double-leg") + items_of(t, "knee-hop-landing-single-leg")
    assert [w for w, _i in jumps] == [9, 11] and all("pain rule" in i["notes"] for _w, i in jumps)


def test_rotator_cuff_works_above_shoulder_height_from_week_7():
    t = shipped("rotator-cuff-impingement")
    assert [w for w, _i in items_of(t, "shoulder-overhead-press-dumbbell")] == [7]
    assert all(i.get("rep_max") for _w, i in items_of(t, "shoulder-side-lying-external-rotation"))


def test_low_back_strength_lifts_past_5_kg_progresses_the_side_plank_and_walks_150_minutes():
    t = shipped("low-back-pain-strength")
    ((_w, lift),) = items_of(t, "lb-lift-from-floor")
    assert "past 10 kg" in lift["load"] and lift["rep_max"]
    planks = [p["items"][i]["exercise"] for p in t["phases"] for i in range(len(p["items"]))]
    assert [e for e in planks if e.startswith("core-side-plank")] == [
        "core-side-plank-wall",
        "core-side-plank-knees",
        "core-side-plank-feet",
    ]
    walk = t["phases"][-1]["items"][-1]
    assert walk["sets"] * walk["hold_seconds"] * walk["days_per_week"] // 60 == 150


def test_neck_progresses_the_chin_nod_to_10_by_10_seconds_with_isometrics_and_prone_raises():
    t = shipped("neck-pain-early")
    ((_w, nod),) = items_of(t, "neck-chin-nod-endurance-lying")
    assert (nod["reps"], nod["hold_seconds"]) == (10, 10)
    exercises = {i["exercise"] for p in t["phases"] for i in p["items"]}
    assert {f"neck-isometric-{d}" for d in ("flexion", "extension", "side-bend", "rotation")} <= exercises
    assert {"shoulder-prone-t", "shoulder-prone-y", "shoulder-band-row"} <= exercises


def test_tension_headache_keeps_a_daily_diary_with_strength_and_walking():
    t = shipped("tension-headache")
    assert [w for w, i in items_of(t, "head-headache-diary") if i["days_per_week"] == 7] == [1, 3, 7]
    exercises = {i["exercise"] for p in t["phases"] for i in p["items"]}
    assert {"shoulder-shrug-dumbbell", "shoulder-lateral-raise-dumbbell", "lb-walking-program-brisk"} <= exercises


def test_heel_pain_loads_one_leg_from_the_start_to_5_by_8_by_week_5():
    t = shipped("plantar-fasciitis")
    first = t["phases"][0]["items"][0]
    assert first["exercise"] == "calf-raise-towel-toes-single-leg" and first["rep_max"] == 12
    ((week, heavy),) = [(w, i) for w, i in items_of(t, "calf-raise-towel-toes-single-leg-loaded") if i["sets"] == 5]
    assert (week, heavy["reps"], heavy["rep_max"]) == (5, 8, 8)
