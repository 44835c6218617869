"""Settle reminders whose sending process died or never heard the provider's answer.

(A push is not looked up: an interrupted push goes back to planned and is resent under the same topic.)

A `claimed` row whose lease ran out was never sent: it goes back to planned. A `sending` row may
have gone out (the provider accepted it and the answer was lost, or was a 5xx from its edge), so
it is looked up at the provider first: every message to the number since the attempt began,
whatever its status (a queued message has no DateSent yet). Found: it is recorded as sent. Not
found: it is looked up once more at least `recheck_seconds` later (the provider may not list a
message it accepted a moment ago), and only then planned again; the send-time checks then decide
whether it may still go out. Each row is first taken by a compare-and-set under this process's
lease, so two schedulers reconciling at once never both act on one row.

Commits per row on purpose: each settlement must be on record before the next provider lookup.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update

from hep.accounts.models import PUSH
from hep.extensions import db
from hep.reminders import inbound
from hep.reminders.models import Reminder
from hep.reminders.moves import move
from hep.reminders.sms import SmsBackend, SmsError
from hep.reminders.states import Status

# A claimed or sending row whose lease ran out (or never had one).
_STALE = Reminder.status.in_((Status.CLAIMED, Status.SENDING)) & or_(
    Reminder.lease_expires_at.is_(None), Reminder.lease_expires_at < bindparam("now")
)
CLOCK_SKEW = timedelta(minutes=2)  # our clock against the provider's date_created
BATCH = 200


@dataclass
class Reconciler:
    backend: SmsBackend
    owner: str
    lease_seconds: int = 120
    recheck_seconds: int = 60

    def run(self, now: datetime) -> Counter:
        """Settle up to BATCH stale rows; return how each ended."""
        outcome: Counter = Counter()
        stale = db.session.scalars(
            select(Reminder.id).where(self._stale(now)).order_by(Reminder.lease_expires_at).limit(BATCH)
        ).all()
        for reminder_id in stale:
            taken = db.session.execute(
                update(Reminder)
                .where(Reminder.id == reminder_id, self._stale(now))
                .values(lease_owner=self.owner, lease_expires_at=now + timedelta(seconds=self.lease_seconds))
                .execution_options(synchronize_session=False)
            ).rowcount
            db.session.commit()
            if taken != 1:
                outcome["taken-by-another"] += 1
                continue
            reminder = db.session.get(Reminder, reminder_id)
            db.session.refresh(reminder)
            if reminder.status == Status.CLAIMED:
                outcome[self._requeue(reminder, Status.CLAIMED, now, "lease expired before sending")] += 1
            elif reminder.channel == PUSH:
                # A push cannot be looked up; its resend carries the same topic and tag (hep/reminders/pushing.py),
                # so a push that did arrive is replaced, not shown twice.
                reason = "push interrupted: sent again under its topic"
                outcome[self._requeue(reminder, Status.SENDING, now, reason)] += 1
            else:
                outcome[self._settle_sending(reminder, now)] += 1
        return outcome

    @staticmethod
    def _stale(now: datetime):
        return _STALE.params(now=now)

    def _settle_sending(self, reminder: Reminder, now: datetime) -> str:
        try:
            found = self.backend.find(reminder.to_phone, reminder.sending_since - CLOCK_SKEW)
        except SmsError:
            self._hold(reminder, now, now)  # the next reconcile (ours or another's) asks again
            return "lookup-failed"
        recorded = set(
            db.session.scalars(select(Reminder.provider_sid).where(Reminder.provider_sid.in_([m.sid for m in found])))
        )
        matches = sorted(
            (m for m in found if m.body == reminder.body and m.sid not in recorded),
            key=lambda m: m.date_created,
        )
        if matches:
            match = matches[0]
            move(
                Status.SENDING,
                Status.SENT,
                Reminder.id == reminder.id,
                Reminder.lease_owner == self.owner,
                now=now,
                provider_sid=match.sid,
                provider_status=match.status,
                sent_at=match.date_created,
                lease_owner=None,
                lease_expires_at=None,
            )
            db.session.commit()
            inbound.apply_early_statuses([match.sid], now=now)
            return "found-sent"
        if reminder.lookups == 0:
            # Not listed yet is not the same as not sent: look once more before deciding.
            self._hold(reminder, now, now + timedelta(seconds=self.recheck_seconds), lookups=1)
            return "look-again"
        return self._requeue(reminder, Status.SENDING, now, "not found at the provider after an interrupted send")

    def _hold(self, reminder: Reminder, now: datetime, until: datetime, **values) -> None:
        db.session.execute(
            update(Reminder)
            .where(Reminder.id == reminder.id, Reminder.lease_owner == self.owner, Reminder.status == Status.SENDING)
            .values(lease_expires_at=until, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()

    def _requeue(self, reminder: Reminder, source: Status, now: datetime, reason: str) -> str:
        moved = move(
            source,
            Status.PLANNED,
            Reminder.id == reminder.id,
            Reminder.lease_owner == self.owner,
            now=now,
            reason=reason,
            next_attempt_at=now,
            lease_owner=None,
            lease_expires_at=None,
        )
        db.session.commit()
        return "requeued" if moved else "taken-by-another"


def reconciler_from_app(config, backend: SmsBackend, owner: str) -> Reconciler:
    """A reconciler configured from the app's settings."""
    return Reconciler(
        backend,
        owner,
        lease_seconds=config["REMINDER_LEASE_SECONDS"],
        recheck_seconds=config["RECONCILE_RECHECK_SECONDS"],
    )
