"""The push side of dispatch, on the database thread: whom to push to, and what the push services said.

A push has no provider id to look up later, so its exactly-once is the push protocol's: every attempt of
one reminder carries the same Topic (a push service keeps only the newest undelivered message of a
topic) and the same notification tag (a browser shows a repeat in place of the earlier one), so a
resend after a crash or a lost answer shows once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from hep.extensions import db
from hep.push import messages
from hep.push.models import PushSubscription
from hep.push.service import record_result
from hep.push.webpush import GONE, RETRY, SENT, PushResult, SubscriptionInfo

ALL_GONE, SOME_SENT, TRY_AGAIN, REFUSED = "all-gone", "sent", "retry", "refused"


def topic(reminder_id: int) -> str:
    """The push Topic (and notification tag) every attempt of one reminder carries."""
    return f"r{reminder_id}"


def payload(kind: str, reminder_id: int, *, language: str | None, clinic: str, when: str) -> dict:
    """What a reminder's push carries: the clinic's name and a pointer to the app, nothing clinical."""
    return messages.payload(kind, language=language, clinic=clinic, tag=f"hep-{topic(reminder_id)}", when=when)


def subscriptions_of(patient_ids: Iterable[int]) -> dict[int, tuple[tuple[int, SubscriptionInfo], ...]]:
    """Each patient's live subscriptions, oldest first, as the sending threads need them."""
    found: dict[int, list[tuple[int, SubscriptionInfo]]] = defaultdict(list)
    rows = db.session.scalars(
        select(PushSubscription)
        .where(PushSubscription.patient_id.in_(sorted(set(patient_ids))), PushSubscription.ended_at.is_(None))
        .order_by(PushSubscription.created_at, PushSubscription.id)
    )
    for s in rows:
        found[s.patient_id].append((s.id, SubscriptionInfo(s.endpoint, s.p256dh, s.auth)))
    return {patient_id: tuple(subs) for patient_id, subs in found.items()}


def record(deliveries: Iterable[tuple[int, PushResult]], *, now: datetime) -> str:
    """Keep each subscription's answer (404/410 ends it) and say how the reminder fared (the caller commits).

    Sent to any browser: sent. Otherwise a busy or unreachable push service: try again later; every
    subscription gone: the patient falls back to texts; else refused for good.
    """
    deliveries = list(deliveries)
    ids = [subscription_id for subscription_id, _result in deliveries]
    subscriptions = {s.id: s for s in db.session.scalars(select(PushSubscription).where(PushSubscription.id.in_(ids)))}
    results = []
    for subscription_id, result in deliveries:
        if subscription_id in subscriptions:
            record_result(subscriptions[subscription_id], result, now=now)
        results.append(result.status)
    if SENT in results:
        return SOME_SENT
    if RETRY in results:
        return TRY_AGAIN
    if results and all(status == GONE for status in results):
        return ALL_GONE
    return REFUSED
