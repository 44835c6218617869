"""One error shape for every error, and /healthz."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from hep import create_app
from hep.extensions import db
from hep.health import migration_heads
from tests.conftest import app_settings

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert set(response.json) >= PROBLEM_KEYS
    assert response.json["status"] == status


def test_unknown_route_is_a_problem(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_a_problem_with_allow(client):
    response = client.delete("/api/v1/auth/token")
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_a_problem(client):
    response = client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


def test_validation_error_lists_every_offending_field(client):
    response = client.post("/api/v1/auth/token", json={"password": 12, "extra": True})
    assert_problem(response, 422)
    names = {p["name"] for p in response.json["invalid_params"]}
    assert names == {"username", "password", "extra"}
    assert all(p["location"] == "json" for p in response.json["invalid_params"])


def test_unexpected_exception_is_a_500_problem_without_internals(tmp_path):
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'boom.db'}"))

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True)


def test_healthz_is_ok_on_a_migrated_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "current",
            "scheduler": {"last_heartbeat": None, "processes_seen": 0},
        },
    }


def test_healthz_reports_the_newest_scheduler_heartbeat(client):
    from datetime import UTC, datetime

    from hep.reminders.models import Heartbeat

    beat = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    db.session.add_all([Heartbeat(owner="a:1", beat_at=beat), Heartbeat(owner="b:2", beat_at=beat.replace(hour=11))])
    db.session.commit()
    scheduler = client.get("/healthz").json["checks"]["scheduler"]
    assert scheduler == {"last_heartbeat": "2026-11-23T12:00:00+00:00", "processes_seen": 2}


def test_healthz_is_503_when_migrations_are_behind(app, client):
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'older'"))
    db.session.commit()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "run db upgrade" in response.json["checks"]["migrations"]
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": next(iter(migration_heads()))})
    db.session.commit()


def test_healthz_is_503_when_the_database_was_never_migrated(tmp_path):
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'blank.db'}"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["migrations"].startswith("not applied")


def test_healthz_is_503_when_the_database_is_unreachable():
    app = create_app(
        app_settings(
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
        )
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"].startswith("unreachable")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_always_uses_psycopg3(raw, expected):
    from hep.config import database_url

    assert database_url(raw, "/instance") == expected


def test_sqlite_runs_with_wal_foreign_keys_and_busy_timeout(tmp_path):
    app = create_app(app_settings(f"sqlite:///{tmp_path / 'p.db'}"))
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    with app.app_context():
        db.engine.dispose()


def test_livez_answers_without_touching_the_database():
    app = create_app(app_settings("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    assert app.test_client().get("/livez").json == {"status": "ok"}


def test_an_api_call_is_a_503_problem_when_the_database_is_unreachable():
    app = create_app(
        app_settings(
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
            SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"connect_timeout": 1}},
        )
    )
    response = app.test_client().get("/api/v1/exercises", headers={"Authorization": "Bearer some-token"})
    assert_problem(response, 503)
    assert response.json["type"] == "urn:hep:problem:database-unavailable"
    assert response.headers["Retry-After"] == "1"
    assert "127.0.0.1" not in response.get_data(as_text=True)
