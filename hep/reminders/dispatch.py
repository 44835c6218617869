"""Dispatch: claim due reminders, check them again, send, record; and reconcile the uncertain ones.

Exactly once, with any number of scheduler processes:
- a claim is one atomic UPDATE (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its single writer),
  so two processes never hold the same row;
- the attempt is committed as `sending` before the provider is called;
- a `sending` row whose owner's lease ran out (it died, or the call's outcome is unknown) is not
  sent again blindly: reconcile asks the provider whether a message with that text went to that
  number since the attempt began, and records it as sent, or only then retries.
"""

from __future__ import annotations

import os
import random
import time as clock
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import or_, select, update

from hep.accounts.models import Patient
from hep.adherence.metrics import day_logs, expected_on
from hep.dbtypes import utcnow
from hep.extensions import db
from hep.programs.service import routines_for
from hep.reminders import consent, messages
from hep.reminders.models import (
    ACTIVE,
    CLAIMED,
    CONSENT_CONFIRMATION,
    EXERCISE,
    FAILED,
    MISSED,
    PLANNED,
    PRE_SESSION,
    SENDING,
    SENT,
    SKIPPED,
    WITHDRAWN,
    Reminder,
    SmsContact,
)
from hep.reminders.planner import settings_for
from hep.reminders.sms import SmsBackend, SmsError
from hep.sessions.models import SCHEDULED, NeedlingSession

MAX_VALIDITY = 14400  # Twilio's longest validity_period, seconds


@dataclass
class Dispatcher:
    backend: SmsBackend
    owner: str
    batch: int = 50
    lease_seconds: int = 120
    max_per_second: float = 10.0
    status_callback: str | None = None
    pause_hook: object = None  # tests only: called with a point name, to stop a process mid-dispatch

    _last_send: float = 0.0

    def claim(self, now: datetime) -> list[int]:
        """Take up to `batch` due reminders under a lease; nobody else will touch them meanwhile."""
        due = (
            select(Reminder.id)
            .where(Reminder.status == PLANNED, Reminder.next_attempt_at <= now)
            .order_by(Reminder.next_attempt_at)
            .limit(self.batch)
        )
        if db.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        claimed = (
            db.session.execute(
                update(Reminder)
                .where(Reminder.id.in_(due.scalar_subquery()), Reminder.status == PLANNED)
                .values(
                    status=CLAIMED,
                    lease_owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self.lease_seconds),
                    updated_at=now,
                )
                .returning(Reminder.id)
            )
            .scalars()
            .all()
        )
        db.session.commit()
        return list(claimed)

    def run_once(self, now_fn=utcnow) -> Counter:
        """Claim one batch and work through it; return how each ended."""
        outcome: Counter = Counter()
        renewed = now_fn()
        for reminder_id in self.claim(renewed):
            if (now_fn() - renewed).total_seconds() > self.lease_seconds / 3:
                renewed = now_fn()
                self._renew(renewed)
            outcome[self.send(reminder_id, now_fn)] += 1
        return outcome

    def _renew(self, now: datetime) -> None:
        """Keep this process's unexpired claims alive while it works through a long batch."""
        db.session.execute(
            update(Reminder)
            .where(Reminder.lease_owner == self.owner, Reminder.status == CLAIMED, Reminder.lease_expires_at > now)
            .values(lease_expires_at=now + timedelta(seconds=self.lease_seconds))
        )
        db.session.commit()

    def send(self, reminder_id: int, now_fn=utcnow) -> str:
        """Check one claimed reminder again, then send it or record why not."""
        now = now_fn()
        reminder = db.session.get(Reminder, reminder_id)
        if reminder is None or reminder.status != CLAIMED or reminder.lease_owner != self.owner:
            return "lost-lease"
        verdict = _verdict(reminder, now)
        if verdict is not None:
            status, reason = verdict
            return _finish(reminder, status, reason, now)
        contact = db.session.get(SmsContact, reminder.patient_id)
        # Compare-and-set, renewing the lease: only while our claim still holds does the row become ours
        # to send, so a slow batch whose lease ran out cannot race the process that reclaimed it.
        moved = db.session.execute(
            update(Reminder)
            .where(
                Reminder.id == reminder_id,
                Reminder.status == CLAIMED,
                Reminder.lease_owner == self.owner,
                Reminder.lease_expires_at > now,
            )
            .values(
                status=SENDING,
                sending_since=now,
                attempts=Reminder.attempts + 1,
                to_phone=contact.phone,
                body=_body(reminder),
                lease_expires_at=now + timedelta(seconds=self.lease_seconds),
                updated_at=now,
            )
        ).rowcount
        db.session.commit()  # the attempt is on record before the provider hears of it
        if moved != 1:
            return "lost-lease"
        db.session.refresh(reminder)
        self._hook("before-send")
        self._throttle()
        validity = max(60, min(MAX_VALIDITY, int((reminder.window_end_at - now).total_seconds())))
        try:
            sent = self.backend.send(
                reminder.to_phone, reminder.body, status_callback=self.status_callback, validity_period=validity
            )
        except SmsError as error:
            return self._failed(reminder, error, now_fn())
        self._hook("after-send")
        reminder.status, reminder.provider_sid, reminder.provider_status = SENT, sent.sid, sent.status
        reminder.sent_at = reminder.updated_at = now_fn()
        reminder.lease_owner = reminder.lease_expires_at = None
        db.session.commit()
        return SENT

    def _failed(self, reminder: Reminder, error: SmsError, now: datetime) -> str:
        reminder.error_code = error.code
        if error.network or (error.http_status or 0) >= 500:
            # The provider may have accepted it (a timeout, or a 502/504 from its edge): leave it `sending`
            # for reconcile to ask, never resend blind. Only 429 and refusals are known not to have gone out.
            reminder.lease_expires_at = now
            db.session.commit()
            return "uncertain"
        if error.unusable_number or error.opted_out:
            consent.lose(
                reminder.patient_id,
                reminder.to_phone,
                opted_out=error.opted_out,
                now=now,
                detail=f"provider error {error.code}",
            )
            return _finish(reminder, FAILED, f"provider error {error.code}: {error.message}"[:120], now)
        if error.retryable:
            return _retry(reminder, now, f"provider error {error.code or error.http_status}")
        return _finish(reminder, FAILED, f"provider error {error.code or error.http_status}"[:120], now)

    def reconcile(self, now: datetime) -> Counter:
        """Settle reminders whose owner vanished: claimed ones go back; sending ones are looked up first."""
        outcome: Counter = Counter()
        stale = db.session.scalars(
            select(Reminder)
            .where(
                or_(Reminder.status == CLAIMED, Reminder.status == SENDING),
                or_(Reminder.lease_expires_at.is_(None), Reminder.lease_expires_at < now),
            )
            .limit(200)
        ).all()
        for reminder in stale:
            if reminder.status == CLAIMED:
                _requeue(reminder, now, "lease expired before sending")
                outcome["requeued"] += 1
                continue
            try:
                found = self.backend.find(reminder.to_phone, reminder.sending_since - timedelta(minutes=2), now)
            except SmsError:
                outcome["lookup-failed"] += 1
                continue
            taken = set(
                db.session.scalars(
                    select(Reminder.provider_sid).where(Reminder.provider_sid.in_([m.sid for m in found]))
                )
            )
            candidates = sorted(
                (
                    m
                    for m in found
                    if m.body == reminder.body
                    and m.sid not in taken
                    and m.date_created >= reminder.sending_since - timedelta(seconds=1)
                ),
                key=lambda m: m.date_created,
            )
            match = candidates[0] if candidates else None
            if match is not None:
                reminder.status, reminder.provider_sid, reminder.provider_status = SENT, match.sid, match.status
                reminder.sent_at, reminder.updated_at = match.date_created, now
                reminder.lease_owner = reminder.lease_expires_at = None
                db.session.commit()
                outcome["found-sent"] += 1
            else:
                # Nothing went out, so there is no provider trouble to back off from: send again now.
                if now > reminder.window_end_at:
                    outcome[_finish(reminder, MISSED, "the window closed after an interrupted send", now)] += 1
                else:
                    _requeue(reminder, now, "not found at the provider after an interrupted send")
                    outcome["requeued"] += 1
        return outcome

    def _throttle(self) -> None:
        """Stay under max_per_second for this process."""
        gap = 1.0 / self.max_per_second
        wait = self._last_send + gap - clock.monotonic()
        if wait > 0:
            clock.sleep(wait)
        self._last_send = clock.monotonic()

    def _hook(self, point: str) -> None:
        if self.pause_hook is not None:
            self.pause_hook(point)


def _verdict(reminder: Reminder, now: datetime) -> tuple[str, str] | None:
    """Why this reminder must not go out now (status, reason), or None when it should."""
    if now > reminder.window_end_at:
        return MISSED, "the sending window closed before it could go out"
    contact = db.session.get(SmsContact, reminder.patient_id)
    patient = db.session.get(Patient, reminder.patient_id)
    if contact is None or contact.status != ACTIVE:
        return SKIPPED, f"no text consent ({contact.status if contact else 'none recorded'})"
    if contact.phone != patient.user.phone:
        return SKIPPED, "consent was for another number"
    if not patient.user.is_active:
        return SKIPPED, "patient deactivated"
    if reminder.kind == CONSENT_CONFIRMATION:
        return None
    if reminder.kind == PRE_SESSION:
        session = db.session.get(NeedlingSession, reminder.session_id)
        if (
            session is None
            or session.status != SCHEDULED
            or not reminder.slot.endswith(session.starts_at.strftime("%Y%m%dT%H%M"))
        ):
            return WITHDRAWN, "the session was cancelled or moved"
        return None
    routines = routines_for([patient.user_id])[patient.user_id]
    due = expected_on(routines, reminder.local_date)
    if not due:
        return WITHDRAWN, "nothing is due that day any more"
    if reminder.kind == EXERCISE:
        logs = day_logs([patient.user_id], reminder.local_date, reminder.local_date).get(
            (patient.user_id, reminder.local_date)
        )
        if logs and all(logs.credit.get(e.key, 0) >= e.times for e in due if not e.flexible_days):
            return SKIPPED, "today's exercises are already logged"
        settings = settings_for(patient.user.clinic_id)
        sent_today = db.session.scalar(
            select(db.func.count())
            .select_from(Reminder)
            .where(
                Reminder.patient_id == patient.user_id,
                Reminder.kind == EXERCISE,
                Reminder.local_date == reminder.local_date,
                Reminder.status.in_((SENDING, SENT, "delivered")),
                Reminder.id != reminder.id,
            )
        )
        if sent_today >= settings.max_per_day:
            return SKIPPED, "daily cap reached"
    return None


def _body(reminder: Reminder) -> str:
    patient = db.session.get(Patient, reminder.patient_id)
    clinic = patient.user.clinic
    when = ""
    if reminder.session_id:
        starts = db.session.get(NeedlingSession, reminder.session_id).starts_at.astimezone(ZoneInfo(patient.timezone))
        when = starts.strftime("%a %d %b %H:%M")
    text = messages.template(clinic.id, reminder.kind, patient.language)
    return messages.render(text, clinic=clinic.name, contact=clinic.contact_phone or "", when=when)


def _finish(reminder: Reminder, status: str, reason: str, now: datetime) -> str:
    reminder.status, reminder.reason, reminder.updated_at = status, reason, now
    reminder.lease_owner = reminder.lease_expires_at = None
    db.session.commit()
    return status


def _requeue(reminder: Reminder, now: datetime, reason: str) -> None:
    reminder.status, reminder.reason, reminder.next_attempt_at, reminder.updated_at = PLANNED, reason, now, now
    reminder.lease_owner = reminder.lease_expires_at = None
    db.session.commit()


def _retry(reminder: Reminder, now: datetime, reason: str) -> str:
    """Back to planned after a backoff with jitter, unless that would be after the window closes."""
    delay = min(900, 15 * 2 ** min(reminder.attempts, 6)) * random.uniform(0.5, 1.5)
    when = now + timedelta(seconds=delay)
    if when > reminder.window_end_at:
        return _finish(reminder, MISSED, f"{reason}; the window closed before a retry", now)
    reminder.status, reminder.reason, reminder.next_attempt_at, reminder.updated_at = PLANNED, reason, when, now
    reminder.lease_owner = reminder.lease_expires_at = None
    db.session.commit()
    return "retry"


def _pause_at(point: str, marker: str):
    """Tests only (HEP_TEST_PAUSE_AT): stop this process at a point of dispatch, so a test can SIGKILL it there."""

    def hook(reached: str) -> None:
        if reached == point:
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            while True:
                clock.sleep(60)

    return hook


def dispatcher_from_app(backend: SmsBackend, owner: str | None = None) -> Dispatcher:
    """A dispatcher configured from the app's settings."""
    config = current_app.config
    pause = os.environ.get("HEP_TEST_PAUSE_AT")
    return Dispatcher(
        pause_hook=_pause_at(pause, os.environ["HEP_TEST_PAUSE_MARKER"]) if pause else None,
        backend=backend,
        owner=owner or f"{os.uname().nodename}:{os.getpid()}",
        batch=config["REMINDER_BATCH"],
        lease_seconds=config["REMINDER_LEASE_SECONDS"],
        max_per_second=config["SMS_MAX_PER_SECOND"],
        status_callback=config["SMS_STATUS_CALLBACK_URL"],
    )
