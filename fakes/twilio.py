"""A fake Twilio REST API on 127.0.0.1 for tests and benchmarks: messages, faults, signed callbacks, inbound SMS.

    with FakeTwilio() as server:
        backend = TwilioBackend(server.account_sid, server.auth_token, from_number="+15005550006",
                                base_url=server.base_url)

It speaks the parts of the 2010-04-01 Messages API the SDK uses (create, list with paging, fetch),
answers errors in Twilio's JSON shape and posts callbacks signed like Twilio (X-Twilio-Signature).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "test-token"
# Twilio's sender when a Messaging Service picks the number (its magic test "From" number).
SERVICE_NUMBER = "+15005550006"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$")
_ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
}
# Characters that fit a GSM-7 segment (the basic set is close enough for counting segments).
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)

Transport = Callable[[str, Mapping[str, str], Mapping[str, str]], tuple[int, str]]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, before any fault was applied."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    authorized: bool


@dataclass(frozen=True)
class CallbackResult:
    """One webhook the fake posted (status callback or inbound SMS) and how it was answered."""

    url: str
    params: dict[str, str]
    signature: str
    status: int | None
    body: str
    error: str | None = None


@dataclass
class _Fault:
    status: int
    code: int
    message: str


@dataclass
class _Delay:
    seconds: float
    accept: bool


@dataclass
class _Response:
    status: int
    payload: dict[str, Any]
    after: list[Callable[[], None]] = field(default_factory=list)


def twilio_error(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """Return Twilio's error body for `code`."""
    return {
        "code": code,
        "message": message or _ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _rfc2822(moment: datetime | None) -> str | None:
    return None if moment is None else format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def _segments(body: str) -> int:
    single, multi = (160, 153) if set(body) <= _GSM7 else (70, 67)
    return 1 if len(body) <= single else -(-len(body) // multi)


def _parse_filter_date(value: str, *, end_of_day: bool) -> datetime:
    """Parse a DateSent filter: a whole GMT day (YYYY-MM-DD) or an exact YYYY-MM-DDTHH:MM:SSZ."""
    if len(value) == 10:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return day + timedelta(days=1, microseconds=-1) if end_of_day else day
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def urllib_transport(url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> tuple[int, str]:
    """POST form-encoded `params` to `url` with urllib; return (status, body) even for 4xx/5xx."""
    request = urllib.request.Request(url, data=urlencode(params).encode(), headers=dict(headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode("utf-8", "replace")


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close, so no request outlives the test that made it.
    daemon_threads = False
    block_on_close = True
    # Dispatchers send from many threads at once; the default backlog of 5 would refuse connections.
    request_queue_size = 128

    def __init__(self, fake: FakeTwilio) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # an idle client cannot hold a handler thread (and close()) forever

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet; everything is in server.requests


class FakeTwilio:
    """A local stand-in for api.twilio.com; use as a context manager."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        auto_status: Iterable[str] = (),
        status_delay: float = 0.0,
        transport: Transport | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """Configure credentials; `auto_status=("sent", "delivered")` posts those callbacks after each send."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.auto_status = tuple(auto_status)
        self.status_delay = status_delay
        self.transport: Transport = transport or urllib_transport
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.latency = 0.0
        self._validator = RequestValidator(auth_token)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._messages: dict[str, dict[str, Any]] = {}
        self._requests: list[RecordedRequest] = []
        self._callbacks: list[CallbackResult] = []
        self._faults: deque[_Fault] = deque()
        self._delays: deque[_Delay] = deque()
        self._rejected: dict[str, _Fault] = {}
        self._workers: list[threading.Thread] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-twilio", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake sleeping handlers and join every thread the fake started."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join()

    def __enter__(self) -> FakeTwilio:
        """Start the server."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Close the server."""
        self.close()

    @property
    def base_url(self) -> str:
        """Where the fake listens, e.g. http://127.0.0.1:54321 (the SDK's api domain base URL)."""
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message the fake accepted (outbound and simulated inbound), oldest first, as Twilio's JSON."""
        with self._lock:
            return [self._public(record) for record in self._messages.values()]

    def outbound(self) -> list[dict[str, Any]]:
        """The outbound messages as stored, oldest first: plain dicts with datetimes, cheaper than `messages`."""
        with self._lock:
            return [dict(r) for r in self._messages.values() if r["direction"] == "outbound-api"]

    def message(self, sid: str) -> dict[str, Any]:
        """The stored message `sid`, with the extra keys status_callback and validity_period."""
        with self._lock:
            record = self._messages[sid]
            return {
                **self._public(record),
                "status_callback": record["_status_callback"],
                "validity_period": record["_validity_period"],
            }

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def callbacks(self) -> list[CallbackResult]:
        """Every webhook posted (status callbacks and inbound messages), in order."""
        with self._lock:
            return list(self._callbacks)

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[CallbackResult]:
        """Block until at least `count` webhooks were posted; raise TimeoutError otherwise."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._callbacks) >= count, timeout):
                raise TimeoutError(f"{len(self._callbacks)} of {count} callbacks posted")
            return list(self._callbacks)

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 429, code: int = 20429, message: str | None = None) -> None:
        """Answer the next `n` API requests with this error instead of handling them."""
        with self._lock:
            self._faults.extend(_Fault(status, code, message or _ERROR_MESSAGES.get(code, "Error")) for _ in range(n))

    def timeout_next(self, n: int = 1, seconds: float = 1.0, *, accept: bool = False) -> None:
        """Hold the next `n` API requests for `seconds`; with accept=True they are still carried out.

        accept=False: the request is dropped unanswered (it never reached Twilio).
        accept=True: Twilio did the work, only the answer came too late (the message exists).
        """
        with self._lock:
            self._delays.extend(_Delay(seconds, accept) for _ in range(n))

    def reject_number(self, to: str, status: int = 400, code: int = 21211, message: str | None = None) -> None:
        """Refuse every message to `to` with a permanent error (21211, 21610, 21614, ...)."""
        with self._lock:
            self._rejected[to] = _Fault(status, code, message or _ERROR_MESSAGES.get(code, "Error"))

    # -- messages and webhooks ---------------------------------------------------------------

    def add_message(
        self, to: str, body: str, *, date_created: datetime, status: str = "delivered", from_: str = SERVICE_NUMBER
    ) -> str:
        """Store an outbound message as if sent earlier (no callback); return its sid."""
        record = self._new_record(to, body, from_, None, None, None, date_created)
        record["status"] = status
        if status in ("sent", "delivered", "undelivered", "read"):
            record["date_sent"] = date_created
        with self._lock:
            self._messages[record["sid"]] = record
        return record["sid"]

    def deliver(self, sid: str, status: str = "delivered", error_code: int | None = None) -> CallbackResult | None:
        """Move message `sid` to `status` and post its status callback, if it has one."""
        with self._lock:
            record = self._messages[sid]
            record["status"] = status
            record["date_updated"] = self.now()
            if status in ("sent", "delivered", "undelivered") and record["date_sent"] is None:
                record["date_sent"] = record["date_updated"]
            if record["from"] is None and status != "failed":
                record["from"] = SERVICE_NUMBER
            if error_code is not None:
                record["error_code"] = error_code
                record["error_message"] = _ERROR_MESSAGES.get(error_code)
            url = record["_status_callback"]
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "To": record["to"],
                "From": record["from"] or "",
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
            }
            if record["messaging_service_sid"]:
                params["MessagingServiceSid"] = record["messaging_service_sid"]
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
        return self.post_webhook(url, params) if url else None

    def send_inbound(self, url: str, from_: str, to: str, body: str, **extra: str) -> tuple[int | None, str]:
        """Post an inbound SMS to the webhook `url` as Twilio would; return (status, body) of the answer."""
        record = self._new_record(to, body, from_, None, None, None, self.now())
        record.update(direction="inbound", status="received", date_sent=record["date_created"])
        with self._lock:
            self._messages[record["sid"]] = record
        params = {
            "MessageSid": record["sid"],
            "SmsSid": record["sid"],
            "SmsMessageSid": record["sid"],
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": str(record["num_segments"]),
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
            **extra,
        }
        result = self.post_webhook(url, params)
        return result.status, result.body

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """Twilio's X-Twilio-Signature for a POST of `params` to `url`."""
        return self._validator.compute_signature(url, dict(params))

    def post_webhook(self, url: str, params: Mapping[str, str]) -> CallbackResult:
        """POST signed, form-encoded `params` to `url` and record the answer."""
        params = dict(params)
        signature = self.sign(url, params)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            status, body = self.transport(url, params, headers)
            result = CallbackResult(url, params, signature, status, body)
        except OSError as error:  # refused, unreachable, timed out: Twilio would log and move on
            result = CallbackResult(url, params, signature, None, "", error=repr(error))
        with self._changed:
            self._callbacks.append(result)
            self._changed.notify_all()
        return result

    # -- request handling --------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        url = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length).decode("utf-8") if length else ""
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        authorized = self._authorized(handler.headers.get("Authorization"))
        with self._lock:
            self._requests.append(RecordedRequest(handler.command, url.path, query, form, authorized))
        if self.latency and self._stopping.wait(self.latency):
            return
        if not authorized:
            return self._write(handler, _Response(401, twilio_error(401, 20003)))
        with self._lock:
            delay = self._delays.popleft() if self._delays else None
            fault = self._faults.popleft() if self._faults and delay is None else None
        if delay is not None and not delay.accept:
            self._stopping.wait(delay.seconds)
            handler.close_connection = True
            return  # dropped: the client sees a timeout and nothing happened
        if fault is not None:
            response = _Response(fault.status, twilio_error(fault.status, fault.code, fault.message))
        else:
            response = self._route(handler.command, url.path, query, form)
        if delay is not None:
            self._stopping.wait(delay.seconds)
        self._write(handler, response)
        for action in response.after:
            action()

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _route(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> _Response:
        match = _MESSAGES.match(path)
        if not match or match["account"] != self.account_sid:
            return _Response(404, twilio_error(404, 20404))
        if match["sid"] and method == "GET":
            with self._lock:
                record = self._messages.get(match["sid"])
                return _Response(200, self._public(record)) if record else _Response(404, twilio_error(404, 20404))
        if match["sid"]:
            return _Response(405, twilio_error(405, 20004, "Method not allowed"))
        if method == "POST":
            return self._create(form)
        return self._list(query)

    def _create(self, form: dict[str, str]) -> _Response:
        to, body = form.get("To"), form.get("Body")
        from_, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _Response(400, twilio_error(400, 21604))
        if not (from_ or service):
            return _Response(400, twilio_error(400, 21603))
        if not body:
            return _Response(400, twilio_error(400, 21602))
        with self._lock:
            rejected = self._rejected.get(to)
        if rejected is not None:
            return _Response(rejected.status, twilio_error(rejected.status, rejected.code, rejected.message))
        validity = form.get("ValidityPeriod")
        record = self._new_record(
            to, body, from_, service, form.get("StatusCallback"), int(validity) if validity else None, self.now()
        )
        # A Messaging Service picks the sender later, so Twilio answers "accepted" with from null.
        record["status"] = "accepted" if service and not from_ else "queued"
        with self._lock:
            self._messages[record["sid"]] = record
        response = _Response(201, self._public(record))
        if self.auto_status:
            response.after.append(lambda: self._advance_later(record["sid"]))
        return response

    def _list(self, query: dict[str, str]) -> _Response:
        try:
            page = int(query.get("Page", 0))
            page_size = min(int(query.get("PageSize", 50)), 1000)
            after = _parse_filter_date(query["DateSent>"], end_of_day=False) if query.get("DateSent>") else None
            before = _parse_filter_date(query["DateSent<"], end_of_day=True) if query.get("DateSent<") else None
            on = query.get("DateSent")
            if on:
                after = _parse_filter_date(on, end_of_day=False)
                before = _parse_filter_date(on, end_of_day=True)
        except ValueError as error:
            return _Response(400, twilio_error(400, 20001, f"Invalid parameter: {error}"))
        with self._lock:
            records = list(self._messages.values())
        selected = []
        for record in records:
            # As Twilio: a message that is queued, accepted or scheduled has no DateSent yet, so a DateSent
            # filter does not list it at all (it is listed again once the carrier has taken it).
            moment = record["date_sent"]
            if query.get("To") and record["to"] != query["To"]:
                continue
            if query.get("From") and record["from"] != query["From"]:
                continue
            if (after or before) and moment is None:
                continue
            if (after and moment < after) or (before and moment > before):
                continue
            selected.append(record)
        selected.sort(key=lambda r: r["date_created"], reverse=True)  # Twilio lists newest first
        start = page * page_size
        chunk = selected[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            token = {"PageToken": f"PASM{number}"} if number else {}
            return f"{base}?{urlencode({**filters, 'PageSize': page_size, 'Page': number, **token})}"

        more = start + page_size < len(selected)
        payload = {
            "end": start + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": [self._public(record) for record in chunk],
            "next_page_uri": page_uri(page + 1) if more else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }
        return _Response(200, payload)

    def _advance_later(self, sid: str) -> None:
        def advance() -> None:
            for status in self.auto_status:
                if self._stopping.wait(self.status_delay):
                    return
                self.deliver(sid, status)

        worker = threading.Thread(target=advance, name=f"fake-twilio-{sid}", daemon=True)
        with self._lock:
            self._workers.append(worker)
        worker.start()

    def _new_record(
        self,
        to: str,
        body: str,
        from_: str | None,
        service: str | None,
        status_callback: str | None,
        validity_period: int | None,
        created: datetime,
    ) -> dict[str, Any]:
        sid = "SM" + uuid.uuid4().hex
        created = created.astimezone(UTC).replace(microsecond=0)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "direction": "outbound-api",
            "from": from_,
            "to": to,
            "messaging_service_sid": service,
            "status": "queued",
            "num_segments": _segments(body),
            "num_media": "0",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "_status_callback": status_callback,
            "_validity_period": validity_period,
        }

    def _public(self, record: dict[str, Any]) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{record['sid']}.json"
        public = {key: value for key, value in record.items() if not key.startswith("_")}
        public.update(
            num_segments=str(record["num_segments"]),
            date_created=_rfc2822(record["date_created"]),
            date_updated=_rfc2822(record["date_updated"]),
            date_sent=_rfc2822(record["date_sent"]),
            uri=uri,
            subresource_uris={
                "media": uri.replace(".json", "/Media.json"),
                "feedback": uri.replace(".json", "/Feedback.json"),
            },
        )
        return public

    def _write(self, handler: _Handler, response: _Response) -> None:
        body = json.dumps(response.payload).encode("utf-8")
        try:
            handler.send_response(response.status, HTTPStatus(response.status).phrase)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
            handler.end_headers()
            handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); Twilio would not notice either


@dataclass(frozen=True)
class ReceivedWebhook:
    """One POST a WebhookSink received."""

    url: str
    headers: dict[str, str]
    form: dict[str, str]


class WebhookSink:
    """A tiny local HTTP server that records POSTs: a stand-in for the app's webhook endpoints."""

    def __init__(self, status: int = 200, body: str = "<Response/>") -> None:
        """Answer every POST with `status` and `body` (TwiML by default)."""
        self.status = status
        self.body = body
        self._lock = threading.Lock()
        self._received: list[ReceivedWebhook] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        """The absolute URL of `path` on this sink."""
        if self._server is None:
            raise RuntimeError("WebhookSink is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    @property
    def received(self) -> list[ReceivedWebhook]:
        """Every POST received, in order."""
        with self._lock:
            return list(self._received)

    def __enter__(self) -> WebhookSink:
        """Start serving on a free port."""
        sink = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
                with sink._lock:
                    sink._received.append(ReceivedWebhook(sink.url(self.path), dict(self.headers.items()), form))
                payload = sink.body.encode("utf-8")
                self.send_response(sink.status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-sink", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving and join the server's threads."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
