"""What Twilio tells us: delivery status callbacks, and texts patients send back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hep.accounts.models import Patient, User
from hep.adherence import service as adherence
from hep.adherence import summaries
from hep.adherence.metrics import day_logs
from hep.adherence.models import PainReport
from hep.audit import service as audit
from hep.dbtypes import insert_new
from hep.extensions import db
from hep.programs import schedule
from hep.programs.service import routines_for
from hep.reminders import consent, messages
from hep.reminders.models import EarlyStatus, InboundMessage, Reminder, SmsContact
from hep.reminders.moves import move
from hep.reminders.sms import is_opt_out, stops_texts
from hep.reminders.states import PROGRESS, ContactStatus, Status

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
# Twilio's message statuses, as the reminder statuses they move a sent reminder to.
PROVIDER_STATUS = {
    "accepted": Status.SENT,
    "queued": Status.SENT,
    "scheduled": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}
SMS_DONE_NAMESPACE = uuid.UUID("1b4c1e0e-2f0c-4a53-8d8e-3f4f2f6b7a10")


def record_status(sid: str, provider_status: str, error_code: int | None, *, now: datetime) -> None:
    """Move a sent reminder's status forward only: duplicate and late callbacks change nothing.

    A report for a SID no reminder has yet is kept (the most advanced one) until the dispatcher
    records that SID, which happens after Twilio's answer to the send: a fast carrier can beat it.
    """
    new = PROVIDER_STATUS.get(provider_status.lower())
    if new is None:
        return
    reminder = db.session.scalar(select(Reminder).where(Reminder.provider_sid == sid))
    if reminder is None:
        _keep_early(sid, new, provider_status, error_code, now)
        return
    current = PROGRESS.get(reminder.status, -1)
    if PROGRESS[new] > current:
        move(
            Status(reminder.status),
            new,
            Reminder.id == reminder.id,
            now=now,
            provider_status=provider_status,
            error_code=error_code,
        )
    if stops_texts(error_code):
        consent.lose(
            reminder.patient_id,
            reminder.to_phone,
            opted_out=is_opt_out(error_code),
            now=now,
            detail=f"delivery error {error_code}",
        )
    db.session.commit()


def _keep_early(sid: str, new: str, provider_status: str, error_code: int | None, now: datetime) -> None:
    early = db.session.get(EarlyStatus, sid)
    if early is None:
        db.session.add(
            EarlyStatus(provider_sid=sid, provider_status=provider_status, error_code=error_code, received_at=now)
        )
    elif PROGRESS[new] > PROGRESS[PROVIDER_STATUS[early.provider_status.lower()]]:
        early.provider_status, early.error_code, early.received_at = provider_status, error_code, now
    try:
        db.session.commit()
    except IntegrityError:  # the same report, re-delivered at the same instant: one copy is enough
        db.session.rollback()


def apply_early_statuses(sids: list[str], *, now: datetime) -> None:
    """Apply (then forget) the reports that arrived before these SIDs were recorded."""
    if not sids:
        return
    for early in db.session.scalars(select(EarlyStatus).where(EarlyStatus.provider_sid.in_(sids))).all():
        sid, status, code = early.provider_sid, early.provider_status, early.error_code
        db.session.delete(early)
        record_status(sid, status, code, now=now)  # commits


def handle_text(sid: str, from_phone: str, body: str, *, now: datetime) -> str | None:
    """Act on a patient's reply and return our answer (None: say nothing).

    A re-delivery, even one that arrives while the first is being handled, gets the same answer and
    acts once: the answer is decided first, then the text is claimed by inserting it (a concurrent
    twin's insert waits for ours and inserts nothing), and only the claimant acts. The claim commits
    in the same transaction as the action.
    """
    seen = db.session.scalar(select(InboundMessage).where(InboundMessage.provider_sid == sid))
    if seen is not None:
        return seen.reply
    # The number's current owner only: a number can pass from one patient to another. One person can be a
    # patient of two clinics: the reply answers the clinic that texted them last.
    last_text = select(func.max(Reminder.sent_at)).where(Reminder.patient_id == SmsContact.patient_id).scalar_subquery()
    contact = db.session.scalar(
        select(SmsContact)
        .join(User, User.id == SmsContact.patient_id)
        .where(SmsContact.phone == from_phone, User.phone == from_phone)
        .order_by(last_text.desc().nulls_last(), SmsContact.patient_id)
        .limit(1)
    )
    patient = db.session.get(Patient, contact.patient_id) if contact else None
    action, reply, act = _decide(patient, contact, body.strip(), now) if patient else ("unknown-sender", None, None)
    claimed = insert_new(
        InboundMessage,
        {
            "provider_sid": sid,
            "from_phone": from_phone,
            "patient_id": patient and patient.user_id,
            "body": body[:1600],
            "action": action,
            "reply": reply,
            "received_at": now,
        },
        keys=["provider_sid"],
    )
    if not claimed:  # another delivery of this text was first: it acts, we repeat its answer
        db.session.rollback()
        return db.session.scalar(select(InboundMessage.reply).where(InboundMessage.provider_sid == sid))
    if act is not None:
        act()
    db.session.commit()
    return reply


def _decide(
    patient: Patient, contact: SmsContact, text: str, now: datetime
) -> tuple[str, str | None, Callable[[], object] | None]:
    """(what the text asks for, our answer, the action to take) for a patient's text."""
    word = text.upper()
    clinic = patient.user.clinic

    def say(kind: str) -> str:
        return messages.render(
            messages.template(clinic.id, kind, patient.language), clinic=clinic.name, contact=clinic.contact_phone or ""
        )

    if contact.status != ContactStatus.ACTIVE:
        # A number that has opted out (or never consented) is answered only to START and HELP; a repeated
        # STOP and anything else get no reply at all, and do nothing.
        if word in START_WORDS and contact.status == ContactStatus.OPTED_OUT:
            return "opt-in", say("opted_in"), lambda: consent.opt_in(patient.user_id, now=now)
        if word == "HELP" or word in START_WORDS:
            return "help", say("help"), None
        return ("opt-out-again" if word in STOP_WORDS else "ignored-texts-off"), None, None
    if word in STOP_WORDS:
        return (
            "opt-out",
            say("opted_out"),
            lambda: consent.lose(
                patient.user_id, None, opted_out=True, now=now, detail=f"replied {word}", method="sms-keyword"
            ),
        )
    if word in START_WORDS:
        return "help", say("help"), None  # texts are on already
    if word == "HELP":
        return "help", say("help"), None
    if word == "DONE":
        return "done", say("done"), lambda: _log_today_done(patient, now)
    if text.isascii() and text.isdigit() and 0 <= int(text) <= 10:
        today = now.astimezone(ZoneInfo(patient.timezone)).date()
        report = PainReport(patient_id=patient.user_id, local_date=today, score=int(text), received_at=now)
        return "score", say("score"), lambda: _add_pain(patient, report, now)
    return "unknown", say("unknown"), None


def _add_pain(patient: Patient, report: PainReport, now: datetime) -> None:
    db.session.add(report)
    summaries.touch(patient.user_id, [report.local_date])
    audit.record(patient.user, audit.CREATE, "pain_report", now=now, patient_id=patient.user_id)


def _log_today_done(patient: Patient, now: datetime) -> None:
    """One entry per item due today, as prescribed; the same DONE twice logs nothing twice."""
    zone = ZoneInfo(patient.timezone)
    today = now.astimezone(zone).date()
    local_now = now.astimezone(zone)
    logs = day_logs([patient.user_id], schedule.week_start(today), today)
    credit = {day: day_log.credit for (_pid, day), day_log in logs.items()}
    entries = []
    for _routine, item in schedule.due_on(routines_for([patient.user_id])[patient.user_id], today, credit):
        for n in range(item.times_per_day):
            entries.append(
                {
                    "data": {
                        "id": uuid.uuid5(SMS_DONE_NAMESPACE, f"{patient.user_id}/{item.id}/{today}/{n}"),
                        "routine_item_id": item.id,
                        "performed_at": local_now.replace(microsecond=0),
                        "sets_done": item.sets,
                        "reps_done": item.reps,
                        "hold_seconds_done": item.hold_seconds,
                        "pain_before": None,
                        "pain_after": None,
                        "difficulty": None,
                        "note": "logged by text (DONE)",
                    },
                    "raw": {},
                }
            )
    if entries:
        # A second DONE the same day reuses these ids, so it stores nothing again.
        adherence.sync(
            patient.user, patient.user_id, entries, now=now, rules=adherence.LogRules(max_age_days=1), source="sms"
        )
