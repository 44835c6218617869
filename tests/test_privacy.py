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


# --- the calendar feed's own wording ----------------------------------------------------------


def _feed_text(client, make, clinic_name="North Shore IMS", **clinic) -> str:
    physio = make.physio(make.clinic(name=clinic_name, **clinic))
    patient = make.patient(physio.clinic, physio, timezone="UTC")
    starts = (utcnow() + timedelta(days=2)).replace(microsecond=0).isoformat()
    client.post(f"/api/v1/patients/{patient.id}/sessions", json={"starts_at": starts}, headers=make.headers(physio))
    url = client.post(f"/api/v1/patients/{patient.id}/calendar-feed", headers=make.headers(patient)).json["url"]
    return client.get(url.removeprefix("http://localhost")).get_data(as_text=True)


def test_the_calendar_leaves_the_clinics_name_out(client, make):
    text = _feed_text(client, make)
    assert "SUMMARY:Appointment\r\n" in text and "X-WR-CALNAME:Appointment\r\n" in text
    assert "IMS" not in text and "North Shore" not in text


def test_a_clinic_may_choose_a_neutral_calendar_label(client, make):
    admin = make.admin(make.clinic(name="North Shore IMS"))
    response = client.patch("/api/v1/clinic", json={"calendar_label": "Visit"}, headers=make.headers(admin))
    assert response.status_code == 200 and response.json["calendar_label"] == "Visit"


@pytest.mark.parametrize("label", ["IMS visit", "Physio", "Needling", "Back pain clinic", "Rehab session"])
def test_a_calendar_label_with_health_words_is_refused(client, make, label):
    admin = make.admin()
    response = client.patch("/api/v1/clinic", json={"calendar_label": label}, headers=make.headers(admin))
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "calendar_label"


def test_the_calendar_says_the_clinics_label(client, make):
    text = _feed_text(client, make, calendar_label="Visit")
    assert "SUMMARY:Visit\r\n" in text
