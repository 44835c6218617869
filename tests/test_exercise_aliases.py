"""Merged exercises: the retired slug stays an alias, so prescriptions, logs, links and reads keep working."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
import yaml
from sqlalchemy import select

from hep.adherence.models import AdherenceLog
from hep.content import load_shipped
from hep.extensions import db
from hep.library.loader import LibraryError, read_library
from hep.library.models import Exercise, ExerciseAlias
from hep.programs.models import RoutineItem
from hep.programs.templates import read_templates
from tests.factories import NOW, exercise_data, item, routine_body, web_sign_in

START = date(2026, 11, 16)


def write(folder: Path, data: dict) -> None:
    (folder / f"{data['slug']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def folder(tmp_path) -> Path:
    write(tmp_path, exercise_data(slug="open-book", name="Open book"))
    write(tmp_path, exercise_data(slug="open-book-rotation", name="Open book rotation"))
    return tmp_path


def merge(folder: Path) -> None:
    """The second file is folded into the first, which keeps its slug as an alias."""
    (folder / "open-book-rotation.yaml").unlink()
    write(folder, exercise_data(slug="open-book", name="Open book", aliases=["open-book-rotation"]))


def test_an_alias_that_is_still_a_file_is_refused(folder):
    write(folder, exercise_data(slug="open-book", aliases=["open-book-rotation"]))
    with pytest.raises(LibraryError, match=r"^open-book.yaml: aliases.0: 'open-book-rotation' is still an exercise"):
        read_library(folder)


def test_an_alias_kept_by_two_files_is_refused(folder):
    merge(folder)
    write(folder, exercise_data(slug="thread-the-needle", aliases=["open-book-rotation"]))
    with pytest.raises(LibraryError, match=r"aliases.0: 'open-book-rotation' is already kept by open-book.yaml"):
        read_library(folder)


def test_a_shipped_template_must_use_the_surviving_slug(tmp_path):
    template = {
        "key": "upper-back",
        "name": "Upper back",
        "condition": "posture",
        "summary": "Moves the upper back.",
        "duration_weeks": 2,
        "phases": [{"name": "All", "start_week": 1, "items": [item("open-book-rotation")]}],
        "sources": [
            {
                "citation": "A guideline on exercise, 2020.",
                "year": 2020,
                "kind": "guideline",
                "follows": "Exercise helps.",
            }
        ],
    }
    (tmp_path / "upper-back.yaml").write_text(yaml.safe_dump(template))
    with pytest.raises(LibraryError, match="'open-book-rotation' was merged into 'open-book'; use that"):
        read_templates(tmp_path, {"open-book"}, {"open-book-rotation": "open-book"})


@pytest.fixture
def prescribed(app, make, folder):
    """A routine and a log made with the slug that is about to be retired."""
    load_shipped(folder, now=NOW)
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, timezone="UTC")
    routine = make.routine(patient, routine_body(START, items=[item("open-book-rotation", sets=2)]), now=NOW)
    item_id = routine.current.phases[0].items[0].id
    assert make.log(patient, item_id, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), sets_done=2)["status"] == "created"
    return {"physio": physio, "patient": patient, "routine_id": routine.id, "item_id": item_id}


def survivor_id() -> int:
    return db.session.scalar(select(Exercise.id).where(Exercise.slug == "open-book"))


def test_loading_a_merge_repoints_prescriptions_and_logs_to_the_survivor(app, folder, prescribed):
    merge(folder)
    report, _ = load_shipped(folder, now=NOW)
    assert report.merged == ["open-book-rotation"] and report.archived == []
    assert db.session.get(RoutineItem, prescribed["item_id"]).exercise_id == survivor_id()
    assert {log.exercise_id for log in db.session.scalars(select(AdherenceLog))} == {survivor_id()}
    assert db.session.get(ExerciseAlias, "open-book-rotation").exercise_id == survivor_id()
    assert db.session.scalar(select(Exercise).where(Exercise.slug == "open-book-rotation")) is None
    assert load_shipped(folder, now=NOW)[0].as_dict()["merged"] == 0  # a second load changes nothing


def test_the_merged_prescription_still_counts_its_logs(client, make, folder, prescribed):
    merge(folder)
    load_shipped(folder, now=NOW)
    with time_machine.travel(datetime(2026, 11, 23, 18, 0, tzinfo=UTC), tick=False):
        headers = make.headers(prescribed["patient"])
        view = client.get(f"/api/v1/patients/{prescribed['patient'].id}/adherence?days=1", headers=headers).json
        plan = client.get(f"/api/v1/patients/{prescribed['patient'].id}/today", headers=headers).json
    assert (view["days"][-1]["due"], view["days"][-1]["done"]) == (1.0, 1.0)
    assert plan["items"][0]["exercise"]["slug"] == "open-book" and plan["items"][0]["done_today"] == 1


def test_reading_the_old_slug_answers_the_merged_exercise(client, make, folder, prescribed):
    merge(folder)
    load_shipped(folder, now=NOW)
    response = client.get("/api/v1/exercises/open-book-rotation", headers=make.headers(prescribed["physio"]))
    assert response.status_code == 200
    assert (response.json["slug"], response.json["aliases"]) == ("open-book", ["open-book-rotation"])


def test_a_new_prescription_or_template_with_the_old_slug_means_the_survivor(client, make, folder, prescribed):
    merge(folder)
    load_shipped(folder, now=NOW)
    headers = make.headers(prescribed["physio"])
    created = client.post(
        f"/api/v1/patients/{prescribed['patient'].id}/routines",
        headers=headers,
        json=routine_body(START, items=[item("open-book-rotation")]),
    )
    assert created.status_code == 201, created.json
    assert created.json["current"]["phases"][0]["items"][0]["exercise"] == "open-book"
    template = {
        "key": "our-upper-back",
        "name": "Our upper back",
        "condition": "posture",
        "summary": "Moves the upper back.",
        "duration_weeks": 2,
        "phases": [{"name": "All", "start_week": 1, "items": [item("open-book-rotation")]}],
    }
    assert client.post("/api/v1/templates", headers=headers, json=template).status_code == 201


def test_a_clinic_exercise_linking_the_old_slug_still_shows_the_link(client, make, folder, prescribed):
    merge(folder)
    load_shipped(folder, now=NOW)
    headers = make.headers(prescribed["physio"])
    body = exercise_data(name="Our open book", regressions=["open-book-rotation"])
    del body["slug"]
    created = client.post("/api/v1/exercises", headers=headers, json=body)
    assert created.status_code == 201, created.json
    assert [link["slug"] for link in created.json["regressions"]] == ["open-book"]


def test_the_web_page_of_the_old_slug_redirects_to_the_merged_one(client, folder, prescribed):
    merge(folder)
    load_shipped(folder, now=NOW)
    web_sign_in(client, prescribed["physio"])
    response = client.get("/library/open-book-rotation")
    assert response.status_code == 301 and response.headers["Location"].endswith("/library/open-book")
    assert "Replaces open-book-rotation" in client.get("/library/open-book").get_data(as_text=True)
