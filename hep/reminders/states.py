"""A reminder's kinds and statuses, the moves allowed between statuses, and the one function that makes them.

    planned -> claimed -> sending -> sent -> delivered | undelivered | failed
    claimed -> planned (lease lost, or not yet: the rules moved it) | skipped | withdrawn | missed
    sending -> planned (never called, or not found at the provider) | failed | missed
    planned -> withdrawn (no longer wanted) -> planned (wanted again)

Every status change of a reminder row goes through hep/reminders/moves.py, which refuses a move this
table does not allow and only touches rows still in a source status, so two processes can never both
make the same move.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Kind(StrEnum):
    EXERCISE = "exercise"
    PRE_SESSION = "pre_session"
    POST_NEEDLING = "post_needling"  # the gentler text that replaces the exercise reminder on a needling day
    CONSENT = "consent"  # the one confirmation after consent is recorded


class Status(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    WITHDRAWN = "withdrawn"
    MISSED = "missed"


class ContactStatus(StrEnum):
    NO_CONSENT = "no_consent"
    ACTIVE = "active"
    OPTED_OUT = "opted_out"
    UNUSABLE = "unusable"


DAY_KINDS = frozenset({Kind.EXERCISE, Kind.POST_NEEDLING})  # the exercise reminders the daily and weekly caps count
OPEN = frozenset({Status.PLANNED, Status.CLAIMED, Status.SENDING})
GONE_OUT = frozenset({Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED})  # reached the provider
NOT_COUNTED = frozenset({Status.SKIPPED, Status.WITHDRAWN, Status.MISSED, Status.FAILED})  # use up no cap
# How far a provider status has come: delivery reports only move a reminder forward.
PROGRESS = {Status.SENDING: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.UNDELIVERED: 2, Status.FAILED: 2}

MOVES: dict[Status, frozenset[Status]] = {
    Status.PLANNED: frozenset({Status.CLAIMED, Status.WITHDRAWN}),
    Status.CLAIMED: frozenset({Status.SENDING, Status.PLANNED, Status.SKIPPED, Status.WITHDRAWN, Status.MISSED}),
    Status.SENDING: frozenset({Status.SENT, Status.PLANNED, Status.FAILED, Status.MISSED}),
    Status.SENT: frozenset({Status.DELIVERED, Status.UNDELIVERED, Status.FAILED}),
    Status.DELIVERED: frozenset(),
    Status.UNDELIVERED: frozenset(),
    Status.FAILED: frozenset(),
    Status.SKIPPED: frozenset(),
    Status.MISSED: frozenset(),
    Status.WITHDRAWN: frozenset({Status.PLANNED}),
}


class IllegalMove(ValueError):
    """A status change the table above does not allow: a bug, never a runtime condition."""


def check(sources: Iterable[Status], to: Status) -> frozenset[Status]:
    """The sources as a set, after checking that each may move to `to`."""
    sources = frozenset(sources)
    for source in sources:
        if to not in MOVES[source]:
            raise IllegalMove(f"a reminder cannot move from {source} to {to}")
    return sources
