"""The Web Push adapter: send one encrypted message to one browser subscription, signed with VAPID.

Messages are encrypted for the subscription (RFC 8291, aes128gcm) and authorised with a VAPID JWT
(RFC 8292, ES256) by pywebpush and py-vapid. `send` never raises for a push service's answer: it
returns a PushResult whose status says what the caller should do next.

    sender = WebPushSender(private_key, "mailto:ops@example.org")
    result = sender.send(SubscriptionInfo(endpoint, p256dh, auth), {"title": ..., "body": ...}, ttl=3600)
    if result.status == GONE: end the subscription
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

SENT, GONE, RETRY, FAILED = "sent", "gone", "retry", "failed"
DELIVERY_STATUSES = (SENT, GONE, RETRY, FAILED)
# The push service keeps an undelivered message at most this long (RFC 8030 TTL); reminders pass their own.
DEFAULT_TTL = 4 * 3600
MAX_PAYLOAD_BYTES = 3000  # RFC 8291 allows 4096 bytes of ciphertext; keep clear of it
VAPID_LIFETIME = 12 * 3600  # push services refuse a JWT that expires more than 24 h ahead


@dataclass(frozen=True)
class SubscriptionInfo:
    """Where a browser receives pushes: the push service URL and the browser's public keys (base64url)."""

    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class PushResult:
    """What a push service answered: sent, gone (end the subscription), retry later, or failed for good."""

    status: str
    http_status: int | None = None
    detail: str | None = None
    retry_after: int | None = None


class PushSender(Protocol):
    def send(
        self, subscription: SubscriptionInfo, payload: dict, *, ttl: int = DEFAULT_TTL, topic: str | None = None
    ) -> PushResult: ...


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_vapid(private_key: str) -> Vapid02:
    """A VAPID signer from a PEM key, or a base64url raw (32 bytes) or DER key."""
    if "-----BEGIN" in private_key:
        return Vapid02.from_pem(private_key.strip().encode())
    return Vapid02.from_string(private_key.strip())


def application_server_key(private_key: str) -> str:
    """The VAPID public key as browsers take it (`applicationServerKey`): base64url, uncompressed P-256 point."""
    public = load_vapid(private_key).public_key
    return _b64url(public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def _retry_after(response: requests.Response) -> int | None:
    raw = response.headers.get("Retry-After", "")
    return int(raw) if raw.isdigit() else None


def classify(response: requests.Response) -> PushResult:
    """Map a push service's HTTP answer to what the caller does next."""
    status = response.status_code
    detail = (response.text or response.reason or "")[:200] or None
    if 200 <= status < 300:
        return PushResult(SENT, status)
    if status in (404, 410):
        return PushResult(GONE, status, detail or "subscription gone")
    if status == 429 or status >= 500:
        return PushResult(RETRY, status, detail, _retry_after(response))
    return PushResult(FAILED, status, detail)


class WebPushSender:
    """Sends Web Push messages with pywebpush. It keeps a requests.Session: use one instance per thread."""

    def __init__(
        self, private_key: str, subject: str, *, timeout: float = 10.0, session: requests.Session | None = None
    ) -> None:
        self._vapid = load_vapid(private_key)
        self._subject = subject
        self._timeout = timeout
        self._session = session or requests.Session()

    def _headers(self, endpoint: str, topic: str | None) -> dict[str, str]:
        url = urlsplit(endpoint)
        claims = {"aud": f"{url.scheme}://{url.netloc}", "exp": int(time.time()) + VAPID_LIFETIME, "sub": self._subject}
        headers = dict(self._vapid.sign(claims))
        headers["Urgency"] = "normal"
        if topic:
            # A newer message with the same topic (at most 32 base64url characters) replaces an undelivered one,
            # so a resend shows once.
            headers["Topic"] = topic
        return headers

    def send(
        self, subscription: SubscriptionInfo, payload: dict, *, ttl: int = DEFAULT_TTL, topic: str | None = None
    ) -> PushResult:
        """Encrypt `payload` (JSON) for the subscription and post it to its push service."""
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        if len(data) > MAX_PAYLOAD_BYTES:
            return PushResult(FAILED, None, f"payload is {len(data)} bytes; at most {MAX_PAYLOAD_BYTES}")
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        try:
            pusher = WebPusher(info, requests_session=self._session)
            response = pusher.send(
                data,
                self._headers(subscription.endpoint, topic),
                ttl=ttl,
                content_encoding="aes128gcm",
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            # Timeouts and dropped connections: the message may or may not have arrived; a resend with the
            # same topic replaces it on the push service, and the notification's tag replaces it on screen.
            return PushResult(RETRY, None, f"{type(exc).__name__}: {exc}"[:200])
        except (WebPushException, ValueError) as exc:
            return PushResult(FAILED, None, f"cannot encrypt for this subscription: {exc}"[:200])
        return classify(response)


def sender_from_config(config) -> WebPushSender:
    """The sender the app's settings describe (VAPID key and subject, timeout)."""
    return WebPushSender(config["VAPID_PRIVATE_KEY"], config["VAPID_SUBJECT"], timeout=config["PUSH_TIMEOUT_SECONDS"])
