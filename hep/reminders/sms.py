"""SMS adapter: one small interface, a console backend for development and Twilio for production."""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hep.config import PROJECT_ROOT

# Twilio's error codes that HEP acts on, defined here only.
RETRYABLE_CODES = frozenset({20429})  # too many requests
UNUSABLE_NUMBER_CODES = frozenset({21211, 21614, 30005, 30006})  # invalid, not mobile, unknown, landline
OPTED_OUT_CODES = frozenset({21610})  # the recipient replied STOP
MAX_VALIDITY = 14400  # the longest validity_period HEP asks for, seconds (Twilio allows up to 36,000)
# Messages per page when reconciling: a number's last few minutes fit one page almost always.
_PAGE_SIZE = 50
# A lookup reads at most this many messages back; past it the answer is not conclusive.
_LOOKUP_LIMIT = 1000


def stops_texts(code: int | None) -> bool:
    """Whether a send or delivery error code means: stop texting this number (opted out or unusable)."""
    return code in OPTED_OUT_CODES or code in UNUSABLE_NUMBER_CODES


def is_opt_out(code: int | None) -> bool:
    """Whether a send or delivery error code means the recipient opted out (replied STOP)."""
    return code in OPTED_OUT_CODES


@dataclass(frozen=True)
class Sent:
    """A message the provider accepted."""

    sid: str
    status: str


@dataclass(frozen=True)
class Found:
    """A message found when reconciling."""

    sid: str
    to: str
    body: str
    status: str
    date_created: datetime


class SmsError(Exception):
    """A send or lookup the provider refused, or could not be reached for."""

    def __init__(
        self, message: str, *, code: int | None = None, http_status: int | None = None, network: bool = False
    ) -> None:
        """Keep the provider's error code, the HTTP status and whether the provider was unreachable."""
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.network = network

    @property
    def retryable(self) -> bool:
        """True when the same request may succeed later (rate limit, server error, timeout)."""
        if self.network or self.code in RETRYABLE_CODES or self.http_status == 429:
            return True
        return self.http_status is not None and 500 <= self.http_status < 600

    @property
    def unusable_number(self) -> bool:
        """True when the number cannot receive SMS (invalid, landline, unreachable)."""
        return self.code in UNUSABLE_NUMBER_CODES

    @property
    def opted_out(self) -> bool:
        """True when the recipient replied STOP."""
        return self.code in OPTED_OUT_CODES

    def __repr__(self) -> str:
        """Show the code and status next to the message."""
        return f"SmsError({self.message!r}, code={self.code!r}, http_status={self.http_status!r})"


class LateSlot(Exception):
    """No sending slot came in time: the message was not handed to the provider at all."""


# Takes a sending slot (waiting for it); False when none comes in time. Called right before the request
# leaves, so the rate cap holds where the provider sees it, not only where the sending thread started.
Pace = Callable[[], bool]


class SmsBackend(Protocol):
    """What the reminders service needs from an SMS provider."""

    name: str

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        validity_period: int | None = None,
        pace: Pace | None = None,
    ) -> Sent:
        """Hand one message to the provider, once `pace` gives a slot; raise SmsError when it is refused,
        LateSlot (nothing sent) when `pace` gives none."""
        ...

    def find(self, to: str, since: datetime) -> list[Found]:
        """Return every message to `to` created at or after `since` (aware), whatever its status.

        Raise SmsError when the provider cannot be asked or the answer is not conclusive.
        """
        ...

    def close(self) -> None:
        """Release connections; call once when the process stops sending."""
        ...


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("datetimes passed to an SMS backend must be timezone-aware")
    return moment.astimezone(UTC)


class ConsoleBackend:
    """Print messages and append them to a JSON-lines outbox instead of sending them."""

    name = "console"

    def __init__(self, outbox_path: str | os.PathLike[str], stream: TextIO | None = None) -> None:
        """Write to `outbox_path`; print to `stream` (stdout at the time of sending by default)."""
        self.outbox_path = Path(outbox_path)
        self._stream = stream

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        validity_period: int | None = None,
        pace: Pace | None = None,
    ) -> Sent:
        """Print the message and append it to the outbox."""
        if pace is not None and not pace():
            raise LateSlot()
        sid = "CONSOLE" + uuid.uuid4().hex
        record = {
            "sid": sid,
            "to": to,
            "body": body,
            "status": "sent",
            "date_created": datetime.now(UTC).isoformat(),
            "status_callback": status_callback,
            "validity_period": validity_period,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self.outbox_path.parent.mkdir(parents=True, exist_ok=True)
        # One os.write on an O_APPEND descriptor: lines from concurrent workers never interleave.
        fd = os.open(self.outbox_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        stream = self._stream or sys.stdout
        print(f"[SMS console, not sent] to {to} ({sid}): {json.dumps(body, ensure_ascii=False)}", file=stream)
        return Sent(sid=sid, status="sent")

    def find(self, to: str, since: datetime) -> list[Found]:
        """Read the outbox back: messages to `to` created at or after `since`."""
        since = _utc(since)
        try:
            text = self.outbox_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
                created = datetime.fromisoformat(record["date_created"]).astimezone(UTC)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a crash; the rest of the outbox is still good
            if record.get("to") == to and since <= created:
                found.append(Found(record["sid"], record["to"], record["body"], record["status"], created))
        return found

    def close(self) -> None:
        """Nothing to release; here so both backends can be closed alike."""


class _PacedSession(requests.Session):
    """A requests session that takes the sending slot just before a message's POST leaves (after the SDK
    and requests have built it), so the time between the slot and the wire is as short as it can be."""

    pace: Pace | None = None

    def send(self, request, **kwargs):
        """Wait for the slot, then send; raise LateSlot (nothing sent) when none comes in time."""
        pace, self.pace = self.pace, None  # one slot per message, even if the SDK were to send twice
        if pace is not None and request.method == "POST" and not pace():
            raise LateSlot()
        return super().send(request, **kwargs)


class TwilioBackend:
    """Send and look up messages through Twilio's official SDK."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        base_url: str | None = None,
        timeout: float = 10,
    ) -> None:
        """Build the SDK client; no request is made until the first send or find."""
        # The SDK silently falls back to TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN from os.environ.
        if not (account_sid and auth_token):
            raise ValueError("TwilioBackend needs account_sid and auth_token")
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioBackend needs from_number or messaging_service_sid")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self._credentials, self._base_url, self._timeout = (account_sid, auth_token), base_url, timeout
        # One SDK client (and requests session) per thread: the dispatcher sends from several threads,
        # and a requests.Session is not documented as safe to share between them.
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    @property
    def _messages(self):
        messages = getattr(self._local, "messages", None)
        if messages is None:
            http = TwilioHttpClient(timeout=self._timeout)
            adapter = http.session.get_adapter("https://")
            http.session = self._local.session = _PacedSession()
            http.session.mount("https://", adapter)  # the SDK's pool settings, kept
            client = Client(*self._credentials, http_client=http)
            if self._base_url:
                # Tests only: the Api domain's public base_url is what every api.twilio.com URL
                # (next-page links included) is built from. TWILIO_EDGE/TWILIO_REGION in the
                # environment would rewrite the host, so they are ignored here.
                client.api.base_url = self._base_url.rstrip("/")
                client.edge = client.region = None
            messages = self._local.messages = client.api.account.messages
            with self._sessions_lock:
                self._sessions.append(http.session)
        return messages

    def send(
        self,
        to: str,
        body: str,
        *,
        status_callback: str | None = None,
        validity_period: int | None = None,
        pace: Pace | None = None,
    ) -> Sent:
        """Create the message at Twilio once `pace` gives a slot; raise SmsError when Twilio refuses it or
        cannot be reached, LateSlot when no slot came in time (nothing was sent)."""
        options: dict[str, Any] = {}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        if self.from_number:
            options["from_"] = self.from_number
        if status_callback is not None:
            options["status_callback"] = status_callback
        if validity_period is not None:
            options["validity_period"] = validity_period
        messages = self._messages
        self._local.session.pace = pace
        try:
            message = messages.create(to=to, body=body, **options)
        except (TwilioException, requests.RequestException) as error:
            raise _sms_error(error) from error
        finally:
            self._local.session.pace = None
        return Sent(sid=message.sid, status=message.status)

    def find(self, to: str, since: datetime) -> list[Found]:
        """List the messages to `to` from our sender, newest first, back to `since`.

        No DateSent filter: Twilio leaves DateSent empty while a message is queued, accepted or
        scheduled, and a DateSent filter does not list such a message at all; so the list is read by
        recipient (and sender, when we send from a number) and stopped at the first message older
        than `since`. Raise SmsError when Twilio cannot be asked or the list runs past _LOOKUP_LIMIT.
        """
        # Twilio's date_created has whole seconds: a message created at 12:00:00.7 reads 12:00:00.
        since = _utc(since).replace(microsecond=0)
        filters: dict[str, Any] = {"to": to}
        if self.from_number and not self.messaging_service_sid:
            filters["from_"] = self.from_number  # a Messaging Service picks the sender later
        found: list[Found] = []
        try:
            for count, m in enumerate(self._messages.stream(page_size=_PAGE_SIZE, **filters)):
                if m.date_created is not None and m.date_created < since:
                    return found
                if count >= _LOOKUP_LIMIT:
                    raise SmsError(f"more than {_LOOKUP_LIMIT} messages to {to} since {since}: not conclusive")
                if m.direction == "inbound" or m.date_created is None:
                    continue
                found.append(Found(m.sid, m.to, m.body, m.status, m.date_created))
        except (TwilioException, requests.RequestException) as error:
            raise _sms_error(error) from error
        return found

    def close(self) -> None:
        """Close the pooled HTTP connections of every thread that sent."""
        with self._sessions_lock:
            for session in self._sessions:
                if session is not None:
                    session.close()
            self._sessions.clear()
        self._local = threading.local()


def _sms_error(error: TwilioException | requests.RequestException) -> SmsError:
    """Translate an SDK or transport failure into SmsError."""
    if isinstance(error, TwilioRestException | TwilioServiceException):
        message = getattr(error, "msg", None) or getattr(error, "detail", None) or getattr(error, "title", "")
        return SmsError(str(message), code=_int_or_none(error.code), http_status=_int_or_none(error.status))
    if isinstance(error, requests.RequestException):
        # Timeouts, refused connections, TLS failures: Twilio never answered.
        return SmsError(f"Twilio unreachable: {error}", network=True)
    if isinstance(error, TwilioException) and len(error.args) > 1:
        # Listing pages raises a bare TwilioException("Unable to fetch page", response) on non-200.
        response = error.args[1]
        status = getattr(response, "status_code", None)
        code, message = None, str(error.args[0])
        try:
            payload = json.loads(response.text)
            code, message = _int_or_none(payload.get("code")), payload.get("message") or message
        except (ValueError, AttributeError, TypeError):
            pass
        return SmsError(str(message), code=code, http_status=_int_or_none(status))
    return SmsError(str(error))


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def backend_from_config(config: Mapping[str, Any]) -> SmsBackend:
    """Build the SMS backend named by SMS_BACKEND ("console" by default, or "twilio")."""
    choice = (config.get("SMS_BACKEND") or "console").strip().lower()
    if choice == "console":
        return ConsoleBackend(config.get("SMS_OUTBOX_PATH") or PROJECT_ROOT / "instance" / "sms-outbox.jsonl")
    if choice != "twilio":
        raise ValueError(f"SMS_BACKEND must be 'console' or 'twilio', not {choice!r}")
    for setting in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        if not config.get(setting):
            raise ValueError(f"SMS_BACKEND=twilio needs {setting}")
    if not (config.get("TWILIO_FROM_NUMBER") or config.get("TWILIO_MESSAGING_SERVICE_SID")):
        raise ValueError("SMS_BACKEND=twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    return TwilioBackend(
        account_sid=config["TWILIO_ACCOUNT_SID"],
        auth_token=config["TWILIO_AUTH_TOKEN"],
        from_number=config.get("TWILIO_FROM_NUMBER") or None,
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID") or None,
        base_url=config.get("TWILIO_BASE_URL") or None,
        timeout=float(config.get("TWILIO_TIMEOUT") or 10),
    )
