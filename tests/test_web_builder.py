"""The routine builder and the handouts (print page and PDF)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from hep.extensions import db
from hep.programs import templates
from hep.programs.models import Routine
from hep.programs.schemas import TemplateInSchema
from hep.web import routine_form
from tests.factories import item, routine_body, web_sign_in


@pytest.fixture
def setup(make):
    home = make.clinic(name="Żabka Physio & Co")
    physio = make.physio(home)
    patient = make.patient(home, physio, name="Zoë Łukasz-Brown", timezone="Europe/London")
    make.exercise(
        slug="chin-tuck", name="Chin tuck", progressions=["chin-tuck-harder"], steps=["Lie down.", "Nod gently."]
    )
    make.exercise(slug="chin-tuck-harder", name="Chin tuck, harder", regressions=["chin-tuck"])
    make.exercise(
        slug="calf-raise",
        name="Calf raise",
        summary="Rise up on your toes, slowly.",
        media=[{"type": "video", "url": "https://media.example/calf.mp4", "caption": "How it looks"}],
    )
    templates.create_template(
        physio,
        TemplateInSchema().load(
            {
                "key": "neck-start",
                "name": "Neck start",
                "condition": "neck-pain",
                "summary": "Two weeks of gentle neck work.",
                "duration_weeks": 4,
                "phases": [
                    {"name": "Settle", "start_week": 1, "items": [item("chin-tuck", sets=2)]},
                    {"name": "Build", "start_week": 3, "items": [item("chin-tuck-harder"), item("calf-raise")]},
                ],
            }
        ),
        now=datetime.now(UTC),
    )
    return {"physio": physio, "patient": patient}


def fields(page: str) -> dict[str, str]:
    """The builder form's current fields (inputs with values, selected options, checked boxes)."""
    found: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or ('type="checkbox"' in tag and " checked" not in tag):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        found[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(r'<option value="([^"]*)"', body)
        found[name] = chosen.group(1) if chosen else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        found[name] = body
    return found


def press(client, url: str, page: str, action: str, **changes) -> str:
    data = fields(page) | changes | {"action": action}
    response = client.post(url, data=data)
    assert response.status_code in (200, 302, 422), response.status_code
    return response


def test_building_from_a_template_adding_reordering_and_saving(client, setup):
    patient = setup["patient"]
    web_sign_in(client, setup["physio"])
    url = f"/patients/{patient.id}/routines/new"
    start = (datetime.now(UTC) + timedelta(days=1)).date()
    page = client.get(f"{url}?template=neck-start&start_date={start}").get_data(as_text=True)
    assert 'value="Neck start"' in page and "Settle" in page and "Build" in page
    # Search the library (as the picker's fallback button does) and add to phase 1.
    page = press(client, url, page, "update", q="calf").get_data(as_text=True)
    assert 'value="add:calf-raise"' in page
    page = press(client, url, page, "add:calf-raise", add_phase="0").get_data(as_text=True)
    assert "Added Calf raise to Settle" in page
    assert 'id="f-phases-0-items-1-sets"' in page and "autofocus" in page
    # Move it to the top of phase 1, then save.
    page = press(client, url, page, "up:0.1").get_data(as_text=True)
    assert fields(page)["phases-0-items-0-exercise"] == "calf-raise"
    response = press(client, url, page, "save")
    assert response.status_code == 302
    routine = db.session.scalar(select(Routine).where(Routine.patient_id == patient.id))
    version = routine.current
    assert (version.title, version.template_key, version.start_date) == ("Neck start", "neck-start", start)
    assert [i.slug for i in version.phases[0].items] == ["calf-raise", "chin-tuck"]
    assert version.phases[1].start_date == start + timedelta(weeks=2)


def test_editing_saves_a_new_version_and_unchanged_saves_none(client, make, setup):
    patient = setup["patient"]
    routine = a_routine(make, setup)
    web_sign_in(client, setup["physio"])
    url = f"/routines/{routine.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "Save as new version" in page
    unchanged = press(client, url, page, "save")
    assert unchanged.status_code == 302
    assert "no new version" in client.get(f"/patients/{patient.id}").get_data(as_text=True)
    changed = press(client, url, page, "save", **{"phases-0-items-0-sets": "4", "phases-0-items-0-weekdays": "thu"})
    assert changed.status_code == 302
    db.session.expire_all()
    routine = db.session.get(Routine, routine.id)
    assert len(routine.versions) == 2
    edited = routine.current.phases[0].items[0]
    assert (edited.sets, edited.weekdays, edited.days_per_week) == (4, ["thu"], None)


def a_routine(make, setup, items=None) -> Routine:
    start = date.today() - timedelta(days=3)
    items = items or [item("chin-tuck", sets=2, notes="Go gently ✓")]
    return make.routine(setup["patient"], routine_body(start, items=items))


def test_invalid_content_is_shown_next_to_the_fields_and_kept(client, setup):
    patient = setup["patient"]
    web_sign_in(client, setup["physio"])
    url = f"/patients/{patient.id}/routines/new"
    page = client.get(url).get_data(as_text=True)
    page = press(client, url, page, "add:chin-tuck").get_data(as_text=True)
    response = press(client, url, page, "save", title="", **{"phases-0-items-0-sets": "11"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="f-title-error"' in page
    assert 'id="f-phases-0-items-0-sets-error"' in page and 'value="11"' in page
    assert 'href="#f-phases-0-items-0-sets"' in page  # the summary links to the field
    assert db.session.scalar(select(Routine.id).where(Routine.patient_id == patient.id)) is None


def test_phases_are_added_and_removed(client, setup):
    patient = setup["patient"]
    web_sign_in(client, setup["physio"])
    url = f"/patients/{patient.id}/routines/new"
    page = client.get(url).get_data(as_text=True)
    page = press(client, url, page, "add-phase").get_data(as_text=True)
    assert fields(page)["phases-1-name"] == "Phase 2"
    page = press(client, url, page, "remove-phase:1").get_data(as_text=True)
    assert "phases-1-name" not in fields(page)


def test_picker_fragment_shows_steps_and_progressions(client, setup):
    web_sign_in(client, setup["physio"])
    fragment = client.get("/routines/picker?q=chin").get_data(as_text=True)
    assert "Chin tuck" in fragment and "Nod gently." in fragment
    assert 'value="add:chin-tuck-harder"' in fragment  # a harder version, one click away
    assert "<html" not in fragment


def test_state_round_trip_keeps_empty_fields_out_of_the_body():
    state = routine_form.blank_state(date(2026, 12, 1))
    state["title"] = "Plan"
    state["phases"][0]["items"].append(
        {
            "exercise": "chin-tuck", "sets": "2", "reps": "", "hold_seconds": "5", "rest_seconds": "",
            "side": "both", "load": "", "times_per_day": "1", "days_per_week": "7", "weekdays": [], "notes": "",
        }
    )  # fmt: skip
    body = routine_form.body_from_state(state)
    entry = body["phases"][0]["items"][0]
    assert entry["reps"] is None and "rest_seconds" not in entry and entry["load"] is None
    assert body["phases"][0]["start_date"] == "2026-12-01"


def test_handout_page_and_pdf_carry_the_routine_in_any_script(client, make, setup):
    routine = a_routine(make, setup)
    web_sign_in(client, setup["physio"])
    page = client.get(f"/routines/{routine.id}/handout").get_data(as_text=True)
    assert "Home exercises for Zoë" in page and "Żabka Physio &amp; Co" in page
    assert "Nod gently." in page and "My notes:" in page
    response = client.get(f"/routines/{routine.id}/handout.pdf")
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Home exercises for Zoë" in text and "Żabka Physio & Co" in text
    assert re.search(r"1\.\s+Lie down\.\n2\.\s+Nod gently\.", text) and "Go gently ✓" in text
    assert "Chin tuck" in text and "2 sets x 10 reps" in text


def test_pdf_media_links_and_missing_glyphs(client, make, setup):
    from hep.web.handout import printable

    assert printable("漢字 ok") == "?? ok"
    routine = a_routine(make, setup, items=[item("calf-raise")])
    web_sign_in(client, setup["physio"])
    response = client.get(f"/routines/{routine.id}/handout.pdf")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    assert "Video (How it looks): https://media.example/calf.mp4" in text


def test_dosage_reads_as_words():
    from hep.web.format import dosage

    flexible = {"sets": 3, "reps": 10, "hold_seconds": 5, "rest_seconds": 30, "times_per_day": 1, "days_per_week": 4}
    assert dosage(flexible) == "3 sets x 10 reps, hold 5 s; rest 30 s; both sides; once a day, 4 days a week"
    named = {"sets": 1, "reps": 1, "side": "left", "load": "red band", "times_per_day": 2, "weekdays": ["mon", "thu"]}
    assert dosage(named) == "1 set x 1 rep; left side; red band; twice a day, Mon, Thu"


def test_odd_button_values_change_nothing(client, setup):
    patient = setup["patient"]
    web_sign_in(client, setup["physio"])
    url = f"/patients/{patient.id}/routines/new"
    page = client.get(url).get_data(as_text=True)
    page = press(client, url, page, "add:chin-tuck").get_data(as_text=True)
    for action in ("up:0.²", "down:9.0", "remove:x.y", "remove-phase:0", "add:no-such-exercise", "explode"):
        response = press(client, url, page, action, add_phase="²")
        assert response.status_code == 200, action
        assert fields(response.get_data(as_text=True))["phases-0-items-0-exercise"] == "chin-tuck"


def test_the_builder_sets_load_by_repetition_maximum_and_a_progression_rule(client, setup):
    patient = setup["patient"]
    web_sign_in(client, setup["physio"])
    url = f"/patients/{patient.id}/routines/new"
    page = client.get(url).get_data(as_text=True)
    page = press(client, url, page, "add:calf-raise", title="Calves").get_data(as_text=True)
    assert 'name="phases-0-items-0-rep_max"' in page and 'name="phases-0-items-0-progression"' in page
    too_heavy = press(client, url, page, "save", **{"phases-0-items-0-rep_max": "40"})
    assert too_heavy.status_code == 422
    assert 'id="f-phases-0-items-0-rep-max-error">Must be greater than or equal to 6' in too_heavy.get_data(
        as_text=True
    )
    rule = "When you can do 2 more than asked on every set, add about 5%."
    saved = press(client, url, page, "save", **{"phases-0-items-0-rep_max": "12", "phases-0-items-0-progression": rule})
    assert saved.status_code == 302
    stored = db.session.scalar(select(Routine).where(Routine.patient_id == patient.id)).current.phases[0].items[0]
    assert (stored.rep_max, stored.progression) == (12, rule)


def test_handout_gives_the_pain_rule_and_each_safety_block_once(client, make, setup):
    from hep.library.models import Exercise, SafetyBlock

    db.session.add(
        SafetyBlock(
            key="neck",
            title="Neck: when to stop and get help",
            priority=13,
            lines=["Stop and get urgent help if you feel dizzy or see double."],
            applies_to=[{"body_regions": ["neck"]}],
            sources=[],
            content_hash="x",
        )
    )
    for exercise in db.session.scalars(select(Exercise).where(Exercise.slug.in_(["chin-tuck", "chin-tuck-harder"]))):
        exercise.safety = ["neck"]
    db.session.commit()
    rule = "When 10 feel easy, hold for longer."
    routine = a_routine(
        make, setup, items=[item("chin-tuck", progression=rule), item("chin-tuck-harder"), item("calf-raise")]
    )
    web_sign_in(client, setup["physio"])
    page = client.get(f"/routines/{routine.id}/handout").get_data(as_text=True)
    assert page.count("Neck: when to stop and get help") == 1 and "see double" in page
    assert "up to 5 out of 10" in page and f"When to make it harder:</strong> {rule}" in page
    pdf = client.get(f"/routines/{routine.id}/handout.pdf").data
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "How much pain is fine" in text and text.count("Neck: when to stop and get help") == 1
    assert "Safety on the handout and in the app: Neck" in client.get(f"/patients/{setup['patient'].id}").get_data(
        as_text=True
    )
