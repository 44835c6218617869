"""Web app sign-in: the session cookie, CSRF, sign-out, idle timeout and revocation, security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hep.accounts.models import PATIENT, TokenFamily
from hep.extensions import db
from tests.factories import PASSWORD, web_sign_in


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def sign_in(client, username: str, password: str = PASSWORD, **extra):
    token = csrf_of(client.get("/login"))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("hep_session=")]
    assert cookies, response.headers
    return cookies[-1]


def test_staff_sign_in_sets_a_secure_httponly_lax_cookie_and_lands_on_patients(client, make):
    physio = make.physio(password=PASSWORD)
    response = sign_in(client, physio.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/patients"
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    page = client.get("/patients")
    assert page.status_code == 200
    assert physio.name in page.get_data(as_text=True)
    family = db.session.scalar(select(TokenFamily).where(TokenFamily.user_id == physio.id))
    assert family is not None and family.revoked_at is None


@pytest.mark.parametrize("app_config", [{"SESSION_COOKIE_SECURE": False}])
def test_secure_flag_can_be_turned_off_for_plain_http(client, make, app_config):
    physio = make.physio(password=PASSWORD)
    assert "Secure" not in session_cookie(sign_in(client, physio.email))


def test_wrong_password_and_patients_cannot_sign_in(client, make):
    physio = make.physio(password=PASSWORD)
    wrong = sign_in(client, physio.email, "not-the-password")
    assert wrong.status_code == 401
    assert "Unknown username or wrong password" in wrong.get_data(as_text=True)
    patient = make.patient(password=PASSWORD)
    refused = sign_in(client, patient.email)
    assert refused.status_code == 403
    assert "for clinic staff" in refused.get_data(as_text=True)
    family = db.session.scalar(select(TokenFamily).where(TokenFamily.user_id == patient.id))
    assert family.revoked_at is not None  # the sign-in the password check made is ended at once
    assert client.get("/patients").status_code == 302


def test_sign_in_form_without_csrf_token_is_refused(client, make):
    physio = make.physio(password=PASSWORD)
    client.get("/login")
    response = client.post("/login", data={"username": physio.email, "password": PASSWORD})
    assert response.status_code == 400
    assert db.session.scalar(select(TokenFamily).where(TokenFamily.user_id == physio.id)) is None


def test_a_browser_that_drops_the_cookie_is_told_why(client, make):
    physio = make.physio(password=PASSWORD)
    token = csrf_of(client.get("/login"))
    client.delete_cookie("hep_session")
    response = client.post("/login", data={"username": physio.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 400
    assert "HEP_SECURE_COOKIES" in response.get_data(as_text=True)


def test_anonymous_pages_redirect_to_sign_in_and_back(client, make):
    physio = make.physio(password=PASSWORD)
    response = client.get("/library?q=neck")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/library?q%3Dneck"
    after = sign_in(client, physio.email, next="/library?q=neck")
    assert after.headers["Location"] == "/library?q=neck"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_sign_in_never_redirects_off_site(client, make, target):
    physio = make.physio(password=PASSWORD)
    assert sign_in(client, physio.email, next=target).headers["Location"] == "/patients"


def test_sign_out_revokes_the_sign_in_and_needs_csrf(client, make):
    physio = make.physio()
    csrf = web_sign_in(client, physio)
    assert client.post("/logout").status_code == 400  # no token: a cross-site form cannot sign you out
    assert client.post("/logout", data={"csrf_token": "jeton-forgé"}).status_code == 400
    response = client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    family = db.session.scalar(select(TokenFamily).where(TokenFamily.user_id == physio.id))
    assert (family.revoked_at, family.revoked_reason) != (None, None)
    assert family.revoked_reason == "logout"
    assert client.get("/patients").status_code == 302


def test_an_old_cookie_replayed_after_sign_out_does_not_work(client, make):
    physio = make.physio()
    csrf = web_sign_in(client, physio)
    with client.session_transaction() as session:
        saved = dict(session)
    client.post("/logout", data={"csrf_token": csrf})
    with client.session_transaction() as session:
        session.update(saved)
    assert client.get("/patients").status_code == 302


def test_idle_timeout_signs_out_and_revokes(app, client, make):
    physio = make.physio()
    start = datetime.now(UTC)
    web_sign_in(client, physio, now=start)
    minutes = app.config["WEB_IDLE_MINUTES"]
    with time_machine.travel(start + timedelta(minutes=minutes - 1), tick=False):
        assert client.get("/patients").status_code == 200  # activity keeps it alive
    with time_machine.travel(start + timedelta(minutes=2 * minutes - 2), tick=False):
        assert client.get("/patients").status_code == 200
    with time_machine.travel(start + timedelta(minutes=3 * minutes), tick=False):
        response = client.get("/patients")
        assert response.status_code == 302
        assert "without activity" in client.get("/login").get_data(as_text=True)
    family = db.session.scalar(select(TokenFamily).where(TokenFamily.user_id == physio.id))
    assert family.revoked_reason == "web-idle"


def test_requests_within_a_minute_leave_the_session_cookie_alone(client, make):
    """A slow image response must not overwrite a newer cookie (a flash set by a form post meanwhile)."""
    physio = make.physio()
    start = datetime.now(UTC)
    web_sign_in(client, physio, now=start)
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        quiet = client.get("/patients")
    assert quiet.status_code == 200 and not quiet.headers.getlist("Set-Cookie")
    with time_machine.travel(start + timedelta(seconds=90), tick=False):
        moved = client.get("/patients")
    assert moved.status_code == 200 and session_cookie(moved)  # the idle clock moved on


def test_password_change_and_deactivation_end_web_sessions(client, make):
    from hep.accounts import tokens

    physio, admin = make.physio(), make.admin()
    web_sign_in(client, physio)
    assert client.get("/patients").status_code == 200
    tokens.revoke_user(physio.id, now=datetime.now(UTC), reason="password-change")
    db.session.commit()
    assert client.get("/patients").status_code == 302
    web_sign_in(client, admin)
    admin.is_active = False
    db.session.commit()
    assert client.get("/patients").status_code == 302


def test_a_patient_token_in_the_cookie_gets_no_pages(client, make):
    patient = make.patient()
    assert patient.role == PATIENT
    web_sign_in(client, patient)
    response = client.get(f"/patients/{patient.id}")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_pages_carry_security_headers_and_are_not_cached(client, make):
    web_sign_in(client, make.physio())
    response = client.get("/patients")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    static = client.get("/web-static/app.js")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"
    static.close()


def test_unknown_web_urls_get_an_html_404_and_the_api_keeps_problem_details(client, make):
    web_sign_in(client, make.physio())
    page = client.get("/patients/99999999999")  # beyond any id: no route matches
    assert page.status_code == 404 and page.content_type.startswith("text/html")
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.content_type == "application/problem+json"


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "2 per minute"}])
def test_sign_in_attempts_are_rate_limited(client, make, app_config):
    physio = make.physio(password=PASSWORD)
    for _ in range(2):
        assert sign_in(client, physio.email, "wrong-password").status_code == 401
    response = sign_in(client, physio.email)
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.get_data(as_text=True)
