"""Fixtures for the reminder tests: a fake Twilio reached through the real SDK (its webhooks posted
to this test's app), a dispatcher and reconciler on it, and a patient who consented to texts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from fakes.twilio import FakeTwilio
from hep.extensions import db
from hep.reminders import consent
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import Reminder, ReminderSettings
from hep.reminders.reconcile import Reconciler
from hep.reminders.sms import TwilioBackend
from tests.factories import item, routine_body
from tests.reminders.helpers import FROM, SID, TOKEN


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": TOKEN}


@pytest.fixture
def fake(client):
    def transport(url, params, headers):
        response = client.post(url.removeprefix("http://localhost"), data=dict(params), headers=dict(headers))
        return response.status_code, response.get_data(as_text=True)

    with FakeTwilio(SID, TOKEN, transport=transport) as server:
        yield server


@pytest.fixture
def sms(fake):
    twilio = TwilioBackend(SID, TOKEN, from_number=FROM, base_url=fake.base_url, timeout=2)
    yield twilio
    twilio.close()


@pytest.fixture
def dispatcher(sms):
    return Dispatcher(
        backend=sms,
        owner="test-worker",
        max_per_second=1000,
        status_callback="http://localhost/webhooks/twilio/status",
    )


@pytest.fixture
def reconciler(sms):
    return Reconciler(backend=sms, owner="test-worker", recheck_seconds=60)


@pytest.fixture
def texted(make):
    """A patient with a daily routine who consented to texts, in a given time zone."""
    make.exercise(slug="daily")

    def build(tz="Europe/London", phone="+447400123456", start=date(2026, 1, 1), items=None, **settings):
        physio = make.physio()
        patient = make.patient(physio.clinic, physio, timezone=tz, phone=phone)
        body = routine_body(start, items=items or [item("daily")])
        make.routine(patient, body, now=datetime(2025, 12, 1, tzinfo=UTC))
        if settings:
            db.session.add(ReminderSettings(clinic_id=physio.clinic_id, **settings))
            db.session.commit()
        consent.grant(physio, patient.id, "verbal", now=datetime(2025, 12, 1, tzinfo=UTC))
        db.session.execute(sa.update(Reminder).values(status="sent"))  # the confirmation: not under test here
        db.session.commit()
        return patient

    return build
