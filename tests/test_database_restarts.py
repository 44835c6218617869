"""A database restart or failover: idle connections are checked before use, a lost one costs one 503.

The database's side is real: PostgreSQL ends the pooled connections (pg_terminate_backend, as a restart
or a failover would) while the app holds them.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from hep import create_app
from hep.adherence.models import AdherenceLog
from hep.db_connections import ping_when_idle
from hep.extensions import db
from hep.programs.models import Routine
from tests.conftest import app_settings, pg_admin_url, require_postgresql
from tests.factories import item, routine_body, web_sign_in

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def end_connections(application_name: str) -> int:
    """End every server connection with this application_name, as a restart would; how many there were."""
    admin = sa.create_engine(pg_admin_url())
    try:
        with admin.connect() as conn:
            return conn.scalar(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = :name"
                ),
                {"name": application_name},
            )
    finally:
        admin.dispose()


def named_engine(url: str, name: str) -> sa.Engine:
    return sa.create_engine(url, connect_args={"application_name": name})


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT pg_backend_pid()"))


@pytest.fixture
def name() -> str:
    return f"hep-restart-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pool(app, name):
    """A pool on the test database that pings after 10 idle seconds of a clock the test moves."""
    require_postgresql("ending pooled connections")
    clock = Clock()
    engine = named_engine(app.config["SQLALCHEMY_DATABASE_URI"], name)
    ping_when_idle(engine, 10, clock=clock)
    yield engine, clock
    engine.dispose()


def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(pool, name):
    engine, clock = pool
    first = backend_pid(engine)
    assert end_connections(name) == 1
    clock.now += 11
    assert backend_pid(engine) != first


def test_a_connection_used_within_the_threshold_is_not_pinged(pool, name):
    engine, _clock = pool
    backend_pid(engine)
    end_connections(name)
    with pytest.raises(sa.exc.OperationalError) as lost:
        backend_pid(engine)
    assert lost.value.connection_invalidated


def test_one_disconnect_error_replaces_every_older_connection_in_the_pool(pool, name):
    engine, _clock = pool
    with engine.connect() as one, engine.connect() as two:
        held = {one.scalar(sa.text("SELECT pg_backend_pid()")), two.scalar(sa.text("SELECT pg_backend_pid()"))}
    assert end_connections(name) == 2
    with pytest.raises(sa.exc.OperationalError):
        backend_pid(engine)
    with engine.connect() as one, engine.connect() as two:
        now_held = {one.scalar(sa.text("SELECT pg_backend_pid()")), two.scalar(sa.text("SELECT pg_backend_pid()"))}
    assert now_held.isdisjoint(held)


@pytest.fixture
def worker(app, name):
    """Start a second app on the test database, as a gunicorn worker would run, its connections named `name`."""
    require_postgresql("ending a worker's connections")
    started = []

    def start(idle_seconds: float):
        served = create_app(
            app_settings(
                app.config["SQLALCHEMY_DATABASE_URI"],
                DB_PING_AFTER_IDLE_SECONDS=idle_seconds,
                SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"application_name": name}},
            )
        )
        started.append(served)
        return served.test_client()

    yield start
    for served in started:
        with served.app_context():
            db.engine.dispose()


def test_an_idle_worker_answers_the_first_request_after_a_restart(worker, make, name):
    patient = make.patient()
    headers = make.headers(patient)
    served = worker(idle_seconds=0.2)
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200
    assert end_connections(name) == 1
    time.sleep(0.3)
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200


def test_a_threshold_of_zero_pings_before_every_request(worker, make, name):
    patient = make.patient()
    headers = make.headers(patient)
    served = worker(idle_seconds=0)
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200
    assert end_connections(name) == 1
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200


def test_a_busy_worker_answers_503_with_retry_after_once_then_recovers(worker, make, name):
    patient = make.patient()
    headers = make.headers(patient)
    served = worker(idle_seconds=3600)
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200
    end_connections(name)
    lost = served.get(f"/api/v1/patients/{patient.id}/today", headers=headers)
    assert lost.status_code == 503
    assert lost.headers["Content-Type"] == "application/problem+json"
    assert lost.headers["Retry-After"] == "1"
    assert lost.json["type"] == "urn:hep:problem:database-unavailable"
    assert served.get(f"/api/v1/patients/{patient.id}/today", headers=headers).status_code == 200


def test_a_log_cut_off_by_a_lost_connection_is_stored_once_on_retry(worker, make, name):
    make.exercise(slug="bridge")
    patient = make.patient(timezone="UTC")
    today = datetime.now(UTC)
    make.routine(patient, routine_body(today.date() - timedelta(days=1), items=[item("bridge")]))
    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    item_id = routine.current.phases[0].items[0].id
    headers = make.headers(patient)
    served = worker(idle_seconds=3600)
    served.get(f"/api/v1/patients/{patient.id}/today", headers=headers)
    entry = {"id": str(uuid.uuid4()), "routine_item_id": item_id, "performed_at": today.isoformat(), "sets_done": 3}
    end_connections(name)
    url = f"/api/v1/patients/{patient.id}/logs/batch"
    assert served.post(url, headers=headers, json={"entries": [entry]}).status_code == 503
    retried = served.post(url, headers=headers, json={"entries": [entry]})
    assert [r["status"] for r in retried.json["results"]] == ["created"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AdherenceLog)) == 1


def test_a_web_page_cut_off_by_a_lost_connection_says_try_again(worker, make, name):
    physio = make.physio()
    served = worker(idle_seconds=3600)
    web_sign_in(served, physio)
    assert served.get("/patients").status_code == 200
    end_connections(name)
    page = served.get("/patients")
    assert page.status_code == 503
    assert page.headers["Retry-After"] == "1"
    assert "try again" in page.get_data(as_text=True).lower()
    assert served.get("/patients").status_code == 200
