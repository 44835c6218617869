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
import threading
import time as clock
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from hep.accounts.models import Patient
from hep.adherence.metrics import day_logs, expected_of
from hep.dbtypes import utcnow
from hep.extensions import db
from hep.programs.compiled import items_on, live_routines
from hep.reminders import consent, inbound, messages
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
from hep.reminders.sms import Sent, SmsBackend, SmsError
from hep.sessions.models import SCHEDULED, NeedlingSession

MAX_VALIDITY = 14400  # Twilio's longest validity_period, seconds
_table = Reminder.__table__
_MOVE_TO_SENDING = (
    update(_table)
    .where(
        _table.c.id == bindparam("rid"),
        _table.c.status == CLAIMED,
        _table.c.lease_owner == bindparam("owner"),
        _table.c.lease_expires_at > bindparam("now"),
    )
    .values(
        status=SENDING,
        sending_since=bindparam("now"),
        attempts=_table.c.attempts + 1,
        to_phone=bindparam("to_phone"),
        body=bindparam("body"),
        lease_expires_at=bindparam("lease"),
        updated_at=bindparam("now"),
    )
)
_RECORD_SENT = (
    update(_table)
    .where(_table.c.id == bindparam("rid"), _table.c.status == SENDING)
    .values(
        status=SENT,
        provider_sid=bindparam("sid"),
        provider_status=bindparam("provider_status"),
        sent_at=bindparam("at"),
        updated_at=bindparam("at"),
        lease_owner=None,
        lease_expires_at=None,
    )
)


@dataclass(frozen=True)
class NotSent:
    """A sending thread's answer when it did not call the provider at all."""


@dataclass(frozen=True)
class Outgoing:
    """What a sending thread needs of a reminder, copied out of the ORM object (which the session may expire)."""

    to: str
    body: str
    window_end_at: datetime
    send_by: float  # time.monotonic() after which the call must not start (half the lease from `sending`)


@dataclass
class Dispatcher:
    backend: SmsBackend
    owner: str
    batch: int = 50
    lease_seconds: int = 120
    max_per_second: float = 10.0
    concurrency: int = 1  # provider calls in flight at once (threads); the database work stays on one
    status_callback: str | None = None
    pause_hook: object = None  # tests only: called with a point name, to stop a process mid-dispatch

    _next_slot: float = 0.0
    _slot_lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None

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
        """Claim one batch and work through it; return how each ended.

        The batch goes out in rounds of `concurrency` reminders: a round is checked again and moved to
        `sending` on this thread (three queries, one commit), so its attempts are on record before
        the provider hears of them; then its provider calls go out at once from the sending threads
        (a call is mostly waiting on the network), and their results are recorded here as they come
        back. A round is committed as `sending` only just before it is sent, so a reminder never sits
        in `sending` for long without its call under way (reconcile would take it for lost).
        """
        outcome: Counter = Counter()
        renewed = now_fn()
        claimed = self.claim(renewed)
        size = max(1, self.concurrency)
        for start in range(0, len(claimed), size):
            if (now_fn() - renewed).total_seconds() > self.lease_seconds / 3:
                renewed = now_fn()
                self._renew(renewed)
            ready, ended = self._prepare(claimed[start : start + size], now_fn())
            outcome.update(ended)
            db.session.commit()  # this round's attempts are on record before the provider hears of them
            outcome.update(self._send_round(ready, now_fn))
        return outcome

    def _send_round(self, ready: list[tuple[int, Outgoing]], now_fn) -> Counter:
        outcome: Counter = Counter()
        if self.concurrency <= 1 or len(ready) <= 1:
            for reminder_id, outgoing in ready:
                outcome.update(self._record([(reminder_id, self._call(outgoing, now_fn()))], now_fn))
            return outcome
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="sms-send")
        started = now_fn()
        pending = {self._pool.submit(self._call, outgoing, started): reminder_id for reminder_id, outgoing in ready}
        while pending:
            done, _running = wait(pending, return_when=FIRST_COMPLETED)
            outcome.update(self._record([(pending.pop(call), call.result()) for call in done], now_fn))
        return outcome

    def close(self) -> None:
        """Stop the sending threads (they finish the calls already started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

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
        prepared, ended = self._prepare([reminder_id], now_fn())
        db.session.commit()
        if not prepared:
            [(status, _count)] = ended.items()
            return status
        [(_rid, outgoing)] = prepared
        [(status, _count)] = self._record([(reminder_id, self._call(outgoing, now_fn()))], now_fn).items()
        return status

    def _prepare(self, ids: list[int], now: datetime) -> tuple[list[tuple[int, Outgoing]], Counter]:
        """Check claimed reminders again and move the ones to send to `sending` (the caller commits).

        Returns (id, what to send) for those, and how the others ended. The rows, contacts and patients
        are read in three queries for the whole chunk, not a few per reminder.
        """
        ended: Counter = Counter()
        reminders = db.session.scalars(select(Reminder).where(Reminder.id.in_(ids))).all()
        patient_ids = {r.patient_id for r in reminders}
        contacts = db.session.scalars(select(SmsContact).where(SmsContact.patient_id.in_(patient_ids))).all()
        patients = db.session.scalars(
            select(Patient).options(joinedload(Patient.user)).where(Patient.user_id.in_(patient_ids))
        ).all()
        # Referenced until the loop ends, so the session's (weak) identity map answers _verdict and _body.
        loaded = [*contacts, *patients]
        ended["lost-lease"] = len(ids) - len(reminders)
        templates: dict = {}
        candidates: list[tuple[int, Outgoing]] = []
        send_by = clock.monotonic() + self.lease_seconds / 2
        for reminder in reminders:
            if reminder.status != CLAIMED or reminder.lease_owner != self.owner:
                ended["lost-lease"] += 1
                continue
            verdict = _verdict(reminder, now)
            if verdict is not None:
                ended[_finish(reminder, *verdict, now)] += 1
                continue
            contact = db.session.get(SmsContact, reminder.patient_id)
            candidates.append(
                (reminder.id, Outgoing(contact.phone, _body(reminder, templates), reminder.window_end_at, send_by))
            )
        del loaded
        if not candidates:
            return [], +ended
        # Compare-and-set, renewing the lease: only while our claim still holds does a row become ours
        # to send, so a slow batch whose lease ran out cannot race the process that reclaimed it.
        db.session.connection().execute(
            _MOVE_TO_SENDING,
            [
                {
                    "rid": rid,
                    "owner": self.owner,
                    "now": now,
                    "lease": now + timedelta(seconds=self.lease_seconds),
                    "to_phone": out.to,
                    "body": out.body,
                }
                for rid, out in candidates
            ],
        )
        ours = set(
            db.session.scalars(
                select(Reminder.id).where(
                    Reminder.id.in_([rid for rid, _out in candidates]),
                    Reminder.status == SENDING,
                    Reminder.lease_owner == self.owner,
                    Reminder.sending_since == now,
                )
            )
        )
        ended["lost-lease"] += len(candidates) - len(ours)
        return [(rid, out) for rid, out in candidates if rid in ours], +ended  # unary + drops zero counts

    def _call(self, outgoing: Outgoing, now: datetime) -> Sent | SmsError | NotSent:
        """The provider call alone, on plain values (no database, no ORM object): safe on a sending thread."""
        self._hook("before-send")
        self._throttle()
        if clock.monotonic() > outgoing.send_by:
            # Waited too long for a slot: past this point the lease could run out while the call is in
            # flight, and reconcile would then take the row for lost. Not calling at all is safe.
            return NotSent()
        validity = max(60, min(MAX_VALIDITY, int((outgoing.window_end_at - now).total_seconds())))
        try:
            sent = self.backend.send(
                outgoing.to, outgoing.body, status_callback=self.status_callback, validity_period=validity
            )
        except SmsError as error:
            return error
        self._hook("after-send")
        return sent

    def _record(self, results: list[tuple[int, Sent | SmsError | NotSent]], now_fn) -> Counter:
        """Record what the provider said: the accepted ones in one statement and one commit."""
        outcome: Counter = Counter()
        now = now_fn()
        accepted = [
            {"rid": rid, "sid": r.sid, "provider_status": r.status, "at": now}
            for rid, r in results
            if isinstance(r, Sent)
        ]
        for rid, r in results:
            if isinstance(r, NotSent):
                outcome[self._unsend(rid, now)] += 1
        if accepted:
            db.session.connection().execute(_RECORD_SENT, accepted)
            db.session.commit()
            outcome[SENT] += len(accepted)
            inbound.apply_early_statuses([a["sid"] for a in accepted], now=now)
        for rid, result in results:
            if isinstance(result, SmsError):
                outcome[self._failed(db.session.get(Reminder, rid), result, now)] += 1
        return outcome

    def _unsend(self, reminder_id: int, now: datetime) -> str:
        """Back to planned, now, a reminder whose call was never made (if it is still ours)."""
        moved = db.session.execute(
            update(Reminder)
            .where(Reminder.id == reminder_id, Reminder.status == SENDING, Reminder.lease_owner == self.owner)
            .values(
                status=PLANNED,
                attempts=Reminder.attempts - 1,
                next_attempt_at=now,
                lease_owner=None,
                lease_expires_at=None,
                reason="not sent: no sending slot before its lease ran short",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        return "requeued" if moved == 1 else "lost-lease"

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
        """Settle reminders whose owner vanished: claimed ones go back; sending ones are looked up first.

        Each row is first taken under this process's lease by a compare-and-set, so two schedulers
        reconciling at once never both act on the same row (one would requeue what the other just
        found sent).
        """
        outcome: Counter = Counter()
        stale = db.session.scalars(
            select(Reminder.id)
            .where(
                or_(Reminder.status == CLAIMED, Reminder.status == SENDING),
                or_(Reminder.lease_expires_at.is_(None), Reminder.lease_expires_at < now),
            )
            .limit(200)
        ).all()
        for reminder_id in stale:
            taken_over = db.session.execute(
                update(Reminder)
                .where(
                    Reminder.id == reminder_id,
                    or_(Reminder.status == CLAIMED, Reminder.status == SENDING),
                    or_(Reminder.lease_expires_at.is_(None), Reminder.lease_expires_at < now),
                )
                .values(lease_owner=self.owner, lease_expires_at=now + timedelta(seconds=self.lease_seconds))
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            if taken_over != 1:
                outcome["taken-by-another"] += 1
                continue
            reminder = db.session.get(Reminder, reminder_id)
            if reminder.status == CLAIMED:
                _requeue(reminder, now, "lease expired before sending")
                outcome["requeued"] += 1
                continue
            outcome[self._settle_sending(reminder, now)] += 1
        return outcome

    def _settle_sending(self, reminder: Reminder, now: datetime) -> str:
        """A `sending` row this process now holds: record it sent if the provider has it, else send again."""
        try:
            found = self.backend.find(reminder.to_phone, reminder.sending_since - timedelta(minutes=2), now)
        except SmsError:
            reminder.lease_expires_at = now  # let the next reconcile (ours or another's) try again
            db.session.commit()
            return "lookup-failed"
        taken = set(
            db.session.scalars(select(Reminder.provider_sid).where(Reminder.provider_sid.in_([m.sid for m in found])))
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
        if candidates:
            match = candidates[0]
            reminder.status, reminder.provider_sid, reminder.provider_status = SENT, match.sid, match.status
            reminder.sent_at, reminder.updated_at = match.date_created, now
            reminder.lease_owner = reminder.lease_expires_at = None
            db.session.commit()
            inbound.apply_early_statuses([match.sid], now=now)
            return "found-sent"
        # Nothing went out, so there is no provider trouble to back off from: send again now.
        if now > reminder.window_end_at:
            return _finish(reminder, MISSED, "the window closed after an interrupted send", now)
        _requeue(reminder, now, "not found at the provider after an interrupted send")
        return "requeued"

    def _throttle(self) -> float:
        """Stay under max_per_second for this process, across its sending threads: each call takes the
        next free slot, 1/max_per_second after the one before, and waits for it. Returns the slot."""
        gap = 1.0 / self.max_per_second
        with self._slot_lock:
            slot = max(clock.monotonic(), self._next_slot)
            self._next_slot = slot + gap
        wait = slot - clock.monotonic()
        if wait > 0:
            clock.sleep(wait)
        return slot

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
    routines = live_routines([patient.user_id], reminder.local_date)[patient.user_id]
    due = expected_of(items_on(routines, reminder.local_date), reminder.local_date)
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


def _body(reminder: Reminder, templates: dict | None = None) -> str:
    """The text of a reminder, in the patient's language; `templates` caches the clinic's wording."""
    patient = db.session.get(Patient, reminder.patient_id)
    clinic = patient.user.clinic
    when = ""
    if reminder.session_id:
        starts = db.session.get(NeedlingSession, reminder.session_id).starts_at.astimezone(ZoneInfo(patient.timezone))
        when = starts.strftime("%a %d %b %H:%M")
    key = (clinic.id, reminder.kind, patient.language)
    templates = {} if templates is None else templates
    if key not in templates:
        templates[key] = messages.template(*key)
    text = templates[key]
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
        concurrency=config["SMS_CONCURRENCY"],
        status_callback=config["SMS_STATUS_CALLBACK_URL"],
    )
