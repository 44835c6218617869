"""Dispatch: claim due reminders under a lease, check each against the rules in force, send, record.

A reminder goes by the channel the rules in force give it at send time (a push when the patient chose
push and a subscription is alive, else a text); hep/reminders/pushing.py has the push side.

Exactly once, with any number of scheduler processes:
- a claim is one atomic UPDATE (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: its single writer),
  so two processes never hold the same row;
- the attempt is committed as `sending` before the provider is called;
- a `sending` row whose owner's lease ran out is not sent again blindly: hep/reminders/reconcile.py
  asks the provider first.

This module commits step by step on purpose: the claim, each round's move to `sending`, and each
result are separate transactions, because each must be on record before the next step talks to the
provider. Every status change goes through hep/reminders/moves.py.
"""

from __future__ import annotations

import os
import random
import time as clock
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from hep.accounts.models import PUSH, Patient
from hep.dbtypes import utcnow
from hep.extensions import db
from hep.push.webpush import PushSender, sender_from_config
from hep.reminders import consent, inbound, messages, policy, pushing
from hep.reminders import facts as reading
from hep.reminders.models import Reminder
from hep.reminders.moves import move, move_statement
from hep.reminders.sender import LocalThrottle, NotSent, Outgoing, Pushed, Sender, Throttle
from hep.reminders.sms import Sent, SmsBackend, SmsError, is_opt_out, stops_texts
from hep.reminders.states import DAY_KINDS, Kind, Status

_R = Reminder.__table__.c
# A new round is checked once this share of the calls in flight (1/4) has come back: a larger share
# left the provider's latency idle between rounds (benchmarks/RESULTS-reminders.md, part 3), a smaller
# one makes more, smaller rounds whose checks cost the same few queries each.
REFILL_SHARE = 4
GATHER_SECONDS = 0.02  # answers gathered into one recording commit (a row stays `sending` that much longer)
_MOVE_TO_SENDING = move_statement(
    Status.CLAIMED,
    Status.SENDING,
    _R.id == bindparam("rid"),
    _R.lease_owner == bindparam("owner"),
    _R.lease_expires_at > bindparam("now"),
    sending_since=bindparam("now"),
    attempts=_R.attempts + 1,
    lookups=0,
    channel=bindparam("channel"),
    to_phone=bindparam("to_phone"),
    body=bindparam("body"),
    lease_expires_at=bindparam("lease"),
    updated_at=bindparam("now"),
)
_RECORD_SENT = move_statement(
    Status.SENDING,
    Status.SENT,
    _R.id == bindparam("rid"),
    provider_sid=bindparam("sid"),
    provider_status=bindparam("provider_status"),
    sent_at=bindparam("at"),
    updated_at=bindparam("at"),
    lease_owner=None,
    lease_expires_at=None,
)


@cache
def _claim_statement(dialect_name: str):
    due = (
        select(_R.id)
        .where(_R.status == Status.PLANNED, _R.next_attempt_at <= bindparam("now"))
        .order_by(_R.next_attempt_at)
        .limit(bindparam("batch"))
    )
    if dialect_name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    return move_statement(
        Status.PLANNED,
        Status.CLAIMED,
        _R.id.in_(due.scalar_subquery()),
        lease_owner=bindparam("owner"),
        lease_expires_at=bindparam("lease"),
        updated_at=bindparam("now"),
    ).returning(_R.id)


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
    throttle: Throttle | None = None  # default: this process's own cap of max_per_second (the caller closes it)
    push_sender: Callable[[], PushSender] | None = None  # None: this dispatcher sends texts only

    sender: Sender = field(init=False)
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        self.sender = Sender(
            self.backend,
            self.throttle or LocalThrottle(self.max_per_second),
            self.status_callback,
            self.pause_hook,
            self.push_sender,
        )

    def claim(self, now: datetime) -> list[int]:
        """Take up to `batch` due reminders under a lease; nobody else will touch them meanwhile."""
        params = {
            "now": now,
            "owner": self.owner,
            "lease": now + timedelta(seconds=self.lease_seconds),
            "batch": self.batch,
        }
        claimed = db.session.execute(_claim_statement(db.engine.dialect.name), params).scalars().all()
        db.session.commit()
        return list(claimed)

    def run_once(self, now_fn=utcnow) -> Counter:
        """Claim due reminders a batch at a time and work through them until a claim comes back short;
        return how each ended.

        Up to `concurrency` provider calls are in flight at once. Reminders are checked against the rules
        in force and moved to `sending` on this thread, a round at a time (a few queries, one commit), so
        their attempts are on record before the provider hears of them; then their calls go out from the
        sending threads, and results are recorded here as they come back. The rounds are pipelined: once
        a quarter of the calls in flight have come back, the next round is checked and committed while the
        rest are still out, so the provider's latency is not waited for between rounds. A round is committed
        as `sending` only just before its calls start, so a reminder never sits in `sending` for long
        without its call under way (reconcile would take it for lost); and the cap checks of a round
        count the rounds still in flight (`sending` has gone out).
        """
        outcome: Counter = Counter()
        renewed = now_fn()
        waiting = deque(self.claim(renewed))
        more = len(waiting) == self.batch  # a full claim: more may be due
        size = max(1, self.concurrency)
        refill = max(1, size // REFILL_SHARE)
        in_flight: dict[Future, int] = {}
        while waiting or in_flight or more:
            if not waiting and more and len(in_flight) <= size - refill:
                # The next batch is claimed while the last calls of this one are still out.
                waiting.extend(self.claim(now_fn()))
                more = len(waiting) == self.batch
                continue
            if waiting and len(in_flight) <= size - refill:
                if (now_fn() - renewed).total_seconds() > self.lease_seconds / 3:
                    renewed = now_fn()
                    self._renew(renewed)
                round_ids = [waiting.popleft() for _ in range(min(size - len(in_flight), len(waiting)))]
                ready, ended = self._prepare(round_ids, now_fn())
                outcome.update(ended)
                db.session.commit()  # this round's attempts are on record before the provider hears of them
                started = now_fn()
                for reminder_id, outgoing in ready:
                    in_flight[self._call(outgoing, started)] = reminder_id
                continue
            done, running = wait(in_flight, return_when=FIRST_COMPLETED)
            if running:
                # The answers that come back within a moment are recorded with this one: one commit for all.
                also, _still = wait(running, timeout=GATHER_SECONDS)
                done |= also
            outcome.update(self._record([(in_flight.pop(call), call.result()) for call in done], now_fn))
        return outcome

    def send(self, reminder_id: int, now_fn=utcnow) -> str:
        """Check one claimed reminder again, then send it or record why not."""
        prepared, ended = self._prepare([reminder_id], now_fn())
        db.session.commit()
        if not prepared:
            [(status, _count)] = ended.items()
            return status
        [(status, _count)] = self._record([(reminder_id, self.sender.call(prepared[0][1], now_fn()))], now_fn).items()
        return status

    def close(self) -> None:
        """Stop the sending threads (they finish the calls already started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _call(self, outgoing: Outgoing, started: datetime) -> Future:
        """Start one provider call: on a sending thread, or here when calls go one at a time."""
        if self.concurrency <= 1:
            result: Future = Future()
            result.set_result(self.sender.call(outgoing, started))
            return result
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="sms-send")
        return self._pool.submit(self.sender.call, outgoing, started)

    def _renew(self, now: datetime) -> None:
        """Keep this process's unexpired claims alive while it works through a long batch."""
        db.session.execute(
            update(Reminder)
            .where(
                Reminder.lease_owner == self.owner,
                Reminder.status == Status.CLAIMED,
                Reminder.lease_expires_at > now,
            )
            .values(lease_expires_at=now + timedelta(seconds=self.lease_seconds))
        )
        db.session.commit()

    def _lock_patients(self, ids: list[int], now: datetime) -> None:
        """Serialise send-time checks per patient across processes, so two schedulers holding reminders of
        one patient cannot both pass a cap check: PostgreSQL locks the patients' rows (every patient has
        one, texts or push) until this round commits; SQLite's first write takes its database-wide write
        lock before anything is read."""
        if db.engine.dialect.name == "postgresql":
            patients = select(Reminder.patient_id).where(Reminder.id.in_(ids))
            db.session.execute(
                select(Patient.user_id)
                .where(Patient.user_id.in_(patients))
                .order_by(Patient.user_id)
                # NO KEY UPDATE: dispatchers exclude each other, but rows that reference a patient (a new
                # log, a booking) are not held up by it.
                .with_for_update(key_share=True)
            ).all()
        else:
            db.session.execute(
                update(Reminder)
                .where(Reminder.id.in_(ids), Reminder.lease_owner == self.owner)
                .values(updated_at=now)
                .execution_options(synchronize_session=False)
            )

    def _prepare(self, ids: list[int], now: datetime) -> tuple[list[tuple[int, Outgoing]], Counter]:
        """Check claimed reminders against the rules in force and move the ones to send to `sending`
        (the caller commits). Returns (id, what to send) for those, and how the others ended."""
        ended: Counter = Counter()
        self._lock_patients(ids, now)
        reminders = [
            r
            for r in db.session.scalars(select(Reminder).where(Reminder.id.in_(ids))).all()
            if r.status == Status.CLAIMED and r.lease_owner == self.owner
        ]
        ended["lost-lease"] = len(ids) - len(reminders)
        if not reminders:
            return [], +ended
        facts, contacts, credit, sent = reading.send_time_facts(reminders, now, {})
        if self.push_sender is None:
            contacts = {pid: replace(c, push=False) for pid, c in contacts.items()}
        pushes = pushing.subscriptions_of(pid for pid, c in contacts.items() if c.push)
        patients = db.session.scalars(
            select(Patient)
            .options(joinedload(Patient.user))
            .where(Patient.user_id.in_({r.patient_id for r in reminders}))
        ).all()
        by_id = {p.user_id: p for p in patients}
        templates: dict = {}
        candidates: list[tuple[int, Outgoing]] = []
        send_by = clock.monotonic() + self.lease_seconds / 2
        for reminder in reminders:
            pid = reminder.patient_id
            verdict = policy.verdict(reminder, facts[pid], contacts.get(pid), credit[pid], sent[pid], now)
            if isinstance(verdict, policy.Send) and verdict.channel == PUSH and not pushes.get(pid):
                # Its last subscription ended since the facts were read: back to planned, and the next
                # check falls back to a text.
                ended[self._later(reminder.id, policy.Later(_same(reminder), "push ended: check again"), now)] += 1
            elif isinstance(verdict, policy.Stop):
                ended[self._finish(reminder.id, Status.CLAIMED, verdict.status, verdict.reason, now)] += 1
            elif isinstance(verdict, policy.Later):
                ended[self._later(reminder.id, verdict, now)] += 1
            else:
                if reminder.kind in DAY_KINDS:
                    sent[pid].per_day[reminder.local_date] += 1  # a second one of this round counts the first
                if verdict.channel == PUSH:
                    candidates.append((reminder.id, _push(reminder, by_id[pid], facts[pid], verdict, send_by, pushes)))
                else:
                    body = _body(reminder, by_id[pid], facts[pid], templates)
                    out = Outgoing(contacts[pid].phone, body, verdict.window_end_at, send_by)
                    candidates.append((reminder.id, out))
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
                    "channel": out.channel,
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
                    Reminder.status == Status.SENDING,
                    Reminder.lease_owner == self.owner,
                    Reminder.sending_since == now,
                )
            )
        )
        ended["lost-lease"] += len(candidates) - len(ours)
        return [(rid, out) for rid, out in candidates if rid in ours], +ended  # unary + drops zero counts

    def _record(self, results: list[tuple[int, Sent | SmsError | NotSent | Pushed]], now_fn) -> Counter:
        """Record what the provider said: the accepted ones in one statement and one commit."""
        outcome: Counter = Counter()
        now = now_fn()
        accepted = [
            {"rid": rid, "sid": r.sid, "provider_status": r.status, "at": now}
            for rid, r in results
            if isinstance(r, Sent)
        ]
        pushed = {rid: pushing.record(r.deliveries, now=now) for rid, r in results if isinstance(r, Pushed)}
        accepted += [
            {"rid": rid, "sid": None, "provider_status": PUSH, "at": now}
            for rid, how in pushed.items()
            if how == pushing.SOME_SENT
        ]
        for rid, r in results:
            if isinstance(r, NotSent):
                outcome[self._unsend(rid, now)] += 1
        if accepted:
            db.session.connection().execute(_RECORD_SENT, accepted)
        db.session.commit()  # the sent rows and each subscription's answer
        if accepted:
            outcome[Status.SENT] += len(accepted)
            inbound.apply_early_statuses([a["sid"] for a in accepted if a["sid"]], now=now)
        for rid, how in pushed.items():
            if how != pushing.SOME_SENT:
                outcome[self._push_not_sent(rid, how, now)] += 1
        for rid, result in results:
            if isinstance(result, SmsError):
                outcome[self._failed(rid, result, now)] += 1
        return outcome

    def _mine(self, reminder_id: int):
        return (Reminder.id == reminder_id, Reminder.lease_owner == self.owner)

    def _finish(self, reminder_id: int, source: Status, status: Status, reason: str, now: datetime, **values) -> str:
        moved = move(
            source,
            status,
            *self._mine(reminder_id),
            now=now,
            reason=reason[:120],
            lease_owner=None,
            lease_expires_at=None,
            **values,
        )
        db.session.commit()
        return status if moved else "lost-lease"

    def _later(self, reminder_id: int, verdict: policy.Later, now: datetime) -> str:
        """Back to planned for the time the rules in force give it (a new zone, window or time)."""
        wanted = verdict.wanted
        moved = move(
            Status.CLAIMED,
            Status.PLANNED,
            *self._mine(reminder_id),
            now=now,
            reason=verdict.reason,
            due_at=wanted.due_at,
            next_attempt_at=wanted.due_at,
            window_end_at=wanted.window_end_at,
            local_date=wanted.local_date,
            lease_owner=None,
            lease_expires_at=None,
        )
        db.session.commit()
        return "later" if moved else "lost-lease"

    def _unsend(self, reminder_id: int, now: datetime) -> str:
        """Back to planned, now, a reminder whose call was never made (if it is still ours)."""
        moved = move(
            Status.SENDING,
            Status.PLANNED,
            *self._mine(reminder_id),
            now=now,
            attempts=Reminder.attempts - 1,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
            reason="not sent: no sending slot before its lease ran short",
        )
        db.session.commit()
        return "requeued" if moved == 1 else "lost-lease"

    def _failed(self, reminder_id: int, error: SmsError, now: datetime) -> str:
        reminder = db.session.get(Reminder, reminder_id)
        if error.network or (error.http_status or 0) >= 500:
            # The provider may have accepted it (a timeout, or a 502/504 from its edge): leave it `sending`
            # for reconcile to look up, never resend blind. Only 429 and refusals are known not to have gone out.
            db.session.execute(
                update(Reminder)
                .where(*self._mine(reminder_id), Reminder.status == Status.SENDING)
                .values(error_code=error.code, lease_expires_at=now, updated_at=now)
            )
            db.session.commit()
            return "uncertain"
        if stops_texts(error.code):
            consent.lose(
                reminder.patient_id,
                reminder.to_phone,
                opted_out=is_opt_out(error.code),
                now=now,
                detail=f"provider error {error.code}",
            )
        if error.retryable and not stops_texts(error.code):
            return self._retry(reminder, now, f"provider error {error.code or error.http_status}")
        reason = f"provider error {error.code or error.http_status}: {error.message}"
        return self._finish(reminder_id, Status.SENDING, Status.FAILED, reason, now, error_code=error.code)

    def _push_not_sent(self, reminder_id: int, how: str, now: datetime) -> str:
        """No browser took the push: try again later (busy), fall back to a text (every subscription gone), or fail."""
        if how == pushing.TRY_AGAIN:
            return self._retry(db.session.get(Reminder, reminder_id), now, "push service busy or unreachable")
        if how == pushing.ALL_GONE:
            moved = move(
                Status.SENDING,
                Status.PLANNED,
                *self._mine(reminder_id),
                now=now,
                reason="push subscriptions gone: a text instead, if texts are on",
                next_attempt_at=now,
                lease_owner=None,
                lease_expires_at=None,
            )
            db.session.commit()
            return "push-gone" if moved else "lost-lease"
        return self._finish(reminder_id, Status.SENDING, Status.FAILED, "every push service refused it", now)

    def _retry(self, reminder: Reminder, now: datetime, reason: str) -> str:
        """Back to planned after a backoff with jitter; the send-time check decides whether it is too late."""
        delay = min(900, 15 * 2 ** min(reminder.attempts, 6)) * random.uniform(0.5, 1.5)
        moved = move(
            Status.SENDING,
            Status.PLANNED,
            *self._mine(reminder.id),
            now=now,
            reason=reason,
            next_attempt_at=now + timedelta(seconds=delay),
            lease_owner=None,
            lease_expires_at=None,
        )
        db.session.commit()
        return "retry" if moved else "lost-lease"


def _when(reminder: Reminder, patient: Patient, facts: policy.Facts) -> str:
    """The session's local start, for a reminder before one; else empty."""
    if reminder.kind != Kind.PRE_SESSION:
        return ""
    session = next(s for s in facts.sessions if s.id == reminder.session_id)
    return session.starts_at.astimezone(ZoneInfo(patient.timezone)).strftime("%a %d %b %H:%M")


def _body(reminder: Reminder, patient: Patient, facts: policy.Facts, templates: dict) -> str:
    """The text of a reminder, in the patient's language; `templates` caches the clinic's wording."""
    clinic = patient.user.clinic
    key = (clinic.id, reminder.kind, patient.language)
    if key not in templates:
        templates[key] = messages.template(*key)
    when = _when(reminder, patient, facts)
    return messages.render(templates[key], clinic=clinic.name, contact=clinic.contact_phone or "", when=when)


def _push(
    reminder: Reminder, patient: Patient, facts: policy.Facts, verdict: policy.Send, send_by: float, pushes: dict
) -> Outgoing:
    """A reminder as a push to each of the patient's live subscriptions."""
    clinic = patient.user.clinic.name
    when = _when(reminder, patient, facts)
    body = pushing.payload(reminder.kind, reminder.id, language=patient.language, clinic=clinic, when=when)
    return Outgoing(
        None,
        body["body"],
        verdict.window_end_at,
        send_by,
        channel=PUSH,
        subscriptions=pushes[patient.user_id],
        payload=body,
        topic=pushing.topic(reminder.id),
    )


def _same(reminder: Reminder) -> policy.Wanted:
    """The reminder's own time, as a Wanted (to put it back as it was)."""
    return policy.Wanted(
        reminder.kind, reminder.slot, reminder.local_date, reminder.due_at, reminder.window_end_at, reminder.session_id
    )


def _pause_at(point: str, marker: str):
    """Tests only (HEP_TEST_PAUSE_AT): stop this process at a point of dispatch, so a test can SIGKILL it there."""

    def hook(reached: str) -> None:
        if reached == point:
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            while True:
                clock.sleep(60)

    return hook


def dispatcher_from_app(backend: SmsBackend, owner: str, throttle: Throttle | None = None) -> Dispatcher:
    """A dispatcher configured from the app's settings (its rate cap: `throttle`, which the caller owns)."""
    config = current_app.config
    pause = config.get("TEST_PAUSE_AT")
    push_settings = {key: config[key] for key in ("VAPID_PRIVATE_KEY", "VAPID_SUBJECT", "PUSH_TIMEOUT_SECONDS")}
    return Dispatcher(
        pause_hook=_pause_at(pause, config["TEST_PAUSE_MARKER"]) if pause else None,
        backend=backend,
        owner=owner,
        batch=config["REMINDER_BATCH"],
        lease_seconds=config["REMINDER_LEASE_SECONDS"],
        max_per_second=config["SMS_MAX_PER_SECOND"],
        concurrency=config["SMS_CONCURRENCY"],
        status_callback=config["SMS_STATUS_CALLBACK_URL"],
        throttle=throttle,
        push_sender=lambda: sender_from_config(push_settings),
    )
