"""Sign-in, token rotation and revocation, activation codes, rate limiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hep.accounts.models import TokenFamily, User
from hep.extensions import db, limiter
from tests.conftest import skip_or_fail
from tests.factories import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_staff_signs_in_with_email_and_gets_opaque_tokens(client, make):
    physio = make.physio(password=PASSWORD, email="Priya@Example.test")
    response = login(client, "priya@example.TEST")
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert body["access_token"].startswith("hepa_") and body["refresh_token"].startswith("hepr_")
    assert client.get("/api/v1/me", headers=bearer(body["access_token"])).json["id"] == physio.id


def test_tokens_are_stored_only_as_hashes(client, make, app):
    make.physio(password=PASSWORD, email="hash@example.test")
    access = login(client, "hash@example.test").json["access_token"]
    stored = db.session.execute(db.text("SELECT token_hash FROM auth_tokens")).scalars().all()
    assert access not in stored
    assert all(len(h) == 64 for h in stored)


def test_patient_signs_in_with_phone_in_any_format(client, make):
    make.patient(phone="+16045550142", password=PASSWORD)
    assert login(client, "+1 (604) 555-0142").status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(client, make):
    make.physio(password=PASSWORD, email="known@example.test")
    wrong = login(client, "known@example.test", "not-the-password")
    unknown = login(client, "nobody@example.test")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["detail"] == unknown.json["detail"]
    assert wrong.headers["Content-Type"] == "application/problem+json"


def test_inactive_user_cannot_sign_in(client, make):
    make.physio(password=PASSWORD, email="gone@example.test", is_active=False)
    assert login(client, "gone@example.test").status_code == 401


def test_missing_or_malformed_bearer_is_401_with_challenge(client):
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("hepa_made-up")):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_access_token_expires(client, make):
    make.physio(password=PASSWORD, email="exp@example.test")
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False) as clock:
        access = login(client, "exp@example.test").json["access_token"]
        clock.shift(timedelta(seconds=899))
        assert client.get("/api/v1/me", headers=bearer(access)).status_code == 200
        clock.shift(timedelta(seconds=2))
        assert client.get("/api/v1/me", headers=bearer(access)).status_code == 401


def test_refresh_rotates_and_old_refresh_token_is_spent(client, make):
    make.physio(password=PASSWORD, email="rot@example.test")
    first = login(client, "rot@example.test").json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/me", headers=bearer(second.json["access_token"])).status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_family(client, make):
    make.physio(password=PASSWORD, email="reuse@example.test")
    first = login(client, "reuse@example.test").json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert client.get("/api/v1/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401
    family = db.session.scalar(db.select(TokenFamily))
    assert family.revoked_reason == "refresh-reuse"


def test_access_token_is_not_a_refresh_token(client, make):
    make.physio(password=PASSWORD, email="kind@example.test")
    pair = login(client, "kind@example.test").json
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": pair["access_token"]}).status_code == 401


def test_logout_revokes_only_this_sign_in(client, make):
    make.physio(password=PASSWORD, email="out@example.test")
    phone = login(client, "out@example.test").json
    tablet = login(client, "out@example.test").json
    assert client.post("/api/v1/auth/logout", headers=bearer(phone["access_token"])).status_code == 204
    assert client.get("/api/v1/me", headers=bearer(phone["access_token"])).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(tablet["access_token"])).status_code == 200


def test_password_change_revokes_every_sign_in_and_new_password_works(client, make):
    make.physio(password=PASSWORD, email="pw@example.test")
    a = login(client, "pw@example.test").json
    b = login(client, "pw@example.test").json
    response = client.post(
        "/api/v1/auth/password",
        headers=bearer(a["access_token"]),
        json={"current_password": PASSWORD, "new_password": "a-brand-new-secret"},
    )
    assert response.status_code == 204
    for pair in (a, b):
        assert client.get("/api/v1/me", headers=bearer(pair["access_token"])).status_code == 401
    assert login(client, "pw@example.test").status_code == 401
    assert login(client, "pw@example.test", "a-brand-new-secret").status_code == 200


def test_password_change_needs_the_current_password(client, make):
    make.physio(password=PASSWORD, email="pw2@example.test")
    a = login(client, "pw2@example.test").json
    response = client.post(
        "/api/v1/auth/password",
        headers=bearer(a["access_token"]),
        json={"current_password": "guess-guess-guess", "new_password": "a-brand-new-secret"},
    )
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "current_password"


def test_passwords_are_hashed_with_argon2id(make):
    user = make.physio(password=PASSWORD)
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def _invite(client, make, **body):
    physio = make.physio()
    payload = {"name": "Pat Invitee", "timezone": "Europe/London", "email": "pat@example.test", **body}
    response = client.post("/api/v1/patients", headers=make.headers(physio), json=payload)
    assert response.status_code == 201, response.json
    return response.json


def test_invited_patient_activates_with_code_then_signs_in(client, make):
    invite = _invite(client, make)
    code = invite["activation"]["code"]
    activated = client.post("/api/v1/auth/activate", json={"code": code, "password": "my-own-password"})
    assert activated.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(activated.json["access_token"])).json
    assert me["role"] == "patient" and me["patient"]["activated_at"] is not None
    assert login(client, "pat@example.test", "my-own-password").status_code == 200


def test_activation_code_works_once(client, make):
    code = _invite(client, make)["activation"]["code"]
    assert client.post("/api/v1/auth/activate", json={"code": code, "password": "first-password"}).status_code == 200
    again = client.post("/api/v1/auth/activate", json={"code": code, "password": "second-password"})
    assert again.status_code == 422
    assert again.json["invalid_params"][0]["name"] == "code"


def test_activation_code_expires(client, make):
    with time_machine.travel(datetime(2026, 11, 1, tzinfo=UTC), tick=False) as clock:
        code = _invite(client, make)["activation"]["code"]
        clock.shift(timedelta(days=7, seconds=1))
        response = client.post("/api/v1/auth/activate", json={"code": code, "password": "my-own-password"})
    assert response.status_code == 422


def test_activation_code_is_forgiving_about_case_and_lookalikes(client, make):
    code = _invite(client, make)["activation"]["code"]
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert client.post("/api/v1/auth/activate", json={"code": typed, "password": "my-own-password"}).status_code == 200


def test_reinvite_makes_the_old_code_stop_working(client, make):
    invite = _invite(client, make)
    inviter = db.session.get(User, invite["patient"]["physiotherapist_id"])
    physio_headers = make.headers(inviter)
    new = client.post(f"/api/v1/patients/{invite['patient']['id']}/activation", headers=physio_headers)
    assert new.status_code == 201
    old = client.post(
        "/api/v1/auth/activate", json={"code": invite["activation"]["code"], "password": "my-own-password"}
    )
    assert old.status_code == 422
    assert (
        client.post("/api/v1/auth/activate", json={"code": new.json["code"], "password": "my-own-password"}).status_code
        == 200
    )


def test_activation_rejects_a_short_password(client, make):
    code = _invite(client, make)["activation"]["code"]
    response = client.post("/api/v1/auth/activate", json={"code": code, "password": "short"})
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "password"


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_login_is_rate_limited(client, make, app_config):
    make.physio(password=PASSWORD, email="rl@example.test")
    statuses = [login(client, "rl@example.test", "wrong-password-x").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    limited = login(client, "rl@example.test")
    assert limited.status_code == 429
    assert limited.json["status"] == 429
    assert limited.headers["Content-Type"] == "application/problem+json"


def _redis_url() -> str:
    import os

    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        skip_or_fail(f"Redis at {url} is unreachable; set TEST_REDIS_URL")
    return url


def test_login_rate_limit_is_shared_through_redis(make, database_url):
    """Two app instances (think: two gunicorn workers) share one count when REDIS_URL is set."""
    import uuid

    from hep import create_app
    from tests.conftest import app_settings

    settings = app_settings(
        database_url,
        LOGIN_RATE_LIMIT="2 per minute",
        RATELIMIT_STORAGE_URI=_redis_url(),
        RATE_LIMIT_PREFIX=f"hep-test-{uuid.uuid4().hex}",
    )
    # create_app binds the one module-level limiter to Redis; put back the other tests' storage afterwards.
    saved = (limiter._storage, limiter._limiter)
    apps = [create_app(settings), create_app(settings)]
    worker_a, worker_b = (a.test_client() for a in apps)
    make.physio(password=PASSWORD, email="shared@example.test")
    try:
        assert login(worker_a, "shared@example.test").status_code == 200
        assert login(worker_b, "shared@example.test").status_code == 200
        assert login(worker_a, "shared@example.test").status_code == 429
    finally:
        limiter._storage, limiter._limiter = saved
        for worker_app in apps:
            with worker_app.app_context():
                db.engine.dispose()


@pytest.mark.parametrize("password", ["password123", "1234567890", "qwertyuiop", "iloveyou12", "Password2024!"])
def test_common_passwords_are_refused(client, make, password):
    invite = _invite(client, make)
    response = client.post("/api/v1/auth/activate", json={"code": invite["activation"]["code"], "password": password})
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "password"
    assert "too easy to guess" in response.json["invalid_params"][0]["reason"]


def test_a_password_made_of_ones_own_name_is_refused(client, make):
    user = make.physio(name="Marguerite Okonkwo-Baptiste", password=PASSWORD)
    response = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "MargueriteOkonkwo"},
        headers=make.headers(user),
    )
    assert response.status_code == 422 and response.json["invalid_params"][0]["name"] == "new_password"
