"""Text reminders: planning at local times, sending exactly once through Twilio's SDK, webhooks."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from hep.accounts.models import User
from hep.extensions import db
from hep.programs import compiled
from hep.reminders import consent, messages
from hep.reminders.dispatch import Dispatcher
from hep.reminders.models import EarlyStatus, Reminder, SmsContact
from hep.reminders.planner import plan
from hep.reminders.policy import local_moment
from hep.reminders.sender import LocalThrottle
from hep.sessions import service as sessions
from tests.reminders.helpers import FROM, due_now, local, rows

# --- message templates ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", messages.KINDS)
def test_every_default_template_is_gsm7_one_segment_and_free_of_health_details(kind):
    for language, text in messages.DEFAULTS[kind].items():
        rendered = messages.render(
            text, clinic="North Shore Sports & Physio Centre", contact="+1 604 555 0100", when="Tue 24 Nov 09:30"
        )
        assert messages.problems(text, rendered) == [], (kind, language, rendered)


def test_clinic_names_are_spelled_in_gsm7():
    assert messages.render("{clinic}", clinic="Clínica Fisio Ñandú") == "Clinica Fisio Ñandu"


def test_a_health_word_in_a_template_is_caught():
    text = "{clinic}: do your neck exercises after needling"
    assert len(messages.problems(text, text)) == 2


# --- planning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "moment"),
    [
        ("America/Vancouver", datetime(2026, 10, 31, 15, 0, tzinfo=UTC)),  # DST ends 1 Nov
        ("America/Vancouver", datetime(2026, 3, 7, 15, 0, tzinfo=UTC)),  # DST starts 8 Mar
        ("Europe/London", datetime(2026, 10, 24, 9, 0, tzinfo=UTC)),  # BST ends 25 Oct
        ("Europe/London", datetime(2026, 3, 28, 9, 0, tzinfo=UTC)),  # BST starts 29 Mar
        ("Australia/Sydney", datetime(2026, 4, 4, 1, 0, tzinfo=UTC)),  # DST ends 5 Apr
        ("Australia/Sydney", datetime(2026, 10, 3, 1, 0, tzinfo=UTC)),  # DST starts 4 Oct
        ("Asia/Kolkata", datetime(2026, 11, 23, 3, 0, tzinfo=UTC)),  # +05:30
        ("Pacific/Chatham", datetime(2026, 9, 26, 20, 0, tzinfo=UTC)),  # +12:45, DST starts 27 Sep
    ],
)
def test_reminders_land_at_the_local_time_inside_the_window_across_dst(texted, tz, moment):
    patient = texted(tz=tz, exercise_times=["18:00"], window_start="08:00", window_end="21:00", max_per_week=7)
    plan(moment)
    planned = rows(patient)
    assert len(planned) >= 2
    for reminder in planned:
        at = local(tz, reminder.due_at)
        assert (at.hour, at.minute) == (18, 0), at
        assert at.date() == reminder.local_date
        assert local(tz, reminder.window_end_at).strftime("%H:%M") == "21:00"
    assert len({r.local_date for r in planned}) == len(planned)


def test_planning_twice_creates_nothing_twice(texted):
    patient = texted()
    moment = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    first = plan(moment)
    assert first >= 1 and plan(moment) == 0
    assert len(rows(patient)) == first


def test_planning_leaves_the_apps_version_cache_alone(texted):
    texted(phone="+447400123401"), texted(phone="+447400123402")
    compiled.versions_cache.clear()
    assert plan(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)) >= 2
    assert len(compiled.versions_cache) == 0  # a bulk reader does not evict what the apps read all day


def test_daily_and_weekly_caps(texted, dispatcher, fake):
    patient = texted(exercise_times=["09:00", "18:00"], max_per_day=1, max_per_week=3)
    for day in range(7):
        morning = datetime(2026, 11, 23, 7, 0, tzinfo=UTC) + timedelta(days=day)
        plan(morning)
        with time_machine.travel(morning + timedelta(hours=2), tick=False):
            dispatcher.run_once()
    sent = [r for r in rows(patient) if r.status == "sent"]
    assert [r.local_date.isoformat() for r in sent] == ["2026-11-23", "2026-11-24", "2026-11-25"]  # then the cap
    assert all(local("Europe/London", r.due_at).hour == 9 for r in sent)
    assert len(fake.messages) == 3
    assert not [r for r in rows(patient) if date(2026, 11, 26) <= r.local_date <= date(2026, 11, 29)]


def test_needling_day_has_no_exercise_reminder_or_a_gentle_one(make, texted):
    for mode, expect, phone in (("skip", [], "+447400123401"), ("gentle", ["post_needling"], "+447400123402")):
        patient = texted(needling_day=mode, max_per_week=7, phone=phone)
        physio = db.session.get(User, patient.patient.physiotherapist_id)
        with time_machine.travel(datetime(2026, 11, 23, 8, tzinfo=UTC), tick=False):
            sessions.schedule(
                physio,
                patient.id,
                {"starts_at": datetime(2026, 11, 24, 10, tzinfo=UTC), "duration_minutes": 30},
                now=datetime(2026, 11, 23, 8, tzinfo=UTC),
            )
        plan(datetime(2026, 11, 23, 8, tzinfo=UTC))
        on_the_day = db.session.scalars(
            sa.select(Reminder.kind).where(
                Reminder.patient_id == patient.id,
                Reminder.local_date == date(2026, 11, 24),
                Reminder.kind.in_(("exercise", "post_needling")),
            )
        ).all()
        assert on_the_day == expect, mode


def test_pre_session_reminder_is_24_hours_before_and_kept_inside_the_window(make, texted):
    patient = texted()
    physio = db.session.get(User, patient.patient.physiotherapist_id)
    now = datetime(2026, 11, 23, 6, tzinfo=UTC)
    early = sessions.schedule(
        physio, patient.id, {"starts_at": datetime(2026, 11, 24, 10, tzinfo=UTC), "duration_minutes": 30}, now=now
    )
    dawn = sessions.schedule(
        physio, patient.id, {"starts_at": datetime(2026, 11, 25, 7, 30, tzinfo=UTC), "duration_minutes": 30}, now=now
    )
    early_id, dawn_id = early.id, dawn.id
    plan(now)
    due = {r.session_id: r.due_at for r in rows(patient, "pre_session")}
    assert due[early_id] == datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert due[dawn_id] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 07:30 is before the window opens


def test_cancelled_session_withdraws_its_reminder_before_it_goes_out(make, texted, dispatcher, fake):
    patient = texted()
    physio = db.session.get(User, patient.patient.physiotherapist_id)
    now = datetime(2026, 11, 23, 6, tzinfo=UTC)
    session = sessions.schedule(
        physio, patient.id, {"starts_at": datetime(2026, 11, 24, 10, tzinfo=UTC), "duration_minutes": 30}, now=now
    )
    session_id = session.id
    plan(now)
    physio = db.session.get(User, physio.id)
    sessions.change(physio, session_id, {"status": "cancelled"}, now=now)
    assert [r.status for r in rows(patient, "pre_session")] == ["withdrawn"]
    with time_machine.travel(datetime(2026, 11, 23, 10, 1, tzinfo=UTC), tick=False):
        dispatcher.run_once()
    assert [m["body"] for m in fake.messages if "appointment" in m["body"]] == []


# --- dispatch ---------------------------------------------------------------------------------


def test_a_due_reminder_is_sent_once_with_validity_and_callback(texted, dispatcher, fake):
    patient = texted()
    when = due_now(patient)
    with time_machine.travel(when, tick=False):
        assert dispatcher.run_once() == {"sent": 1}
        assert dispatcher.run_once() == {}
    [message] = fake.messages
    assert message["to"] == "+447400123456" and "exercises" in message["body"]
    assert fake.message(message["sid"])["validity_period"] == 3 * 3600  # until 21:00 London
    assert rows(patient)[0].status == "sent" and rows(patient)[0].provider_sid == message["sid"]


def test_concurrent_sends_reach_each_patient_once_and_record_each_outcome(texted, sms, fake):
    patients = [texted(phone=f"+4474001234{n:02d}") for n in range(6)]
    when = due_now(patients[0])
    fake.fail_next(1, status=429, code=20429)  # whichever call comes first is refused, and retried later
    dispatcher = Dispatcher(backend=sms, owner="test-worker", max_per_second=1000, concurrency=4)
    try:
        with time_machine.travel(when, tick=False):
            outcome = dispatcher.run_once()
    finally:
        dispatcher.close()
    statuses = sorted(rows(p)[0].status for p in patients)
    assert outcome == {"sent": 5, "retry": 1} and statuses == ["planned"] + ["sent"] * 5
    assert sorted(m["to"] for m in fake.messages) == sorted(rows(p)[0].to_phone for p in patients if rows(p)[0].sent_at)
    assert {rows(p)[0].provider_sid for p in patients if rows(p)[0].status == "sent"} == {
        m["sid"] for m in fake.messages
    }


def test_a_reminder_that_waits_too_long_for_a_sending_slot_is_requeued_not_sent(texted, sms, fake):
    patients = [texted(phone=f"+4474001236{n:02d}") for n in range(3)]
    when = due_now(patients[0])
    # Slots 0.5 s apart, and a call must start within half of a 0.6 s lease: only the first makes it.
    dispatcher = Dispatcher(backend=sms, owner="test-worker", max_per_second=2, concurrency=3, lease_seconds=0.6)
    try:
        with time_machine.travel(when, tick=False):
            outcome = dispatcher.run_once()
    finally:
        dispatcher.close()
    assert outcome == {"sent": 1, "requeued": 2} and len(fake.messages) == 1
    waiting = [rows(p)[0] for p in patients if rows(p)[0].status == "planned"]
    assert [(r.attempts, r.lease_owner) for r in waiting] == [(0, None), (0, None)]


def test_the_send_rate_cap_holds_across_sending_threads(texted, sms, fake):
    patients = [texted(phone=f"+4474001235{n:02d}") for n in range(5)]
    when = due_now(patients[0])
    throttle, woke = LocalThrottle(20), []
    acquire = throttle.acquire

    def recording(deadline):
        granted = acquire(deadline)
        woke.append(time.monotonic())
        return granted

    throttle.acquire = recording
    dispatcher = Dispatcher(backend=sms, owner="test-worker", concurrency=5, throttle=throttle)
    start = time.monotonic()
    try:
        with time_machine.travel(when, tick=False):
            assert dispatcher.run_once() == {"sent": 5}
    finally:
        dispatcher.close()
    # Slot i is 50 ms after slot i-1 and no earlier than the start, though 5 threads were ready at once.
    assert len(woke) == 5 and all(at >= start + i / 20 for i, at in enumerate(sorted(woke)))


def test_a_delivery_report_that_beats_the_recorded_sid_is_applied_once_it_is_recorded(texted, sms, fake):
    patient = texted()
    when = due_now(patient)

    def carrier_is_quick(point: str) -> None:
        if point == "after-send":  # Twilio has the text; the dispatcher has not recorded its SID yet
            assert fake.deliver(fake.messages[-1]["sid"], "delivered").status == 204

    dispatcher = Dispatcher(
        backend=sms,
        owner="test-worker",
        max_per_second=1000,
        status_callback="http://localhost/webhooks/twilio/status",
        pause_hook=carrier_is_quick,
    )
    with time_machine.travel(when, tick=False):
        assert dispatcher.run_once() == {"sent": 1}
    reminder = rows(patient)[0]
    assert (reminder.status, reminder.provider_status) == ("delivered", "delivered")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EarlyStatus)) == 0


def test_status_callbacks_only_move_forward(texted, dispatcher, fake):
    patient = texted()
    with time_machine.travel(due_now(patient), tick=False):
        dispatcher.run_once()
    sid = fake.messages[0]["sid"]
    for status in ("delivered", "sent", "delivered", "queued"):
        assert fake.deliver(sid, status).status == 204
    assert rows(patient)[0].status == "delivered"


def test_skipped_when_todays_exercises_are_already_logged(make, texted, dispatcher, fake):
    patient = texted()
    when = due_now(patient)
    routine_item = db.session.scalar(sa.select(Reminder)).patient_id and _item(patient)
    make.log(patient, routine_item, when - timedelta(hours=2))
    with time_machine.travel(when, tick=False):
        assert dispatcher.run_once() == {"skipped": 1}
    assert fake.messages == [] and rows(patient)[0].reason == "today's exercises are already logged"


def _item(patient) -> int:
    from hep.programs.models import Routine

    routine = db.session.scalar(sa.select(Routine).where(Routine.patient_id == patient.id))
    return routine.current.phases[0].items[0].id


def test_never_sent_after_the_window_closes(texted, dispatcher, fake):
    patient = texted()
    due_now(patient)
    with time_machine.travel(datetime(2026, 11, 23, 21, 0, 1, tzinfo=UTC), tick=False):
        assert dispatcher.run_once() == {"missed": 1}
    assert fake.messages == []


def test_429_is_retried_with_backoff_then_sent_once(texted, dispatcher, fake):
    patient = texted()
    when = due_now(patient)
    fake.fail_next(2, status=429, code=20429)
    with time_machine.travel(when, tick=False) as clock:
        for _ in range(3):
            dispatcher.run_once()
            clock.shift(timedelta(minutes=5))
    assert len(fake.messages) == 1 and rows(patient)[0].status == "sent" and rows(patient)[0].attempts == 3


def test_a_5xx_is_reconciled_not_resent_blind(texted, dispatcher, reconciler, fake):
    patient = texted()
    when = due_now(patient)
    fake.fail_next(1, status=503, code=20503)  # refused before Twilio stored anything
    with time_machine.travel(when, tick=False) as clock:
        assert dispatcher.run_once() == {"uncertain": 1}
        clock.shift(timedelta(seconds=1))
        assert reconciler.run(when + timedelta(seconds=1)) == {"look-again": 1}
        assert reconciler.run(when + timedelta(seconds=30)) == {}  # not before the second look is due
        clock.shift(timedelta(seconds=61))
        assert reconciler.run(when + timedelta(seconds=62)) == {"requeued": 1}
        assert dispatcher.run_once() == {"sent": 1}
    assert len(fake.messages) == 1


def test_an_accepted_text_still_queued_at_twilio_when_its_answer_was_a_5xx_is_found_not_resent(
    texted, dispatcher, reconciler, fake
):
    patient = texted()
    when = due_now(patient)
    fake.timeout_next(1, seconds=3, accept=True)  # Twilio took it; the answer is lost
    with time_machine.travel(when, tick=False) as clock:
        assert dispatcher.run_once() == {"uncertain": 1}
        [message] = fake.messages
        assert (message["status"], message["date_sent"]) == ("queued", None)  # not listed by a DateSent filter
        clock.shift(timedelta(minutes=5))
        assert reconciler.run(when + timedelta(minutes=5)) == {"found-sent": 1}
        clock.shift(timedelta(minutes=10))
        assert reconciler.run(when + timedelta(minutes=15)) == {}
        assert dispatcher.run_once() == {}
    assert len(fake.messages) == 1
    assert (rows(patient)[0].status, rows(patient)[0].provider_sid) == ("sent", message["sid"])


def test_a_text_twilio_lists_only_on_the_second_look_is_not_resent(texted, dispatcher, reconciler, sms, fake):
    patient = texted()
    when = due_now(patient)
    fake.timeout_next(1, seconds=3, accept=True)
    with time_machine.travel(when, tick=False) as clock:
        assert dispatcher.run_once() == {"uncertain": 1}
        clock.shift(timedelta(seconds=5))
        listed = sms.find
        sms.find = lambda to, since: []  # the provider's list has not caught up yet
        assert reconciler.run(when + timedelta(seconds=5)) == {"look-again": 1}
        sms.find = listed
        clock.shift(timedelta(seconds=61))
        assert reconciler.run(when + timedelta(seconds=66)) == {"found-sent": 1}
        assert dispatcher.run_once() == {}
    assert len(fake.messages) == 1 and rows(patient)[0].status == "sent"


def test_a_claim_whose_lease_ran_out_is_not_sent_by_its_slow_owner(texted, sms, dispatcher, reconciler, fake):
    patient = texted()
    when = due_now(patient)
    slow = Dispatcher(backend=sms, owner="slow-worker", lease_seconds=60, max_per_second=1000)
    with time_machine.travel(when, tick=False) as clock:
        [reminder_id] = slow.claim(when)
        clock.shift(timedelta(seconds=61))
        reconciler.run(when + timedelta(seconds=61))
        assert slow.send(reminder_id) == "lost-lease"
        assert dispatcher.run_once() == {"sent": 1}
    assert len(fake.messages) == 1


def test_a_new_phone_number_needs_consent_again(client, make, texted, dispatcher, fake):
    patient = texted()
    physio = db.session.get(User, patient.patient.physiotherapist_id)
    response = client.patch(
        f"/api/v1/patients/{patient.id}", headers=make.headers(physio), json={"phone": "+447400999888"}
    )
    assert response.status_code == 200
    assert db.session.get(SmsContact, patient.id).status == "no_consent"
    with time_machine.travel(due_now(patient), tick=False):
        dispatcher.run_once()
    assert fake.messages == []


def test_a_time_in_a_dst_gap_moves_just_past_it():
    moment = local_moment(date(2026, 3, 8), "02:30", ZoneInfo("America/Vancouver"))  # clocks jump 02:00 -> 03:00
    assert moment.astimezone(ZoneInfo("America/Vancouver")).strftime("%H:%M") == "03:30"


def test_a_superscript_digit_is_not_a_pain_score(fake, texted):
    texted()
    status, body = fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "²")
    assert status == 200 and "DONE" in body


@pytest.mark.parametrize(("code", "contact_status"), [(21211, "unusable"), (21614, "unusable"), (21610, "opted_out")])
def test_permanent_errors_stop_texting_the_number(texted, dispatcher, fake, code, contact_status):
    patient = texted()
    fake.reject_number("+447400123456", code=code)
    with time_machine.travel(due_now(patient), tick=False):
        assert dispatcher.run_once() == {"failed": 1}
    assert db.session.get(SmsContact, patient.id).status == contact_status
    assert all(r.status != "planned" for r in rows(patient))


def test_a_timeout_is_reconciled_with_the_provider_not_resent(texted, dispatcher, reconciler, fake):
    patient = texted()
    fake.timeout_next(1, seconds=3, accept=True)  # Twilio took it, but we never heard back
    when = due_now(patient)
    with time_machine.travel(when, tick=False) as clock:
        assert dispatcher.run_once() == {"uncertain": 1}
        clock.shift(timedelta(seconds=5))
        assert reconciler.run(when + timedelta(seconds=5)) == {"found-sent": 1}
        dispatcher.run_once()
    assert len(fake.messages) == 1 and rows(patient)[0].status == "sent"


def test_a_crash_after_claiming_is_requeued_and_sent_once(texted, dispatcher, reconciler, sms, fake):
    patient = texted()
    when = due_now(patient)
    with time_machine.travel(when, tick=False) as clock:
        crashed = Dispatcher(backend=sms, owner="crashed-worker", lease_seconds=60, max_per_second=1000)
        assert crashed.claim(when)  # ... and the process died here
        clock.shift(timedelta(seconds=61))
        assert reconciler.run(when + timedelta(seconds=61)) == {"requeued": 1}
        assert dispatcher.run_once() == {"sent": 1}
    assert len(fake.messages) == 1


def test_a_crash_after_sending_is_found_at_the_provider_and_not_resent(texted, dispatcher, reconciler, sms, fake):
    patient = texted()
    when = due_now(patient)

    def die_after_send(point):
        if point == "after-send":
            raise SystemExit("killed between send and record")

    with time_machine.travel(when, tick=False) as clock:
        crashed = Dispatcher(
            backend=sms, owner="crashed-worker", lease_seconds=60, max_per_second=1000, pause_hook=die_after_send
        )
        with pytest.raises(SystemExit):
            crashed.run_once()
        db.session.rollback()
        clock.shift(timedelta(seconds=61))
        assert reconciler.run(when + timedelta(seconds=61)) == {"found-sent": 1}
        dispatcher.run_once()
    assert len(fake.messages) == 1 and rows(patient)[0].provider_sid == fake.messages[0]["sid"]


def test_nothing_is_sent_after_stop(texted, dispatcher, fake):
    patient = texted()
    when = due_now(patient)
    status, _body = fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "stop")
    assert status == 200
    with time_machine.travel(when, tick=False):
        dispatcher.run_once()
    assert [m for m in fake.messages if m.get("direction") != "inbound"] == []


# --- webhooks ---------------------------------------------------------------------------------


def test_webhooks_reject_bad_or_missing_signatures_and_change_nothing(client, texted):
    patient = texted()
    for headers in ({}, {"X-Twilio-Signature": "forged"}):
        for path in ("/webhooks/twilio/inbound", "/webhooks/twilio/status"):
            response = client.post(
                path,
                data={"From": "+447400123456", "Body": "STOP", "MessageSid": "SM1", "MessageStatus": "failed"},
                headers=headers,
            )
            assert response.status_code == 403
    assert db.session.get(SmsContact, patient.id).status == "active"


@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "revoke", "OPTOUT"])
def test_stop_words_opt_out_at_once(fake, texted, word):
    patient = texted()
    fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, word)
    assert db.session.get(SmsContact, patient.id).status == "opted_out"


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
def test_start_words_opt_back_in(fake, texted, word):
    patient = texted()
    fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "STOP")
    fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, word)
    assert db.session.get(SmsContact, patient.id).status == "active"


def test_help_answers_with_the_clinic_name_and_contact_in_twiml(fake, texted):
    patient = texted()
    status, body = fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "help")
    assert status == 200 and body.startswith("<?xml") and "<Message>" in body
    assert patient.clinic.name in body and "+16045550100" in body


def test_done_logs_todays_routine_once(fake, texted):
    texted()
    with time_machine.travel(datetime(2026, 11, 23, 19, tzinfo=UTC), tick=False):
        for _ in range(2):
            fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "DONE")
    from hep.adherence.models import AdherenceLog

    logs = db.session.scalars(sa.select(AdherenceLog)).all()
    assert [(log.local_date, log.source) for log in logs] == [(date(2026, 11, 23), "sms")]


def test_a_number_records_todays_pain_and_anything_else_gets_help(fake, texted):
    from hep.adherence.models import PainReport

    patient = texted()
    fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "7")
    _, body = fake.send_inbound("http://localhost/webhooks/twilio/inbound", "+447400123456", FROM, "hello?")
    assert db.session.scalar(sa.select(PainReport.score).where(PainReport.patient_id == patient.id)) == 7
    assert "DONE" in body


def test_consent_sends_one_confirmation(make, client, fake, dispatcher):
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, phone="+447400123999", timezone="Europe/London")
    headers = make.headers(physio)
    with time_machine.travel(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), tick=False):
        for _ in range(2):
            response = client.post(
                f"/api/v1/patients/{patient.id}/sms/consent", headers=headers, json={"method": "written"}
            )
            assert response.status_code == 201
        dispatcher.run_once()
        events = client.get(f"/api/v1/patients/{patient.id}/sms", headers=headers).json["events"]
    confirmations = [m for m in fake.messages if "reminders by text" in m["body"]]
    assert len(confirmations) == 1
    assert [(e["event"], e["method"], e["recorded_by_id"]) for e in events] == [("granted", "written", physio.id)]


def test_consent_confirmation_waits_for_the_window(make):
    physio = make.physio()
    patient = make.patient(physio.clinic, physio, phone="+61491570199", timezone="Australia/Sydney")
    consent.grant(physio, patient.id, "verbal", now=datetime(2026, 11, 23, 12, 0, tzinfo=UTC))  # 23:00 in Sydney
    [confirmation] = rows(patient, "consent")
    assert confirmation.due_at == datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 08:00 next morning


def test_a_clinic_sets_its_own_wording_and_it_is_checked(client, make, texted, dispatcher, fake):
    patient = texted()
    admin = make.headers(make.admin(patient.clinic))
    url = "/api/v1/clinic/message-templates/exercise/en"
    bad = client.put(url, headers=admin, json={"body": "{clinic}: your neck needs its exercises 💪"})
    assert bad.status_code == 422 and "GSM-7" in bad.json["detail"] and "neck" in bad.json["detail"]
    good = client.put(url, headers=admin, json={"body": "{clinic}: a gentle nudge. Open the HEP app. STOP to opt out."})
    assert good.status_code == 200 and good.json["custom"] is True
    with time_machine.travel(due_now(patient), tick=False):
        dispatcher.run_once()
    assert fake.messages[0]["body"] == f"{patient.clinic.name}: a gentle nudge. Open the HEP app. STOP to opt out."


def test_the_patients_language_is_used_where_there_is_a_translation(make, texted, dispatcher, fake):
    patient = texted()
    patient.patient.language = "fr-CA"
    db.session.commit()
    with time_machine.travel(due_now(patient), tick=False):
        dispatcher.run_once()
    assert "c'est l'heure de vos exercices" in fake.messages[0]["body"]


def test_a_reply_from_a_number_at_two_clinics_answers_the_clinic_that_texted_last(fake, make):
    from hep.adherence.models import PainReport

    phone = "+447400123457"
    first = make.patient(make.clinic(name="First Clinic"), timezone="UTC", phone=phone)
    second = make.patient(make.clinic(name="Second Clinic"), timezone="UTC", phone=phone)
    for patient in (first, second):
        consent.grant(
            db.session.get(User, patient.patient.physiotherapist_id), patient.id, "verbal", now=datetime.now(UTC)
        )
    db.session.execute(
        sa.update(Reminder)
        .where(Reminder.patient_id == second.id)
        .values(status="sent", sent_at=datetime.now(UTC), to_phone=phone)
    )
    db.session.commit()
    _status, body = fake.send_inbound("http://localhost/webhooks/twilio/inbound", phone, FROM, "4")
    assert "Second Clinic" in body
    assert [r.patient_id for r in db.session.scalars(sa.select(PainReport))] == [second.id]
