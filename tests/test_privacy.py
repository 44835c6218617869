"""What leaves HEP carries no more than it must: cache and sniffing headers, the calendar feed's wording,
and a physiotherapist's clinical notes, which never reach the patient."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hep.dbtypes import utcnow


def test_signed_in_api_answers_are_not_stored_or_sniffed(client, make):
    patient = make.patient()
    headers = make.headers(patient)
    for url in (f"/api/v1/patients/{patient.id}", f"/api/v1/patients/{patient.id}/today", "/api/v1/me"):
        response = client.get(url, headers=headers)
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url


def test_an_error_for_a_signed_in_caller_is_not_stored_either(client, make):
    physio = make.physio()
    response = client.get("/api/v1/patients/999999", headers=make.headers(physio))
    assert response.status_code == 404
    assert response.headers["Cache-Control"] == "no-store"


def test_the_library_may_be_cached_privately_and_revalidated(client, make):
    physio = make.physio()
    make.exercise(slug="open-book")
    response = client.get("/api/v1/exercises/open-book", headers=make.headers(physio))
    assert response.headers["Cache-Control"] == "private, no-cache" and response.headers["ETag"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- clinical notes stay with staff -----------------------------------------------------------


@pytest.fixture
def booked(client, make):
    patient = make.patient(timezone="UTC")
    physio = patient.patient.physiotherapist
    body = {
        "starts_at": (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat(),
        "notes": "IMS dry needling, left forearm extensors",
        "patient_note": "Wear a short-sleeved top.",
    }
    session = client.post(f"/api/v1/patients/{patient.id}/sessions", json=body, headers=make.headers(physio)).json
    return patient, physio, session


def test_staff_see_both_notes(client, make, booked):
    _patient, physio, session = booked
    seen = client.get(f"/api/v1/sessions/{session['id']}", headers=make.headers(physio)).json
    assert seen["notes"] == "IMS dry needling, left forearm extensors"
    assert seen["patient_note"] == "Wear a short-sleeved top."


def test_the_clinical_note_never_reaches_the_patient(client, make, booked):
    patient, _physio, session = booked
    headers = make.headers(patient)
    answers = [
        client.get(f"/api/v1/sessions/{session['id']}", headers=headers),
        client.get(f"/api/v1/patients/{patient.id}/sessions", headers=headers),
        client.get(f"/api/v1/patients/{patient.id}/today", headers=headers),
    ]
    feed = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=headers).json["url"]
    answers.append(client.get(feed.removeprefix("http://localhost")))
    for response in answers:
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "needling" not in text.lower() and "forearm" not in text, response.request.path
    single = answers[0].json
    assert "notes" not in single and single["patient_note"] == "Wear a short-sleeved top."
    assert answers[2].json["next_session"]["patient_note"] == "Wear a short-sleeved top."
