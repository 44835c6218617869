"""Fixtures: an app per test on SQLite and on PostgreSQL, a client, and data factories.

Every test that takes `app` (directly or through `client`/factories) runs once per backend.
SQLite gets a copy of a migrated template file; PostgreSQL gets a database created for this
session, migrated once and truncated after each test (as the superuser, with the audit log's
TRUNCATE trigger switched off for that transaction only). Without TEST_DATABASE_URL the PostgreSQL
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
from hep.extensions import db, limiter
from hep.programs import compiled

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
        "LOGIN_ACCOUNT_RATE_LIMIT": "1000 per minute",
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


def skip_or_fail(message: str) -> None:
    """Skip with a message saying why; under CI=true a missing service is a failure, never a skip."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_postgresql(what: str) -> str:
    """The TEST_DATABASE_URL server for a test that starts its own processes on it; skip (or, under CI, fail)
    unless it is set and answers."""
    if not PG_URL:
        skip_or_fail(f"TEST_DATABASE_URL is not set: {what} needs PostgreSQL (.ci/run sets it)")
    engine = sa.create_engine(pg_admin_url())
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    finally:
        engine.dispose()
    return PG_URL


def create_pg_database(prefix: str) -> str:
    """Create an empty PostgreSQL database and return its SQLAlchemy URL."""
    if not PG_URL:
        skip_or_fail("TEST_DATABASE_URL is not set: PostgreSQL runs skipped (.ci/run sets it)")
    admin = sa.create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
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


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory, sqlite_template):
    """One app for every SQLite test; its database file is restored from the template before each."""
    path = tmp_path_factory.mktemp("sqlite") / "hep.db"
    shutil.copy(sqlite_template, path)
    app = create_app(app_settings(f"sqlite:///{path}"))
    app.extensions["test_database"] = (path, sqlite_template)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgresql_app(pg_database):
    """One app for every PostgreSQL test; its tables are truncated after each."""
    app = create_app(app_settings(pg_database))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def database_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


@pytest.fixture
def app_config() -> dict:
    """Override (or parametrize) in a test to change settings for that test only."""
    return {}


def _restore_sqlite(app) -> None:
    path, template = app.extensions["test_database"]
    with app.app_context():
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, path)


@pytest.fixture
def app(backend, request, app_config):
    """A clean, migrated database behind a shared app, with this test's settings."""
    app = request.getfixturevalue(f"{backend}_app")
    if backend == "sqlite":
        _restore_sqlite(app)
    saved = dict(app.config)
    app.config.update(app_config)
    limiter.reset()
    compiled.clear_caches()
    try:
        with app.app_context():
            yield app
            db.session.remove()
            if backend == "postgresql":
                tables = [t.name for t in db.metadata.sorted_tables]
                with db.engine.begin() as conn:
                    # audit_events refuses TRUNCATE (a statement trigger). The tests connect as a superuser, who
                    # may switch user triggers off for one transaction; the app's own role never can.
                    conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                    conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        app.config.clear()
        app.config.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make(app):
    """Data factories bound to this test's app."""
    from tests.factories import Factories

    return Factories()
