"""Push subscriptions and the reminder channel: subscribe, unsubscribe, choose the channel, send to a patient.

The reminder engine (hep/reminders) reads the channel and the live subscriptions itself when it plans and
sends, and records each push service's answer with `record_result` (a 404 or 410 ends that subscription;
with none left the patient falls back to texts). Every change here that can change the channel announces
`patient_changed` after its commit, so reminders are re-planned at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from hep import signals
from hep.accounts.models import PATIENT, PUSH, SMS, Patient, User
from hep.accounts.service import get_patient
from hep.audit import service as audit
from hep.dbtypes import insert_new
from hep.errors import Forbidden, Invalid, NotFound
from hep.extensions import db
from hep.push.messages import payload
from hep.push.models import GONE, UNSUBSCRIBED, PushSubscription
from hep.push.webpush import DEFAULT_TTL, SENT, PushResult, PushSender, SubscriptionInfo

MAX_LIVE_SUBSCRIPTIONS = 5  # browsers per patient; a sixth ends the oldest
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Delivery:
    """One subscription's answer to one push."""

    subscription_id: int
    result: PushResult


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def check_endpoint(endpoint: str, allowed_hosts: tuple[str, ...]) -> None:
    """Refuse endpoints that are not a known push service: HEP posts to this URL from the server."""
    url = urlsplit(endpoint)
    host = (url.hostname or "").lower()
    allowed = any(host == h or host.endswith("." + h) for h in allowed_hosts)
    if not allowed:
        raise Invalid("endpoint", f"is not at a known push service ({', '.join(allowed_hosts)})")
    if url.scheme != "https" and not (url.scheme == "http" and host in LOOPBACK):
        raise Invalid("endpoint", "must be an https:// URL")


def _require_self(actor: User, patient_id: int) -> Patient:
    patient = get_patient(actor, patient_id)
    if actor.role != PATIENT:
        raise Forbidden("Only the patient turns on push notifications, on their own phone.")
    return patient


def live_subscriptions(patient_id: int) -> list[PushSubscription]:
    """The patient's subscriptions that may still receive pushes, oldest first."""
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.patient_id == patient_id, PushSubscription.ended_at.is_(None))
            .order_by(PushSubscription.created_at, PushSubscription.id)
        )
    )


def effective_channel(patient: Patient) -> str:
    """How reminders reach the patient now: push when chosen and a subscription is alive, else texts."""
    if patient.reminder_channel == PUSH and live_subscriptions(patient.user_id):
        return PUSH
    return SMS


def push_status(actor: User, patient_id: int, *, public_key: str) -> dict:
    """The chosen and effective channel, the live subscriptions, and the key browsers subscribe with."""
    patient = get_patient(actor, patient_id)
    live = live_subscriptions(patient_id)
    return {
        "channel": patient.reminder_channel,
        "effective_channel": PUSH if patient.reminder_channel == PUSH and live else SMS,
        "vapid_public_key": public_key,
        "subscriptions": live,
    }


def _end(subscription: PushSubscription, reason: str, now: datetime) -> None:
    subscription.ended_at = now
    subscription.ended_reason = reason
    subscription.updated_at = now


def subscribe(
    actor: User,
    patient_id: int,
    body: dict,
    *,
    user_agent: str | None,
    allowed_hosts: tuple[str, ...],
    now: datetime,
) -> tuple[PushSubscription, bool]:
    """Record this browser's subscription (the patient's explicit tap). Returns (subscription, created).

    The same endpoint again updates its keys and is not a second subscription; an endpoint another
    patient had (a shared phone, signed in as someone else now) moves to this patient.
    """
    _require_self(actor, patient_id)
    check_endpoint(body["endpoint"], allowed_hosts)
    digest = endpoint_hash(body["endpoint"])
    # Two taps at once (or a retry racing its first try) must not both insert: claim the endpoint
    # with ON CONFLICT DO NOTHING, then lock the row and fill it in.
    created = insert_new(
        PushSubscription,
        {
            "endpoint": body["endpoint"],
            "endpoint_hash": digest,
            "patient_id": patient_id,
            "p256dh": body["keys"]["p256dh"],
            "auth": body["keys"]["auth"],
            "created_at": now,
            "updated_at": now,
            "failures": 0,
        },
        keys=["endpoint_hash"],
    )
    subscription = db.session.scalar(
        select(PushSubscription)
        .where(PushSubscription.endpoint_hash == digest)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    subscription.patient_id = patient_id
    subscription.p256dh = body["keys"]["p256dh"]
    subscription.auth = body["keys"]["auth"]
    subscription.user_agent = (user_agent or "")[:200] or None
    subscription.updated_at = now
    subscription.ended_at = subscription.ended_reason = None
    db.session.flush()
    live = live_subscriptions(patient_id)
    for old in live[: max(0, len(live) - MAX_LIVE_SUBSCRIPTIONS)]:
        if old.id != subscription.id:
            _end(old, "replaced", now)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)
    return subscription, created


def unsubscribe(actor: User, patient_id: int, subscription_id: int, *, now: datetime) -> None:
    """End one of the patient's subscriptions; ending the last one sets reminders back to texts."""
    patient = _require_self(actor, patient_id)
    subscription = db.session.get(PushSubscription, subscription_id)
    if subscription is None or subscription.patient_id != patient_id:
        raise NotFound(f"No push subscription {subscription_id}.")
    if subscription.ended_at is None:
        _end(subscription, UNSUBSCRIBED, now)
        db.session.flush()
        if not live_subscriptions(patient_id):
            patient.reminder_channel = SMS
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)


def set_channel(actor: User, patient_id: int, channel: str, *, now: datetime) -> Patient:
    """Choose texts or push. Only the patient chooses push, and only with a live subscription."""
    patient = get_patient(actor, patient_id)
    if channel == PUSH:
        if actor.role != PATIENT:
            raise Forbidden("Only the patient turns on push notifications, on their own phone.")
        if not live_subscriptions(patient_id):
            raise Invalid("channel", "turn on notifications on this phone first (no push subscription)")
    patient.reminder_channel = channel
    if actor.is_staff:
        audit.record(actor, audit.UPDATE, "reminder_channel", now=now, patient_id=patient_id, resource_id=patient_id)
    db.session.commit()
    signals.patient_changed.send(patient_id=patient_id, now=now)
    return patient


def record_result(subscription: PushSubscription, result: PushResult, *, now: datetime) -> None:
    """Keep what the push service answered; 404/410 (gone) ends the subscription."""
    subscription.updated_at = now
    if result.status == SENT:
        subscription.last_sent_at = now
        subscription.failures = 0
    elif result.status == GONE:
        _end(subscription, GONE, now)
    else:
        subscription.failures = (subscription.failures or 0) + 1


def send_to_patient(
    patient_id: int,
    payload: dict,
    sender: PushSender,
    *,
    now: datetime,
    ttl: int = DEFAULT_TTL,
    topic: str | None = None,
) -> list[Delivery]:
    """Push `payload` to each of the patient's live subscriptions, record each answer, commit once.

    Several pushes for one reminder are fine: every browser of the patient shows it, and the
    notification's tag makes a repeat replace the earlier one on screen.
    """
    deliveries = []
    for subscription in live_subscriptions(patient_id):
        info = SubscriptionInfo(subscription.endpoint, subscription.p256dh, subscription.auth)
        result = sender.send(info, payload, ttl=ttl, topic=topic)
        record_result(subscription, result, now=now)
        deliveries.append(Delivery(subscription.id, result))
    db.session.commit()
    return deliveries


def send_test(actor: User, patient_id: int, sender: PushSender, *, now: datetime) -> list[Delivery]:
    """The patient's "send me a test notification" tap: one push to each of their browsers."""
    patient = _require_self(actor, patient_id)
    body = payload("test", language=patient.language, clinic=actor.clinic.name, tag="hep-test")
    return send_to_patient(patient_id, body, sender, now=now, ttl=600)
