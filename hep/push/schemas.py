"""Request and response schemas for push subscriptions and the reminder channel."""

from __future__ import annotations

import base64
import binascii

import marshmallow as ma
from cryptography.hazmat.primitives.asymmetric import ec
from marshmallow import validate

from hep.accounts.models import REMINDER_CHANNELS
from hep.fields import Choice
from hep.push.webpush import DELIVERY_STATUSES


def _b64url_bytes(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ma.ValidationError("must be base64url") from exc


class P256dhKey(ma.fields.String):
    """The browser's ECDH public key: base64url of an uncompressed P-256 point (65 bytes)."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        decoded = _b64url_bytes(raw)
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), decoded)
        except ValueError as exc:
            raise ma.ValidationError("must be an uncompressed P-256 public key (65 bytes, base64url)") from exc
        if len(decoded) != 65:
            raise ma.ValidationError("must be an uncompressed P-256 public key (65 bytes, base64url)")
        return raw.rstrip("=")


class AuthSecret(ma.fields.String):
    """The browser's authentication secret: 16 bytes, base64url."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        if len(_b64url_bytes(raw)) != 16:
            raise ma.ValidationError("must be 16 bytes, base64url")
        return raw.rstrip("=")


class KeysSchema(ma.Schema):
    p256dh = P256dhKey(required=True, validate=validate.Length(1, 100))
    auth = AuthSecret(required=True, validate=validate.Length(1, 40))


class SubscribeSchema(ma.Schema):
    """What `PushSubscription.toJSON()` gives in the browser."""

    endpoint = ma.fields.Url(
        required=True,
        schemes={"https", "http"},
        require_tld=False,
        validate=validate.Length(max=2000),
        metadata={"description": "The push service URL (https; a known push service)"},
    )
    expiration_time = ma.fields.Float(
        data_key="expirationTime",
        load_default=None,
        allow_none=True,
        metadata={"description": "Ignored (browsers send null)"},
    )
    keys = ma.fields.Nested(KeysSchema, required=True)


class SubscriptionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    push_service = ma.fields.String(
        attribute="origin", required=True, metadata={"description": "Scheme and host of the endpoint"}
    )
    user_agent = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    last_sent_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class PushStatusSchema(ma.Schema):
    channel = Choice(REMINDER_CHANNELS, required=True, metadata={"description": "Chosen channel"})
    effective_channel = Choice(
        REMINDER_CHANNELS,
        required=True,
        metadata={"description": "What reminders use now: push needs a live subscription"},
    )
    vapid_public_key = ma.fields.String(
        required=True, metadata={"description": "applicationServerKey for PushManager.subscribe (base64url)"}
    )
    subscriptions = ma.fields.List(ma.fields.Nested(SubscriptionSchema), required=True)


class ChannelSchema(ma.Schema):
    channel = Choice(REMINDER_CHANNELS, required=True)


class DeliverySchema(ma.Schema):
    subscription_id = ma.fields.Integer(required=True)
    status = Choice(DELIVERY_STATUSES, attribute="result.status", required=True)
    http_status = ma.fields.Integer(attribute="result.http_status", allow_none=True, required=True)


class TestResultSchema(ma.Schema):
    deliveries = ma.fields.List(ma.fields.Nested(DeliverySchema), required=True)
