"""What leaves HEP carries no more than it must: cache and sniffing headers, the calendar feed's wording,
and a physiotherapist's clinical notes, which never reach the patient."""

from __future__ import annotations


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
