"""Push notifications: subscribing, the reminder channel, and sending through a fake push service.

The fake push service (fakes/push.py) checks the VAPID signature and decrypts each message
(RFC 8291), so these tests see exactly what a browser would receive.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from fakes.push import FakePushService, b64url, b64url_decode
from hep import config as settings
from hep.audit.models import AuditEvent
from hep.dbtypes import utcnow
from hep.extensions import db
from hep.i18n import LANGUAGES
from hep.push import messages, service
from hep.push.models import PushSubscription
from hep.push.webpush import FAILED, GONE, RETRY, SENT, SubscriptionInfo, WebPushSender, application_server_key
from hep.wording import HEALTH_WORDS


def new_pem_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture
def app_config():
    return {"PUSH_ENDPOINT_HOSTS": ("127.0.0.1", *settings.PUSH_SERVICE_HOSTS.split(","))}


@pytest.fixture
def push(app):
    with FakePushService(vapid_key=application_server_key(app.config["VAPID_PRIVATE_KEY"])) as fake:
        yield fake


@pytest.fixture
def patient(make):
    return make.patient(make.clinic(name="North Shore Clinic"))


@pytest.fixture
def headers(make, patient):
    return make.headers(patient)


def url(patient, tail=""):
    return f"/api/v1/patients/{patient.id}/push{tail}"


def subscribe(client, headers, patient, subscription):
    return client.post(url(patient, "/subscriptions"), headers=headers, json=subscription)


def sender(app) -> WebPushSender:
    return WebPushSender(app.config["VAPID_PRIVATE_KEY"], "mailto:ops@clinic.test", timeout=5)


def info(subscription: dict) -> SubscriptionInfo:
    keys = subscription["keys"]
    return SubscriptionInfo(subscription["endpoint"], keys["p256dh"], keys["auth"])


# --- subscribing and the channel ---------------------------------------------------------------


def test_a_patient_subscribes_and_then_chooses_push(client, headers, patient, push):
    created = subscribe(client, headers, patient, push.new_subscription())
    assert created.status_code == 201
    assert created.json["push_service"] == push.origin
    before = client.get(url(patient), headers=headers).json
    assert (before["channel"], before["effective_channel"]) == ("sms", "sms")  # subscribing alone changes nothing
    assert [s["id"] for s in before["subscriptions"]] == [created.json["id"]]
    chosen = client.put(f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"})
    assert chosen.status_code == 200
    assert (chosen.json["channel"], chosen.json["effective_channel"]) == ("push", "push")


def test_the_status_gives_the_key_browsers_subscribe_with(app, client, headers, patient):
    status = client.get(url(patient), headers=headers).json
    assert status["vapid_public_key"] == application_server_key(app.config["VAPID_PRIVATE_KEY"])
    point = b64url_decode(status["vapid_public_key"])
    assert len(point) == 65 and point[0] == 4  # an uncompressed P-256 point


def test_subscribing_the_same_browser_again_keeps_one_subscription(client, headers, patient, push):
    subscription = push.new_subscription()
    first = subscribe(client, headers, patient, subscription)
    again = subscribe(client, headers, patient, subscription)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json["id"] == again.json["id"]
    assert db.session.scalar(select(db.func.count()).select_from(PushSubscription)) == 1


def test_a_shared_phone_moves_its_subscription_to_whoever_subscribes(client, make, patient, headers, push):
    subscription = push.new_subscription()
    subscribe(client, headers, patient, subscription)
    other = make.patient(patient.clinic)
    moved = subscribe(client, make.headers(other), other, subscription)
    assert moved.status_code == 200
    assert client.get(url(patient), headers=headers).json["subscriptions"] == []
    assert len(client.get(url(other), headers=make.headers(other)).json["subscriptions"]) == 1


def test_a_sixth_browser_ends_the_oldest_subscription(client, headers, patient, push):
    ids = [subscribe(client, headers, patient, push.new_subscription()).json["id"] for _ in range(6)]
    live = [s["id"] for s in client.get(url(patient), headers=headers).json["subscriptions"]]
    assert live == ids[1:]
    assert db.session.get(PushSubscription, ids[0]).ended_reason == "replaced"


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example.org/push/abc",  # not a push service: the server would post wherever told
        "https://fcm.googleapis.com.evil.example/x",
        "http://fcm.googleapis.com/fcm/send/abc",  # plain http off loopback
    ],
)
def test_an_endpoint_that_is_not_a_known_push_service_is_refused(client, headers, patient, push, endpoint):
    response = subscribe(client, headers, patient, push.new_subscription() | {"endpoint": endpoint})
    assert response.status_code == 422
    assert response.json["invalid_params"][0]["name"] == "endpoint"


def test_keys_that_are_not_a_p256_point_and_a_16_byte_secret_are_refused(client, headers, patient, push):
    subscription = push.new_subscription()
    subscription["keys"] = {"p256dh": "AAAA" * 10, "auth": "c2hvcnQ"}
    response = subscribe(client, headers, patient, subscription)
    assert response.status_code == 422
    assert {p["name"] for p in response.json["invalid_params"]} == {"keys.p256dh", "keys.auth"}


def test_push_cannot_be_chosen_without_a_subscription(client, headers, patient):
    response = client.put(f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"})
    assert response.status_code == 422 and response.json["invalid_params"][0]["name"] == "channel"


def test_staff_may_set_texts_but_never_push_and_it_is_audited(client, make, patient, headers, push):
    subscribe(client, headers, patient, push.new_subscription())
    client.put(f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"})
    physio = db.session.get(type(patient), patient.patient.physiotherapist_id)
    staff = make.headers(physio)
    path = f"/api/v1/patients/{patient.id}/reminder-channel"
    assert client.put(path, headers=staff, json={"channel": "push"}).status_code == 403
    back = client.put(path, headers=staff, json={"channel": "sms"})
    assert back.status_code == 200 and back.json["channel"] == "sms"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.resource == "reminder_channel"))
    assert (event.actor_id, event.patient_id) == (physio.id, patient.id)


def test_turning_off_the_last_subscription_sets_reminders_back_to_texts(client, headers, patient, push):
    sub = subscribe(client, headers, patient, push.new_subscription()).json
    client.put(f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"})
    assert client.delete(url(patient, f"/subscriptions/{sub['id']}"), headers=headers).status_code == 204
    assert client.delete(url(patient, f"/subscriptions/{sub['id']}"), headers=headers).status_code == 204  # again
    status = client.get(url(patient), headers=headers).json
    assert (status["channel"], status["subscriptions"]) == ("sms", [])


# --- sending ------------------------------------------------------------------------------------


def test_a_push_arrives_encrypted_and_signed_and_decrypts_to_the_payload(app, push):
    subscription = push.new_subscription()
    result = sender(app).send(info(subscription), {"title": "Clinic", "body": "Hello"}, ttl=600, topic="exercise")
    assert result.status == SENT and result.http_status == 201
    [message] = push.messages
    assert message.payload == {"title": "Clinic", "body": "Hello"}
    assert message.claims["aud"] == push.origin and message.claims["sub"] == "mailto:ops@clinic.test"
    assert message.headers == {"ttl": "600", "topic": "exercise", "urgency": "normal"}
    assert push.rejected == []


def test_a_push_signed_with_another_key_is_refused_by_the_push_service(app, push):
    other = WebPushSender(new_pem_key(), "mailto:ops@clinic.test")
    result = other.send(info(push.new_subscription()), {"title": "x", "body": "y"})
    assert result.status == FAILED and result.http_status == 403
    assert "VAPID key" in push.rejected[0].reason


@pytest.mark.parametrize(("status", "expected"), [(404, GONE), (410, GONE), (429, RETRY), (500, RETRY), (400, FAILED)])
def test_push_service_answers_map_to_what_to_do_next(app, push, status, expected):
    subscription = push.new_subscription()
    push.answer(subscription["endpoint"], status)
    result = sender(app).send(info(subscription), {"title": "x", "body": "y"})
    assert (result.status, result.http_status) == (expected, status)
    if status == 429:
        assert result.retry_after == 30


def test_an_unreachable_push_service_is_retried_later(app, push):
    dead = push.new_subscription() | {"endpoint": "http://127.0.0.1:9/push/nobody-listens"}
    result = sender(app).send(info(dead), {"title": "x", "body": "y"})
    assert result.status == RETRY and result.http_status is None


def test_a_gone_subscription_ends_and_the_patient_falls_back_to_texts(app, client, headers, patient, push):
    gone, alive = push.new_subscription(), push.new_subscription()
    for subscription in (gone, alive):
        subscribe(client, headers, patient, subscription)
    client.put(f"/api/v1/patients/{patient.id}/reminder-channel", headers=headers, json={"channel": "push"})
    push.answer(gone["endpoint"], 410)
    payload = messages.payload("exercise", language="en", clinic="North Shore Clinic")
    deliveries = service.send_to_patient(patient.id, payload, sender(app), now=utcnow(), topic="exercise")
    assert sorted(d.result.status for d in deliveries) == [GONE, SENT]
    assert [m.endpoint for m in push.messages] == [alive["endpoint"]]
    assert service.effective_channel(patient.patient) == "push"  # one browser is left
    push.answer(alive["endpoint"], 404)
    service.send_to_patient(patient.id, payload, sender(app), now=utcnow())
    status = client.get(url(patient), headers=headers).json
    assert (status["channel"], status["effective_channel"], status["subscriptions"]) == ("push", "sms", [])
    ended = db.session.scalars(select(PushSubscription.ended_reason)).all()
    assert ended == ["gone", "gone"]


def test_the_test_notification_arrives_in_the_patients_language(app, client, make, push):
    patient = make.patient(make.clinic(name="Clinique du Parc"), language="fr-CA")
    headers = make.headers(patient)
    subscribe(client, headers, patient, push.new_subscription())
    response = client.post(url(patient, "/test"), headers=headers)
    assert response.status_code == 200
    assert [d["status"] for d in response.json["deliveries"]] == ["sent"]
    [message] = push.messages
    assert message.payload == {
        "kind": "test",
        "title": "Clinique du Parc",
        "body": "Les notifications de Clinique du Parc sont activées sur ce téléphone.",
        "url": "/app/settings",
        "tag": "hep-test",
    }


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", sorted(messages.KINDS))
def test_push_texts_carry_no_health_details(language, kind):
    body = messages.payload(kind, language=language, clinic="Clinic", when="Tue 10:30")
    text = f"{body['title']} {body['body']}".lower()
    assert not [word for word in HEALTH_WORDS if word in text]
    assert "{" not in body["body"]


# --- keys ---------------------------------------------------------------------------------------


def test_a_vapid_key_is_generated_once_and_kept_in_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("HEP_VAPID_PRIVATE_KEY", raising=False)
    first = settings.vapid_private_key(str(tmp_path))
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert settings.vapid_private_key(str(tmp_path)) == first
    assert (tmp_path / "vapid_private_key.pem").stat().st_mode & 0o777 == 0o600


def test_a_vapid_key_from_the_environment_wins(tmp_path, monkeypatch):
    key = new_pem_key()
    monkeypatch.setenv("HEP_VAPID_PRIVATE_KEY", key)
    assert settings.vapid_private_key(str(tmp_path)) == key
    assert not (tmp_path / "vapid_private_key.pem").exists()


def test_a_raw_base64url_vapid_key_gives_the_same_public_key_as_its_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    raw = b64url(key.private_numbers().private_value.to_bytes(32, "big"))
    assert application_server_key(raw) == application_server_key(pem.decode())
