"""The library pages: browse and search, read an exercise, and the clinic's own exercises."""

from __future__ import annotations

from sqlalchemy import select

from hep.extensions import db
from hep.library.models import Exercise
from tests.factories import web_sign_in


def exercise_form(csrf: str, **overrides) -> dict:
    form = {
        "csrf_token": csrf,
        "name": "Towel neck glide",
        "summary": "A gentle glide of the neck with a towel for support.",
        "category": "mobility",
        "position": "sitting",
        "difficulty": "2",
        "body_regions": ["neck"],
        "conditions": ["neck-pain"],
        "steps": "Sit tall.\nHold the towel behind your neck.\n\nGlide your head back.",
        "cues": "Move slowly.",
        "common_mistakes": "Tipping the chin up.",
        "precautions": "Stop if it tingles.",
        "sets": "2",
        "reps": "8",
        "rest_seconds": "30",
        "times_per_day": "1",
        "regressions": "neck-base",
        "media": "https://media.example/towel.jpg The towel in place",
    }
    form.update(overrides)
    return form


def test_library_search_filters_and_the_fragment_for_live_search(client, make):
    make.exercise(slug="neck-base", name="Neck base turn", conditions=["neck-pain"])
    make.exercise(slug="calf-stretch", name="Calf stretch", body_regions=["ankle-foot"], conditions=["balance"])
    own = make.clinic()
    web_sign_in(client, make.physio(own))
    page = client.get("/library?condition=neck-pain").get_data(as_text=True)
    assert "Neck base turn" in page and "Calf stretch" not in page
    fragment = client.get("/library?q=calf&partial=1").get_data(as_text=True)
    assert "Calf stretch" in fragment and "<html" not in fragment


def test_exercise_page_shows_steps_and_links_to_easier_and_harder(client, make):
    make.exercise(slug="neck-base", name="Neck base turn", progressions=["neck-harder"])
    make.exercise(slug="neck-harder", name="Neck harder turn", regressions=["neck-base"])
    web_sign_in(client, make.physio())
    page = client.get("/library/neck-base").get_data(as_text=True)
    assert "Turn your head slowly." in page and 'href="/library/neck-harder"' in page
    assert "read-only" in page and "/library/neck-base/edit" not in page


def test_clinic_exercise_is_created_edited_archived_and_restored(client, make):
    make.exercise(slug="neck-base", name="Neck base turn")
    clinic = make.clinic()
    csrf = web_sign_in(client, make.physio(clinic))
    created = client.post("/library/exercises/new", data=exercise_form(csrf))
    assert created.status_code == 302 and created.headers["Location"] == "/library/towel-neck-glide"
    exercise = db.session.scalar(select(Exercise).where(Exercise.slug == "towel-neck-glide"))
    assert exercise.clinic_id == clinic.id
    assert exercise.steps == ["Sit tall.", "Hold the towel behind your neck.", "Glide your head back."]
    assert exercise.regressions == ["neck-base"]
    assert exercise.media == [
        {"type": "image", "url": "https://media.example/towel.jpg", "caption": "The towel in place"}
    ]
    edit = client.get("/library/towel-neck-glide/edit").get_data(as_text=True)
    assert "Hold the towel behind your neck." in edit and 'value="8"' in edit
    saved = client.post("/library/towel-neck-glide/edit", data=exercise_form(csrf, name="Towel neck glide, sitting"))
    assert saved.status_code == 302
    client.post("/library/towel-neck-glide/archive", data={"csrf_token": csrf, "action": "archive"})
    db.session.refresh(exercise)
    assert exercise.name == "Towel neck glide, sitting" and exercise.archived_at is not None
    assert "Towel neck glide" not in client.get("/library?q=towel").get_data(as_text=True)
    assert "Towel neck glide" in client.get("/library?q=towel&archived=1").get_data(as_text=True)
    client.post("/library/towel-neck-glide/archive", data={"csrf_token": csrf, "action": "restore"})
    db.session.refresh(exercise)
    assert exercise.archived_at is None


def test_exercise_form_errors_are_shown_and_library_exercises_stay_read_only(client, make):
    make.exercise(slug="neck-base", name="Neck base turn")
    csrf = web_sign_in(client, make.physio())
    bad = client.post(
        "/library/exercises/new", data=exercise_form(csrf, steps="", reps="", difficulty="9", regressions="nope")
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="f-steps-error"' in page and 'id="f-difficulty-error"' in page
    assert db.session.scalar(select(Exercise.id).where(Exercise.slug == "towel-neck-glide")) is None
    assert client.get("/library/neck-base/edit").status_code == 403
    assert client.post("/library/neck-base/archive", data={"csrf_token": csrf, "action": "archive"}).status_code == 403


def test_an_exercise_page_shows_its_safety_blocks_evidence_and_progression_rule(client, make):
    from hep.library.models import SafetyBlock

    source = {"citation": "Jull G et al. Spine 2002;27:1835-43.", "year": 2002, "kind": "trial", "follows": "Nods."}
    db.session.add(
        SafetyBlock(
            key="neck",
            title="Neck: when to stop and get help",
            priority=13,
            lines=["Stop if you see double."],
            applies_to=[{"body_regions": ["neck"]}],
            sources=[],
            content_hash="x",
        )
    )
    dosage = {"sets": 3, "reps": 10, "rep_max": 12, "progression": "Add a little weight when 12 is easy."}
    make.exercise(slug="neck-nod", name="Neck nod", safety=["neck"], sources=[source], default_dosage=dosage)
    web_sign_in(client, make.physio())
    page = client.get("/library/neck-nod").get_data(as_text=True)
    assert "Neck: when to stop and get help" in page and "Stop if you see double." in page
    assert "Jull G et al." in page and "Followed: Nods." in page
    assert "heavy enough that you could do only 12 repetitions" in page
    assert "When to make it harder:</strong> Add a little weight when 12 is easy." in page
