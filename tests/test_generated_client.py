"""A typed client generated from the live OpenAPI document (openapi-python-client) drives the patient's
app flow against a real server: sign in, who am I, today's plan, a batch sync. Nothing is hand-built:
every body is one of the generated models, every answer is parsed into one.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from hep import create_app
from hep.dbtypes import utcnow
from tests.conftest import app_settings
from tests.factories import PASSWORD, item, routine_body
from tests.live_server import serving

pytestmark = pytest.mark.slow

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def hep_client(tmp_path_factory):
    """The `hep_client` package, generated once for this module from the document the app serves."""
    work = tmp_path_factory.mktemp("generated")
    document = create_app(app_settings("sqlite://")).test_client().get("/api/openapi.json")
    (work / "openapi.json").write_bytes(document.data)
    (work / "config.yml").write_text("post_hooks: []\n")
    command = ["generate", "--path", "openapi.json", "--config", "config.yml", "--meta", "none"]
    run = subprocess.run(
        [GENERATOR, *command, "--output-path", "hep_client"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout, run.stdout
    sys.path.insert(0, str(work))
    try:
        yield importlib.import_module("hep_client")
    finally:
        sys.path.remove(str(work))
        for name in [name for name in sys.modules if name == "hep_client" or name.startswith("hep_client.")]:
            del sys.modules[name]


@pytest.fixture
def patient(make):
    """A patient who can sign in, with a routine in effect today."""
    physio = make.physio()
    make.exercise(slug="wrist-flexor-stretch")
    user = make.patient(physio.clinic, physio, password=PASSWORD, timezone="Europe/London")
    body = routine_body(date.today() - timedelta(days=3), items=[item("wrist-flexor-stretch", sets=2)])
    make.routine(user, body, now=utcnow())
    return user


def test_the_generated_client_signs_in_reads_the_plan_and_syncs(app, patient, hep_client):
    from hep_client import AuthenticatedClient, Client
    from hep_client.api.accounts import get_me, get_patient
    from hep_client.api.adherence import sync_logs
    from hep_client.api.auth import sign_in
    from hep_client.api.programs import get_today_plan
    from hep_client.models import Batch, BatchResult, EntryResultStatus, LogEntry, Login, MeRole, Patient, Problem

    with serving(app) as base:
        token = sign_in.sync(client=Client(base_url=base), body=Login(username=patient.email, password=PASSWORD))
        api = AuthenticatedClient(base_url=base, token=token.access_token)

        me = get_me.sync(client=api)
        assert me.role is MeRole.PATIENT
        assert isinstance(me.patient, Patient)
        assert me.patient.timezone == "Europe/London"

        plan = get_today_plan.sync(client=api, patient_id=me.id)
        [planned] = plan.items
        assert planned.exercise.slug == "wrist-flexor-stretch"
        assert plan.next_session is None

        entry = LogEntry(
            id=uuid.uuid4(),
            routine_item_id=planned.item_id,
            performed_at=datetime.now(UTC) - timedelta(minutes=1),
            sets_done=planned.sets,
        )
        synced = sync_logs.sync(client=api, patient_id=me.id, body=Batch(entries=[entry]))
        again = sync_logs.sync(client=api, patient_id=me.id, body=Batch(entries=[entry]))

        not_mine = get_patient.sync_detailed(client=api, patient_id=me.id + 1000)

    assert isinstance(synced, BatchResult)
    assert [r.status for r in synced.results] == [EntryResultStatus.CREATED]
    assert (synced.counts.created, again.counts.duplicate) == (1, 1)
    assert not_mine.status_code == 404
    assert isinstance(not_mine.parsed, Problem)
    assert not_mine.parsed.status == 404
