"""Figures in the web app: library, exercise page, patient page, print handout and PDF handout."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from tests.factories import FIGURE, item, routine_body, web_sign_in

BODY_STROKE = "0.1412 0.2039 0.2784 RG"  # the figure's outline colour, #243447, as a PDF stroking colour


@pytest.fixture
def setup(make):
    clinic = make.clinic()
    physio = make.physio(clinic)
    patient = make.patient(clinic, physio, name="Ada Lovelace")
    make.exercise(slug="knee-straightening", name="Knee straightening", figure=FIGURE)
    make.exercise(slug="undrawn", name="Undrawn exercise")
    start = date.today() - timedelta(days=2)
    routine = make.routine(patient, routine_body(start, items=[item("knee-straightening", side="left")]))
    return {"physio": physio, "patient": patient, "routine": routine}


def test_library_and_exercise_page_show_the_animated_figure_with_a_still_for_reduced_motion(client, setup):
    web_sign_in(client, setup["physio"])
    page = client.get("/library?q=knee").get_data(as_text=True)
    assert '<source media="(prefers-reduced-motion: reduce)" srcset="/library/knee-straightening/figure.svg?' in page
    assert 'alt="Drawing of Knee straightening"' in page
    page = client.get("/library/knee-straightening").get_data(as_text=True)
    assert 'class="figure figure-large"' in page
    assert "Drawing of" not in client.get("/library/undrawn").get_data(as_text=True)


def test_the_web_figure_is_cached_privately_not_marked_no_store(client, setup):
    web_sign_in(client, setup["physio"])
    response = client.get("/library/knee-straightening/figure.svg")
    assert response.status_code == 200 and response.content_type.startswith("image/svg+xml")
    assert response.headers["Cache-Control"] == "private, max-age=3600"
    assert b"<animate" in response.data


def test_patient_page_and_handout_draw_the_prescribed_side(client, setup):
    web_sign_in(client, setup["physio"])
    page = client.get(f"/patients/{setup['patient'].id}").get_data(as_text=True)
    assert re.search(r'src="/library/knee-straightening/figure.svg\?[^"]*side=left', page)
    handout = client.get(f"/routines/{setup['routine'].id}/handout").get_data(as_text=True)
    strip = re.search(r'<img class="figure-strip" src="([^"]+)"', handout).group(1).replace("&amp;", "&")
    assert "side=left" in strip and "static=1" in strip
    drawn = client.get(strip).data
    assert drawn != client.get(strip.replace("side=left", "side=right")).data


def test_pdf_handout_contains_the_drawing(client, setup, make):
    web_sign_in(client, setup["physio"])
    response = client.get(f"/routines/{setup['routine'].id}/handout.pdf")
    content = b"".join(page.get_contents().get_data() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert BODY_STROKE.encode() in content
    undrawn = make.routine(setup["patient"], routine_body(date.today(), items=[item("undrawn")]))
    response = client.get(f"/routines/{undrawn.id}/handout.pdf")
    content = b"".join(page.get_contents().get_data() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert BODY_STROKE.encode() not in content
