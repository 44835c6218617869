"""Sign-in is throttled per client address and, for failures, per account (hep/accounts/throttle.py)."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD


@pytest.fixture
def app_config():
    return {"LOGIN_ACCOUNT_RATE_LIMIT": "3 per minute"}


def test_failed_sign_ins_to_one_account_are_throttled_from_any_address(client, make):
    user = make.physio(password=PASSWORD)
    for n in range(3):
        wrong = client.post(
            "/api/v1/auth/token",
            json={"username": user.email.upper(), "password": "not-the-password"},
            environ_base={"REMOTE_ADDR": f"203.0.113.{n}"},
        )
        assert wrong.status_code == 401
    blocked = client.post(
        "/api/v1/auth/token",
        json={"username": user.email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert blocked.status_code == 429 and blocked.headers["Content-Type"] == "application/problem+json"
    other = make.physio(password=PASSWORD)
    assert client.post("/api/v1/auth/token", json={"username": other.email, "password": PASSWORD}).status_code == 200


def test_successful_sign_ins_do_not_count_against_the_account(client, make):
    user = make.physio(password=PASSWORD)
    for _ in range(5):
        assert client.post("/api/v1/auth/token", json={"username": user.email, "password": PASSWORD}).status_code == 200


def test_the_web_sign_in_shares_the_account_throttle(client, make):
    user = make.physio(password=PASSWORD)
    for _ in range(3):
        client.post("/api/v1/auth/token", json={"username": user.email, "password": "not-the-password"})
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    response = client.post("/login", data={"username": user.email, "password": PASSWORD, "csrf_token": csrf})
    assert response.status_code == 429
