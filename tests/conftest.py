"""Fixtures: an app per test on SQLite and on PostgreSQL, a client, and data factories.

Every test that takes `app` (directly or through `client`/factories) runs once per backend.
SQLite gets a copy of a migrated template file; PostgreSQL gets a database created for this
session, migrated once and truncated after each test. Without TEST_DATABASE_URL the PostgreSQL
runs are skipped with a message; under CI (CI=true) that is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from hep import create_app
from hep.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def app_settings(uri: str, **extra) -> dict:
    """App settings for tests: no real secrets, fast rate limits, memory limiter."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": uri,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        **extra,
    }


def _migrate(uri: str) -> None:
    from flask_migrate import upgrade

    app = create_app(app_settings(uri))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def pg_admin_url() -> str:
    return sa.make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)).render_as_string(False)


def create_pg_database(prefix: str) -> str:
    """Create an empty PostgreSQL database and return its SQLAlchemy URL."""
    if not PG_URL:
        message = "TEST_DATABASE_URL is not set: PostgreSQL runs skipped (.ci/run sets it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        message = f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        admin.dispose()
    return sa.make_url(pg_admin_url()).set(database=name).render_as_string(False)


def drop_pg_database(url: str) -> None:
    admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "hep.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database():
    url = create_pg_database("hep_test")
    _migrate(url)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        path = tmp_path / "hep.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def app_config() -> dict:
    """Override in a test module to change settings."""
    return {}


@pytest.fixture
def app(database_url, backend, app_config):
    app = create_app(app_settings(database_url, **app_config))
    with app.app_context():
        yield app
        db.session.remove()
        if backend == "postgresql":
            tables = [t.name for t in db.metadata.sorted_tables]
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    """Data factories bound to this test's app."""
    from tests.factories import Factories

    return Factories()
