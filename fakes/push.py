"""A fake Web Push service on 127.0.0.1 for tests: it checks VAPID and decrypts what it receives.

    with FakePushService() as push:
        subscription = push.new_subscription()      # what a browser's PushSubscription.toJSON() gives
        ... the app sends to subscription["endpoint"] ...
        [message] = push.messages                   # the decrypted payload, the VAPID claims, the headers

Like a real push service (RFC 8030) it takes a POST per message and answers 201. Before accepting it
checks, independently of the libraries HEP sends with:
- the VAPID Authorization header (RFC 8292): `vapid t=<JWT>, k=<public key>`, the JWT signed ES256 by
  that key, `aud` the endpoint's origin, `exp` in the future and at most 24 h ahead, `sub` a mailto: or
  https: contact (and, when `vapid_key` is given, that `k` is the server's key);
- the TTL header, and the body encrypted as RFC 8291 `aes128gcm`, which it decrypts with the private
  key and auth secret of the subscription it made (HKDF and AES-GCM written out here, per the RFC).

A request that fails a check is answered 400/401/403 and recorded in `rejected` with the reason.
`answer(endpoint, status)` makes an endpoint answer a status instead (404/410 gone, 429, 500).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAX_VAPID_LIFETIME = 24 * 3600


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    # One HMAC block is enough for every length RFC 8291 needs (at most 32 bytes).
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


@dataclass
class Receiver:
    """The browser side of one subscription: its ECDH key pair and auth secret."""

    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def public_key(self) -> bytes:
        return _public_bytes(self.private_key.public_key())

    def decrypt(self, body: bytes) -> bytes:
        """Decrypt an RFC 8291 aes128gcm message sent to this receiver."""
        salt, record_size, id_length = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
        sender_public = body[21 : 21 + id_length]
        ciphertext = body[21 + id_length :]
        if id_length != 65 or record_size < 18 or len(ciphertext) > record_size:
            raise ValueError("a single aes128gcm record with the sender's 65-byte key as keyid is expected")
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_public)
        ecdh_secret = self.private_key.exchange(ec.ECDH(), sender)
        prk_key = hmac.new(self.auth_secret, ecdh_secret, hashlib.sha256).digest()
        ikm = _hkdf_expand(prk_key, b"WebPush: info\x00" + self.public_key + sender_public, 32)
        prk = hmac.new(salt, ikm, hashlib.sha256).digest()
        cek = _hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
        nonce = _hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        data = padded.rstrip(b"\x00")
        if not data.endswith(b"\x02"):
            raise ValueError("the last record must end with the 0x02 delimiter")
        return data[:-1]


@dataclass(frozen=True)
class Message:
    """One push the fake accepted."""

    endpoint: str
    payload: Any  # the decrypted body, parsed as JSON when it is JSON
    claims: dict
    vapid_key: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Rejected:
    endpoint: str
    status: int
    reason: str


@dataclass
class _State:
    receivers: dict[str, Receiver] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # handler threads are joined on close

    def __init__(self, fake: FakePushService) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, extra = self.server.fake._receive(self.path, dict(self.headers.items()), body)
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakePushService:
    """A push service for tests; see the module docstring."""

    def __init__(self, *, vapid_key: str | None = None) -> None:
        self.vapid_key = vapid_key  # the applicationServerKey the app's subscriptions were made with
        self._state = _State()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakePushService:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-push", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakePushService:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    # --- what tests use ---------------------------------------------------------------------

    def new_subscription(self) -> dict:
        """A new browser subscription, as PushSubscription.toJSON() gives it."""
        receiver = Receiver(secrets.token_urlsafe(16), ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16))
        with self._lock:
            self._state.receivers[receiver.token] = receiver
        return {
            "endpoint": f"{self.origin}/push/{receiver.token}",
            "expirationTime": None,
            "keys": {"p256dh": b64url(receiver.public_key), "auth": b64url(receiver.auth_secret)},
        }

    def answer(self, endpoint: str, status: int | None) -> None:
        """Make `endpoint` answer `status` from now on (410 gone, 429, 500...); None: accept again."""
        with self._lock:
            if status is None:
                self._state.answers.pop(self._token(endpoint), None)
            else:
                self._state.answers[self._token(endpoint)] = status

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._state.messages)

    @property
    def rejected(self) -> list[Rejected]:
        with self._lock:
            return list(self._state.rejected)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        """Wait until at least `count` messages arrived; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            time.sleep(0.05)
        raise AssertionError(f"expected {count} push messages, got {len(self.messages)}; rejected: {self.rejected}")

    # --- the service ------------------------------------------------------------------------

    @staticmethod
    def _token(endpoint_or_path: str) -> str:
        return endpoint_or_path.rstrip("/").rsplit("/", 1)[-1]

    def _reject(self, endpoint: str, status: int, reason: str) -> tuple[int, dict]:
        with self._lock:
            self._state.rejected.append(Rejected(endpoint, status, reason))
        return status, {}

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        endpoint = f"{self.origin}{path}"
        headers = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            receiver = self._state.receivers.get(self._token(path)) if path.startswith("/push/") else None
            forced = self._state.answers.get(self._token(path))
        if receiver is None:
            return self._reject(endpoint, 404, "no such subscription")
        try:
            claims, key = self._check_vapid(headers.get("authorization", ""))
        except ValueError as exc:
            return self._reject(endpoint, 401, f"VAPID: {exc}")
        if self.vapid_key is not None and key != self.vapid_key:
            return self._reject(endpoint, 403, "VAPID key is not the one the subscription was made with")
        if "ttl" not in headers or not headers["ttl"].isdigit():
            return self._reject(endpoint, 400, "TTL header missing")
        if headers.get("content-encoding") != "aes128gcm":
            return self._reject(endpoint, 400, f"content-encoding {headers.get('content-encoding')!r}")
        try:
            plaintext = receiver.decrypt(body)
        except (ValueError, InvalidTag, IndexError, struct.error) as exc:
            return self._reject(endpoint, 400, f"cannot decrypt: {exc!r}")
        if forced is not None:
            return forced, {"Retry-After": "30"} if forced == 429 else {}
        try:
            payload: Any = json.loads(plaintext)
        except ValueError:
            payload = plaintext
        kept = {k: headers[k] for k in ("ttl", "topic", "urgency") if k in headers}
        with self._lock:
            self._state.messages.append(Message(endpoint, payload, claims, key, kept))
        return 201, {"Location": f"{self.origin}/message/{secrets.token_urlsafe(8)}"}

    def _check_vapid(self, authorization: str) -> tuple[dict, str]:
        scheme, _, params = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError(f"scheme {scheme!r}, expected vapid")
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        token, key = parts.get("t"), parts.get("k")
        if not token or not key:
            raise ValueError("t= and k= are required")
        header_b64, claims_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        if header.get("alg") != "ES256":
            raise ValueError(f"alg {header.get('alg')!r}, expected ES256")
        signature = b64url_decode(signature_b64)
        if len(signature) != 64:
            raise ValueError("an ES256 signature is 64 bytes (r || s)")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise ValueError("bad signature") from None
        claims = json.loads(b64url_decode(claims_b64))
        now = time.time()
        if claims.get("aud") != self.origin:
            raise ValueError(f"aud {claims.get('aud')!r}, expected {self.origin}")
        if not isinstance(claims.get("exp"), int) or not now < claims["exp"] <= now + MAX_VAPID_LIFETIME:
            raise ValueError("exp must be in the future and at most 24 h ahead")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            raise ValueError("sub must be a mailto: or https: contact")
        return claims, key.rstrip("=")
