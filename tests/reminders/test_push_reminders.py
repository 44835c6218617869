"""Push reminders: the second channel, under the rules texts follow.

The patient opts in with a tap (a subscription, then the push channel); the planner and the
dispatcher then remind them by push instead of by text, one reminder per slot, through a fake push
service that checks VAPID and decrypts each message (fakes/push.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from fakes.push import FakePushService
from hep import config as settings
from hep.extensions import db
from hep.push.models import PushSubscription
from hep.push.webpush import WebPushSender, application_server_key
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import Reminder
from hep.reminders.planner import plan
from hep.reminders.states import Status
from hep.wording import HEALTH_WORDS
from tests.factories import item, routine_body
from tests.reminders.helpers import TOKEN, rows, texts

MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Europe/London is on UTC in November
EVENING = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def app_config():
    return {"TWILIO_AUTH_TOKEN": TOKEN, "PUSH_ENDPOINT_HOSTS": ("127.0.0.1", *settings.PUSH_SERVICE_HOSTS.split(","))}


@pytest.fixture
def push(app):
    with FakePushService(vapid_key=application_server_key(app.config["VAPID_PRIVATE_KEY"])) as fake:
        yield fake


@pytest.fixture
def pusher(app, sms):
    """A dispatcher that sends texts and pushes (as the scheduler's does)."""
    key = app.config["VAPID_PRIVATE_KEY"]
    dispatcher = Dispatcher(
        backend=sms,
        owner="test-worker",
        max_per_second=1000,
        push_sender=lambda: WebPushSender(key, "mailto:ops@clinic.test", timeout=5),
    )
    yield dispatcher
    dispatcher.close()


def choose_push(client, make, patient, push, *, browsers=1) -> list[dict]:
    """The patient's taps in the app: turn on notifications on `browsers` browsers, then choose push."""
    headers = make.headers(patient)
    subscriptions = [push.new_subscription() for _ in range(browsers)]
    with time_machine.travel(MORNING, tick=False):
        for subscription in subscriptions:
            assert (
                client.post(
                    f"/api/v1/patients/{patient.id}/push/subscriptions", headers=headers, json=subscription
                ).status_code
                == 201
            )
        answer = client.put(
            f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"}
        )
    assert answer.status_code == 200, answer.json
    return subscriptions


@pytest.fixture
def push_only(make):
    """A patient with a daily routine who never consented to texts."""
    make.exercise(slug="daily")

    def build(**kw):
        physio = make.physio()
        patient = make.patient(physio.clinic, physio, timezone="Europe/London", **kw)
        make.routine(
            patient, routine_body(date(2026, 1, 1), items=[item("daily")]), now=datetime(2025, 12, 1, tzinfo=UTC)
        )
        return patient

    return build


def dispatch_at(dispatcher, moment):
    with time_machine.travel(moment, tick=False):
        return dispatcher.run_once()


def test_choosing_push_plans_reminders_at_once_without_text_consent(client, make, push_only, push):
    patient = push_only()
    assert rows(patient) == []  # no text consent: nothing to remind them by
    choose_push(client, make, patient, push)
    [reminder] = [r for r in rows(patient) if r.local_date == date(2026, 11, 23)]
    assert (reminder.status, reminder.due_at) == (Status.PLANNED, EVENING)


def test_the_reminder_arrives_by_push_at_the_local_time_and_no_text_goes(client, make, push_only, push, pusher, fake):
    patient = push_only(language="fr")
    [subscription] = choose_push(client, make, patient, push)
    assert dispatch_at(pusher, EVENING) == {"sent": 1}
    [message] = push.messages
    [reminder] = [r for r in rows(patient) if r.status == Status.SENT]
    assert message.endpoint == subscription["endpoint"]
    assert (message.payload["kind"], message.payload["url"]) == ("exercise", "/app/today")
    assert message.payload["body"].startswith("C'est l'heure")
    assert message.headers["topic"] == f"r{reminder.id}" and message.payload["tag"] == f"hep-r{reminder.id}"
    assert 0 < int(message.headers["ttl"]) <= 3 * 3600  # not shown after the window (21:00) closes
    assert (reminder.channel, reminder.provider_status, reminder.to_phone) == ("push", "push", None)
    assert texts(fake) == []


def test_a_patient_with_texts_and_push_gets_one_reminder_per_slot(client, make, texted, push, pusher, fake):
    patient = texted()
    choose_push(client, make, patient, push, browsers=2)
    assert dispatch_at(pusher, EVENING) == {"sent": 1}
    assert len(push.messages) == 2  # each of the patient's browsers
    assert len({m.headers["topic"] for m in push.messages}) == 1  # of one reminder
    assert texts(fake) == []


def test_push_follows_the_same_rules_already_logged_means_no_push(client, make, push_only, push, pusher):
    patient = push_only()
    choose_push(client, make, patient, push)
    routine_item = db.session.execute(sa.text("SELECT id FROM routine_items")).scalar_one()
    make.log(patient, routine_item, EVENING - timedelta(hours=3), now=EVENING - timedelta(hours=3))
    assert dispatch_at(pusher, EVENING) == {"skipped": 1}
    assert push.messages == []


def test_push_payloads_carry_no_health_details(client, make, push_only, push, pusher):
    patient = push_only()
    choose_push(client, make, patient, push)
    dispatch_at(pusher, EVENING)
    [message] = push.messages
    text = f"{message.payload['title']} {message.payload['body']}".lower()
    assert not [word for word in HEALTH_WORDS if word in text]


def test_when_every_subscription_is_gone_the_reminder_falls_back_to_a_text(client, make, texted, push, pusher, fake):
    patient = texted()
    [subscription] = choose_push(client, make, patient, push)
    push.answer(subscription["endpoint"], 410)
    assert dispatch_at(pusher, EVENING) == {"push-gone": 1}
    assert db.session.scalar(sa.select(PushSubscription.ended_reason)) == "gone"
    assert dispatch_at(pusher, EVENING + timedelta(minutes=1)) == {"sent": 1}
    [text] = texts(fake)
    assert text["to"] == "+447400123456"
    assert [r.channel for r in rows(patient) if r.status == Status.SENT] == ["sms"]


def test_a_push_only_patient_whose_push_died_is_not_texted(client, make, push_only, push, pusher, fake):
    patient = push_only()
    [subscription] = choose_push(client, make, patient, push)
    push.answer(subscription["endpoint"], 404)
    dispatch_at(pusher, EVENING)
    assert dispatch_at(pusher, EVENING + timedelta(minutes=1)) == {"skipped": 1}
    assert texts(fake) == [] and rows(patient)[0].reason.startswith("no text consent")


def test_a_busy_push_service_is_tried_again_later_not_by_text(client, make, texted, push, pusher, fake):
    patient = texted()
    [subscription] = choose_push(client, make, patient, push)
    push.answer(subscription["endpoint"], 503)
    assert dispatch_at(pusher, EVENING) == {"retry": 1}
    [reminder] = [r for r in rows(patient) if r.local_date == date(2026, 11, 23)]
    assert reminder.status == Status.PLANNED and reminder.next_attempt_at > EVENING
    push.answer(subscription["endpoint"], None)
    assert dispatch_at(pusher, reminder.next_attempt_at) == {"sent": 1}
    assert texts(fake) == [] and len(push.messages) == 1


def test_a_push_interrupted_by_a_crash_is_sent_again_under_the_same_topic(
    client, make, push_only, push, pusher, reconciler
):
    patient = push_only()
    choose_push(client, make, patient, push)
    dispatch_at(pusher, EVENING)
    # As if the process died after the push went out but before it was recorded: `sending`, lease run out.
    db.session.execute(
        sa.update(Reminder)
        .where(Reminder.status == Status.SENT)
        .values(status=Status.SENDING, lease_owner="dead-worker", lease_expires_at=EVENING, sending_since=EVENING)
    )
    db.session.commit()
    assert reconciler.run(EVENING + timedelta(minutes=5)) == {"requeued": 1}
    assert dispatch_at(pusher, EVENING + timedelta(minutes=6)) == {"sent": 1}
    first, second = push.messages
    assert first.headers["topic"] == second.headers["topic"]  # the push service keeps only the newest
    assert first.payload["tag"] == second.payload["tag"]  # and the browser shows it in place of the first


def test_a_dispatcher_without_push_sends_a_text_to_a_consenting_patient(client, make, texted, push, dispatcher, fake):
    patient = texted()
    choose_push(client, make, patient, push)
    assert dispatch_at(dispatcher, EVENING) == {"sent": 1}
    assert len(texts(fake)) == 1 and push.messages == []


def test_turning_push_off_withdraws_the_reminders_of_a_patient_without_text_consent(client, make, push_only, push):
    patient = push_only()
    choose_push(client, make, patient, push)
    [subscription_id] = db.session.scalars(sa.select(PushSubscription.id)).all()
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        gone = client.delete(
            f"/api/v1/patients/{patient.id}/push/subscriptions/{subscription_id}", headers=make.headers(patient)
        )
    assert gone.status_code == 204
    assert [r.status for r in rows(patient)] == [Status.WITHDRAWN] * len(rows(patient))  # no text consent either
    plan(MORNING + timedelta(hours=2))
    assert {r.status for r in rows(patient)} == {Status.WITHDRAWN}
