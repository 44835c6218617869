"""load-exercises: validate everything, upsert by slug, archive what was removed, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from hep.config import PROJECT_ROOT
from hep.content import load_shipped
from hep.extensions import db
from hep.library.loader import LibraryError, read_library
from hep.library.models import Exercise
from tests.factories import NOW, exercise_data

LIBRARY = PROJECT_ROOT / "exercises"


def write(directory: Path, data: dict) -> Path:
    path = directory / f"{data['slug']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    easy = exercise_data(slug="easy-one", progressions=["hard-one"])
    hard = exercise_data(slug="hard-one", regressions=["easy-one"], difficulty=3)
    for data in (easy, hard):
        write(tmp_path, data)
    return tmp_path


def library_rows() -> dict[str, Exercise]:
    return {e.slug: e for e in db.session.scalars(select(Exercise).where(Exercise.clinic_id.is_(None)))}


def test_first_load_creates_every_exercise(app, folder):
    report, _ = load_shipped(folder, now=NOW)
    assert sorted(report.created) == ["easy-one", "hard-one"]
    assert library_rows()["hard-one"].regressions == ["easy-one"]


def test_loading_twice_changes_nothing(app, folder):
    load_shipped(folder, now=NOW)
    before = {slug: (e.updated_at, e.content_hash) for slug, e in library_rows().items()}
    report, _ = load_shipped(folder, now=NOW.replace(year=2027))
    assert report.as_dict() == {"created": 0, "updated": 0, "unchanged": 2, "archived": 0, "restored": 0, "merged": 0}
    assert {slug: (e.updated_at, e.content_hash) for slug, e in library_rows().items()} == before


def test_edited_file_updates_in_place_keeping_the_row(app, folder):
    load_shipped(folder, now=NOW)
    row_id = library_rows()["easy-one"].id
    write(
        folder,
        exercise_data(slug="easy-one", name="Easier than ever", progressions=["hard-one"], body_regions=["shoulder"]),
    )
    report, _ = load_shipped(folder, now=NOW)
    assert report.updated == ["easy-one"]
    row = library_rows()["easy-one"]
    assert (row.id, row.name, row.body_regions) == (row_id, "Easier than ever", ["shoulder"])


def test_removed_file_archives_and_returning_file_restores(app, folder):
    load_shipped(folder, now=NOW)
    write(folder, exercise_data(slug="easy-one"))  # drop the link first, so the rest stays valid
    (folder / "hard-one.yaml").unlink()
    report, _ = load_shipped(folder, now=NOW)
    assert report.archived == ["hard-one"]
    assert library_rows()["hard-one"].archived_at == NOW
    write(folder, exercise_data(slug="hard-one"))
    assert load_shipped(folder, now=NOW)[0].restored == ["hard-one"]
    assert library_rows()["hard-one"].archived_at is None


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"difficulty": 9}, "difficulty", "less than or equal to 5"),
        ({"category": "cardio"}, "category", "Must be one of"),
        ({"colour": "blue"}, "colour", "Unknown field"),
        ({"default_dosage": {"sets": 2}}, "default_dosage.reps", "reps, hold_seconds or both"),
        ({"steps": []}, "steps", "Length must be"),
        ({"conditions": ["neck-pain", "gout"]}, "conditions.1", "Must be one of"),
    ],
)
def test_one_bad_file_fails_the_load_naming_file_field_and_problem(app, folder, change, field, problem):
    load_shipped(folder, now=NOW)
    before = {slug: e.content_hash for slug, e in library_rows().items()}
    write(folder, exercise_data(slug="new-good-one"))
    write(folder, {**exercise_data(slug="broken-one"), **change})
    with pytest.raises(LibraryError) as caught:
        load_shipped(folder, now=NOW)
    assert (caught.value.filename, caught.value.field) == ("broken-one.yaml", field)
    assert problem in caught.value.problem
    assert {slug: e.content_hash for slug, e in library_rows().items()} == before


def test_a_link_to_a_missing_exercise_fails_the_load(app, folder):
    write(folder, exercise_data(slug="dangling", progressions=["nowhere"]))
    with pytest.raises(LibraryError, match=r"dangling.yaml: progressions: links to 'nowhere'"):
        load_shipped(folder, now=NOW)
    assert db.session.scalar(select(func.count()).select_from(Exercise)) == 0


def test_a_one_way_link_fails_the_load(app, folder):
    write(folder, exercise_data(slug="one-way", progressions=["hard-one"]))
    with pytest.raises(LibraryError, match="does not list 'one-way' in regressions"):
        load_shipped(folder, now=NOW)


def test_slug_must_match_the_file_name(tmp_path):
    (tmp_path / "other-name.yaml").write_text(yaml.safe_dump(exercise_data(slug="real-name")))
    with pytest.raises(LibraryError, match="must equal the file name"):
        read_library(tmp_path)


def test_invalid_yaml_names_the_file(tmp_path):
    (tmp_path / "mangled.yaml").write_text("slug: [unclosed\n")
    with pytest.raises(LibraryError, match=r"^mangled.yaml: \(file\): is not valid YAML"):
        read_library(tmp_path)


def test_archived_exercise_stays_readable_by_slug(app, client, make, folder):
    load_shipped(folder, now=NOW)
    write(folder, exercise_data(slug="easy-one"))
    (folder / "hard-one.yaml").unlink()
    load_shipped(folder, now=NOW)
    response = client.get("/api/v1/exercises/hard-one", headers=make.headers(make.physio()))
    assert response.status_code == 200
    assert response.json["archived"] is True


def test_the_shipped_library_loads_on_this_backend(app):
    report, templates = load_shipped(LIBRARY, now=NOW)
    assert len(report.created) >= 150
    assert len(templates.created) >= 8
    assert db.session.scalar(select(func.count()).select_from(Exercise)) == len(report.created)
