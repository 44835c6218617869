"""SMS backends: Twilio through the real SDK against a local fake, the console outbox, and configuration."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from fakes.twilio import FakeTwilio, WebhookSink
from hep.reminders import sms
from hep.reminders.sms import ConsoleBackend, Found, LateSlot, SmsError, TwilioBackend, backend_from_config

SID = "AC" + "0" * 32
TOKEN = "test-token"
SENDER = "+15005550006"
PATIENT = "+16045550123"
OTHER = "+16045550199"
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the fake's date_created."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def server(clock: Clock) -> Iterator[FakeTwilio]:
    with FakeTwilio(account_sid=SID, auth_token=TOKEN, now=clock) as fake:
        yield fake


@pytest.fixture
def make_backend(server: FakeTwilio) -> Iterator[Callable[..., TwilioBackend]]:
    made: list[TwilioBackend] = []

    def make(**options: object) -> TwilioBackend:
        settings: dict = {"account_sid": SID, "auth_token": TOKEN, "from_number": SENDER, "base_url": server.base_url}
        backend = TwilioBackend(**{**settings, **options})
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


@pytest.fixture
def backend(make_backend: Callable[..., TwilioBackend]) -> TwilioBackend:
    return make_backend()


# -- TwilioBackend: sending ----------------------------------------------------------------------


def test_send_returns_the_sid_and_status_twilio_gave(backend: TwilioBackend, server: FakeTwilio) -> None:
    sent = backend.send(PATIENT, "Time for your nerve glides")

    assert re.fullmatch(r"SM[0-9a-f]{32}", sent.sid)
    assert sent.status == "queued"
    [message] = server.messages
    assert (message["sid"], message["to"], message["from"], message["body"]) == (
        sent.sid,
        PATIENT,
        SENDER,
        "Time for your nerve glides",
    )


def test_the_sending_slot_is_taken_once_just_before_the_post_leaves(backend: TwilioBackend, server: FakeTwilio) -> None:
    seen_at_slot = []

    def pace() -> bool:
        seen_at_slot.append(len(server.messages))
        return True

    sent = backend.send(PATIENT, "Time for your nerve glides", pace=pace)

    assert seen_at_slot == [0]  # taken once, before Twilio had the message
    assert [m["sid"] for m in server.messages] == [sent.sid]


def test_no_slot_in_time_sends_nothing(backend: TwilioBackend, server: FakeTwilio) -> None:
    with pytest.raises(LateSlot):
        backend.send(PATIENT, "Time for your nerve glides", pace=lambda: False)

    assert server.messages == []
    assert backend.send(PATIENT, "Time for your nerve glides").sid  # the thread's client still sends after it


def test_a_lookup_takes_no_sending_slot(backend: TwilioBackend, server: FakeTwilio) -> None:
    backend.send(PATIENT, "Time for your nerve glides")
    slots = []
    backend._local.session.pace = lambda: slots.append(1) or True  # as if left over from a send

    assert len(backend.find(PATIENT, T0 - timedelta(minutes=1))) == 1
    assert slots == []


def test_send_through_a_messaging_service_sends_its_sid_instead_of_a_number(
    make_backend: Callable[..., TwilioBackend], server: FakeTwilio
) -> None:
    backend = make_backend(from_number=None, messaging_service_sid="MG" + "1" * 32)

    sent = backend.send(PATIENT, "Hello")

    assert sent.status == "accepted"
    form = server.requests[-1].form
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_status_callback_and_validity_period_reach_twilio(backend: TwilioBackend, server: FakeTwilio) -> None:
    sent = backend.send(PATIENT, "Hello", status_callback="https://hep.example/sms/status", validity_period=3600)

    form = server.requests[-1].form
    assert form["StatusCallback"] == "https://hep.example/sms/status"
    assert form["ValidityPeriod"] == "3600"
    stored = server.message(sent.sid)
    assert (stored["status_callback"], stored["validity_period"]) == ("https://hep.example/sms/status", 3600)


def test_send_without_options_sends_no_callback_or_validity(backend: TwilioBackend, server: FakeTwilio) -> None:
    backend.send(PATIENT, "Hello")

    assert not {"StatusCallback", "ValidityPeriod"} & set(server.requests[-1].form)


# -- TwilioBackend: reconciling ------------------------------------------------------------------


def test_find_returns_the_messages_to_the_number_created_since(
    backend: TwilioBackend, server: FakeTwilio, clock: Clock
) -> None:
    server.add_message(PATIENT, "before", date_created=T0 - timedelta(minutes=1))
    clock.moment = T0
    first = backend.send(PATIENT, "first")
    clock.moment = T0 + timedelta(minutes=5)
    second = backend.send(PATIENT, "second")
    backend.send(OTHER, "someone else")

    found = backend.find(PATIENT, T0)

    assert found == [
        Found(second.sid, PATIENT, "second", "queued", T0 + timedelta(minutes=5)),
        Found(first.sid, PATIENT, "first", "queued", T0),
    ]


def test_a_queued_message_has_no_date_sent_and_is_not_listed_by_a_date_sent_filter(
    backend: TwilioBackend, server: FakeTwilio
) -> None:
    sent = backend.send(PATIENT, "still queued")
    messages = backend._messages

    by_date_sent = messages.list(to=PATIENT, date_sent_after=T0 - timedelta(days=1))

    assert server.message(sent.sid)["date_sent"] is None
    assert by_date_sent == []
    server.deliver(sent.sid, "sent")
    assert [m.sid for m in messages.list(to=PATIENT, date_sent_after=T0 - timedelta(days=1))] == [sent.sid]


def test_find_lists_a_queued_message_that_has_no_date_sent(backend: TwilioBackend, server: FakeTwilio) -> None:
    sent = backend.send(PATIENT, "still queued")

    found = backend.find(PATIENT, T0 - timedelta(minutes=2))

    assert [(f.sid, f.status) for f in found] == [(sent.sid, "queued")]


def test_find_lists_by_recipient_and_sender_without_date_filters(backend: TwilioBackend, server: FakeTwilio) -> None:
    backend.find(PATIENT, T0)

    query = server.requests[-1].query
    assert (query["To"], query["From"]) == (PATIENT, SENDER)
    assert not [key for key in query if key.startswith("DateSent")]


def test_find_through_a_messaging_service_lists_by_recipient_only(
    make_backend: Callable[..., TwilioBackend], server: FakeTwilio
) -> None:
    backend = make_backend(from_number=None, messaging_service_sid="MG" + "1" * 32)
    sent = backend.send(PATIENT, "accepted, sender not chosen yet")

    found = backend.find(PATIENT, T0)

    assert "From" not in server.requests[-1].query
    assert [(f.sid, f.status) for f in found] == [(sent.sid, "accepted")]


def test_find_matches_a_message_created_within_the_same_second_as_since(backend: TwilioBackend, clock: Clock) -> None:
    clock.moment = T0 + timedelta(milliseconds=700)
    sent = backend.send(PATIENT, "Hello")

    found = backend.find(PATIENT, T0 + timedelta(milliseconds=500))

    assert [f.sid for f in found] == [sent.sid]


def test_find_returns_dates_as_aware_utc(backend: TwilioBackend) -> None:
    backend.send(PATIENT, "Hello")

    [found] = backend.find(PATIENT, T0 - timedelta(hours=1))

    assert found.date_created == T0
    assert found.date_created.utcoffset() == timedelta(0)


def test_find_follows_next_page_links_and_stops_at_since(
    backend: TwilioBackend, server: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sms, "_PAGE_SIZE", 2)
    for minute in range(-6, 5):
        server.add_message(PATIENT, f"m{minute}", date_created=T0 + timedelta(minutes=minute))

    found = backend.find(PATIENT, T0)

    assert [f.body for f in found] == ["m4", "m3", "m2", "m1", "m0"]
    assert [r.query.get("Page") for r in server.requests] == [None, "1", "2"]  # not the older pages


def test_a_lookup_that_runs_past_its_limit_is_not_conclusive(
    backend: TwilioBackend, server: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sms, "_LOOKUP_LIMIT", 3)
    for second in range(5):
        server.add_message(PATIENT, f"m{second}", date_created=T0 + timedelta(seconds=second))

    with pytest.raises(SmsError, match="not conclusive"):
        backend.find(PATIENT, T0)


def test_find_accepts_non_utc_aware_datetimes(backend: TwilioBackend) -> None:
    sent = backend.send(PATIENT, "Hello")
    vancouver = timezone(timedelta(hours=-8))

    found = backend.find(PATIENT, T0.astimezone(vancouver))

    assert [f.sid for f in found] == [sent.sid]


def test_find_refuses_naive_datetimes(backend: TwilioBackend) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        backend.find(PATIENT, datetime(2026, 11, 23))


# -- TwilioBackend: errors -----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500), (503, 20500)])
def test_rate_limits_and_server_errors_on_send_are_retryable(
    backend: TwilioBackend, server: FakeTwilio, status: int, code: int
) -> None:
    server.fail_next(1, status=status, code=code)

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (status, code, True)
    assert not caught.value.unusable_number


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (500, 20500)])
def test_rate_limits_and_server_errors_on_find_are_retryable(
    backend: TwilioBackend, server: FakeTwilio, status: int, code: int
) -> None:
    server.fail_next(1, status=status, code=code)

    with pytest.raises(SmsError) as caught:
        backend.find(PATIENT, T0)

    assert (caught.value.http_status, caught.value.code, caught.value.retryable) == (status, code, True)


def test_send_succeeds_once_the_injected_failures_are_used_up(backend: TwilioBackend, server: FakeTwilio) -> None:
    server.fail_next(2)
    for _ in range(2):
        with pytest.raises(SmsError):
            backend.send(PATIENT, "Hello")

    assert backend.send(PATIENT, "Hello").status == "queued"
    assert len(server.messages) == 1


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_or_non_mobile_numbers_are_unusable(backend: TwilioBackend, server: FakeTwilio, code: int) -> None:
    server.reject_number(PATIENT, code=code)

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert (caught.value.code, caught.value.http_status) == (code, 400)
    assert caught.value.unusable_number
    assert not caught.value.retryable
    assert not caught.value.opted_out


@pytest.mark.parametrize("code", [30005, 30006])
def test_delivery_error_codes_for_dead_numbers_are_unusable(code: int) -> None:
    # These arrive in status callbacks (ErrorCode), not as API errors.
    error = SmsError("undelivered", code=code)

    assert error.unusable_number
    assert not error.retryable


def test_unsubscribed_recipient_is_opted_out(backend: TwilioBackend, server: FakeTwilio) -> None:
    server.reject_number(PATIENT, code=21610)

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert caught.value.opted_out
    assert not caught.value.unusable_number
    assert not caught.value.retryable


def test_a_timeout_is_retryable(make_backend: Callable[..., TwilioBackend], server: FakeTwilio) -> None:
    backend = make_backend(timeout=0.2)
    server.timeout_next(1, seconds=2)

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert caught.value.retryable
    assert (caught.value.code, caught.value.http_status) == (None, None)
    assert server.messages == []


def test_a_message_accepted_after_the_client_timed_out_is_found_when_reconciling(
    make_backend: Callable[..., TwilioBackend], server: FakeTwilio
) -> None:
    backend = make_backend(timeout=0.2)
    server.timeout_next(1, seconds=1, accept=True)
    with pytest.raises(SmsError):
        backend.send(PATIENT, "Hello")

    found = backend.find(PATIENT, T0)

    assert [f.body for f in found] == ["Hello"]


def test_latency_below_the_timeout_still_succeeds(
    make_backend: Callable[..., TwilioBackend], server: FakeTwilio
) -> None:
    backend = make_backend(timeout=2)
    server.latency = 0.15

    assert backend.send(PATIENT, "Hello").status == "queued"


def test_an_unreachable_twilio_is_retryable(make_backend: Callable[..., TwilioBackend]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    backend = make_backend(base_url=f"http://127.0.0.1:{closed_port}", timeout=1)

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert caught.value.retryable


def test_wrong_credentials_are_not_retryable(make_backend: Callable[..., TwilioBackend], server: FakeTwilio) -> None:
    backend = make_backend(auth_token="wrong-token")

    with pytest.raises(SmsError) as caught:
        backend.send(PATIENT, "Hello")

    assert (caught.value.http_status, caught.value.code) == (401, 20003)
    assert not caught.value.retryable
    assert server.messages == []


def test_a_missing_sender_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="from_number or messaging_service_sid"):
        TwilioBackend(SID, TOKEN)


# -- the fake's webhooks -------------------------------------------------------------------------


def test_status_callbacks_are_signed_like_twilio(backend: TwilioBackend, server: FakeTwilio) -> None:
    with WebhookSink() as sink:
        sent = backend.send(PATIENT, "Hello", status_callback=sink.url("/sms/status?clinic=1"))
        server.deliver(sent.sid, "delivered")

    [hook] = sink.received
    assert hook.url.endswith("/sms/status?clinic=1")
    assert RequestValidator(TOKEN).validate(hook.url, hook.form, hook.headers["X-Twilio-Signature"])
    assert not RequestValidator("another-token").validate(hook.url, hook.form, hook.headers["X-Twilio-Signature"])
    assert hook.form | {"MessageSid": sent.sid} == hook.form
    assert (hook.form["MessageStatus"], hook.form["To"], hook.form["From"]) == ("delivered", PATIENT, SENDER)
    assert hook.form["AccountSid"] == SID
    assert "ErrorCode" not in hook.form


def test_a_failed_delivery_callback_carries_the_error_code(backend: TwilioBackend, server: FakeTwilio) -> None:
    with WebhookSink() as sink:
        sent = backend.send(PATIENT, "Hello", status_callback=sink.url("/sms/status"))
        result = server.deliver(sent.sid, "undelivered", error_code=30005)

    assert result is not None and result.status == 200
    assert sink.received[0].form["ErrorCode"] == "30005"
    assert server.message(sent.sid)["error_code"] == 30005


def test_automatic_callbacks_walk_queued_sent_delivered(clock: Clock) -> None:
    with (
        WebhookSink() as sink,
        FakeTwilio(SID, TOKEN, auto_status=("sent", "delivered"), now=clock) as server,
    ):
        backend = TwilioBackend(SID, TOKEN, from_number=SENDER, base_url=server.base_url)
        try:
            sent = backend.send(PATIENT, "Hello", status_callback=sink.url("/sms/status"))
            server.wait_for_callbacks(2)
        finally:
            backend.close()

    assert sent.status == "queued"
    assert [h.form["MessageStatus"] for h in sink.received] == ["sent", "delivered"]
    assert server.message(sent.sid)["status"] == "delivered"


def test_inbound_sms_is_posted_signed_and_answered(server: FakeTwilio) -> None:
    with WebhookSink(body="<Response><Message>Thanks</Message></Response>") as sink:
        status, body = server.send_inbound(sink.url("/sms/inbound"), from_=PATIENT, to=SENDER, body="STOP")

    assert (status, body) == (200, "<Response><Message>Thanks</Message></Response>")
    [hook] = sink.received
    assert (hook.form["From"], hook.form["To"], hook.form["Body"]) == (PATIENT, SENDER, "STOP")
    assert re.fullmatch(r"SM[0-9a-f]{32}", hook.form["MessageSid"])
    assert RequestValidator(TOKEN).validate(hook.url, hook.form, hook.headers["X-Twilio-Signature"])


def test_a_webhook_error_answer_is_returned_not_raised(server: FakeTwilio) -> None:
    with WebhookSink(status=403, body="bad signature") as sink:
        assert server.send_inbound(sink.url("/sms/inbound"), from_=PATIENT, to=SENDER, body="hi") == (
            403,
            "bad signature",
        )


# -- ConsoleBackend ------------------------------------------------------------------------------


def test_console_send_prints_one_marked_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sent = ConsoleBackend(tmp_path / "outbox.jsonl").send(PATIENT, "Line one\nline two")

    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "SMS" in out and PATIENT in out and "Line one\\nline two" in out and sent.sid in out


def test_console_send_without_a_slot_in_time_writes_nothing(tmp_path: Path) -> None:
    printed = io.StringIO()
    backend = ConsoleBackend(tmp_path / "outbox.jsonl", stream=printed)

    with pytest.raises(LateSlot):
        backend.send(PATIENT, "Time for your nerve glides", pace=lambda: False)

    assert not (tmp_path / "outbox.jsonl").exists()
    assert printed.getvalue() == ""


def test_console_send_appends_a_json_line_to_the_outbox(tmp_path: Path) -> None:
    outbox = tmp_path / "instance" / "sms-outbox.jsonl"
    backend = ConsoleBackend(outbox)

    first = backend.send(PATIENT, "one", status_callback="https://hep.example/cb", validity_period=600)
    second = backend.send(OTHER, "two")

    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [(r["sid"], r["to"], r["body"]) for r in lines] == [(first.sid, PATIENT, "one"), (second.sid, OTHER, "two")]
    assert (lines[0]["status_callback"], lines[0]["validity_period"]) == ("https://hep.example/cb", 600)
    assert re.fullmatch(r"CONSOLE[0-9a-f]{32}", first.sid)


def test_console_find_reads_the_outbox_back(tmp_path: Path) -> None:
    backend = ConsoleBackend(tmp_path / "outbox.jsonl")
    before = datetime.now(UTC)
    sent = backend.send(PATIENT, "Hello")
    backend.send(OTHER, "Someone else")
    after = datetime.now(UTC)

    [found] = backend.find(PATIENT, before)

    assert (found.sid, found.to, found.body, found.status) == (sent.sid, PATIENT, "Hello", sent.status)
    assert before <= found.date_created <= after
    assert backend.find(PATIENT, after + timedelta(seconds=1)) == []


def test_console_find_without_an_outbox_finds_nothing(tmp_path: Path) -> None:
    assert ConsoleBackend(tmp_path / "missing.jsonl").find(PATIENT, T0) == []


def test_console_find_skips_a_torn_line(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox.jsonl"
    backend = ConsoleBackend(outbox)
    sent = backend.send(PATIENT, "Hello")
    with outbox.open("a") as file:
        file.write('{"sid": "CONSOLE12')

    found = backend.find(PATIENT, datetime.now(UTC) - timedelta(minutes=1))

    assert [f.sid for f in found] == [sent.sid]


# -- backend_from_config -------------------------------------------------------------------------


def test_config_defaults_to_the_console(tmp_path: Path) -> None:
    backend = backend_from_config({"SMS_OUTBOX_PATH": str(tmp_path / "out.jsonl")})

    assert isinstance(backend, ConsoleBackend)
    assert backend.name == "console"
    assert backend.outbox_path == tmp_path / "out.jsonl"


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID"),
        ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"),
        ("TWILIO_FROM_NUMBER", "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"),
    ],
)
def test_config_for_twilio_names_the_missing_setting(missing: str, message: str) -> None:
    config = {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": SENDER,
        missing: "",
    }

    with pytest.raises(ValueError, match=message):
        backend_from_config(config)


def test_config_refuses_an_unknown_backend() -> None:
    with pytest.raises(ValueError, match="SMS_BACKEND"):
        backend_from_config({"SMS_BACKEND": "carrier-pigeon"})


def test_config_for_twilio_builds_a_working_backend(server: FakeTwilio) -> None:
    backend = backend_from_config(
        {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM_NUMBER": SENDER,
            "TWILIO_BASE_URL": server.base_url,
        }
    )
    try:
        sent = backend.send(PATIENT, "Hello")
    finally:
        backend.close()

    assert backend.name == "twilio"
    assert [m["sid"] for m in server.messages] == [sent.sid]
