"""HTTP API for push notifications: the patient's subscriptions, the reminder channel, a test push."""

from __future__ import annotations

from flask import current_app, request

from hep.accounts.auth import current_user, login_required
from hep.accounts.models import PATIENT
from hep.api import Blueprint
from hep.dbtypes import utcnow
from hep.extensions import limiter
from hep.push import service
from hep.push.schemas import (
    ChannelSchema,
    PushStatusSchema,
    SubscribeSchema,
    SubscriptionSchema,
    TestResultSchema,
)
from hep.push.webpush import application_server_key, sender_from_config

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="Push notifications")


def _status(patient_id: int) -> dict:
    key = application_server_key(current_app.config["VAPID_PRIVATE_KEY"])
    return service.push_status(current_user(), patient_id, public_key=key)


@blp.route("/patients/<id:patient_id>/push", methods=["GET"])
@login_required()
@blp.response(200, PushStatusSchema)
def push_status(patient_id):
    """The reminder channel, the patient's push subscriptions and the key to subscribe with"""
    return _status(patient_id)


@blp.route("/patients/<id:patient_id>/push/subscriptions", methods=["POST"])
@login_required(PATIENT)
@blp.arguments(SubscribeSchema)
@blp.response(201, SubscriptionSchema)
@blp.alt_response(200, schema=SubscriptionSchema, description="Already had this subscription", success=True)
def subscribe(body, patient_id):
    """Turn on push notifications on this browser (its PushSubscription as JSON)"""
    subscription, created = service.subscribe(
        current_user(),
        patient_id,
        body,
        user_agent=request.headers.get("User-Agent"),
        allowed_hosts=current_app.config["PUSH_ENDPOINT_HOSTS"],
        now=utcnow(),
    )
    return subscription, 201 if created else 200


@blp.route("/patients/<id:patient_id>/push/subscriptions/<id:subscription_id>", methods=["DELETE"])
@login_required(PATIENT)
@blp.response(204)
def unsubscribe(patient_id, subscription_id):
    """Turn off push notifications on one browser (the last one sets reminders back to texts)"""
    service.unsubscribe(current_user(), patient_id, subscription_id, now=utcnow())


@blp.route("/patients/<id:patient_id>/push/test", methods=["POST"])
@login_required(PATIENT)
@limiter.limit("5 per minute")
@blp.response(200, TestResultSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def send_test(patient_id):
    """Send a test notification to each of your browsers"""
    sender = sender_from_config(current_app.config)
    return {"deliveries": service.send_test(current_user(), patient_id, sender, now=utcnow())}


@blp.route("/patients/<id:patient_id>/reminder-channel", methods=["PUT"])
@login_required()
@blp.arguments(ChannelSchema)
@blp.response(200, PushStatusSchema)
@blp.alt_response(403, response="FORBIDDEN")  # staff choosing push: only the patient may
def set_channel(body, patient_id):
    """Choose how reminders arrive: sms, or push (the patient only, with a subscription)"""
    service.set_channel(current_user(), patient_id, body["channel"], now=utcnow())
    return _status(patient_id)
