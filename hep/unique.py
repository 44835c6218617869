"""What a client hears when its write hits a unique constraint: one table for the whole service.

Two kinds of answer (README, "Retries, duplicates and crashes"):
- CONFLICTS: the second of two identical creates is a 409 naming the field. A service may check
  first for a friendly message, but a concurrent twin passes that check too; its INSERT then fails
  at the constraint, and `translate` turns the IntegrityError into the same 409, whichever request
  lost the race and wherever it was raised.
- HANDLED: writes where sending twice changes nothing. Those never raise for the constraint: they
  use INSERT ... ON CONFLICT (hep.dbtypes.insert_new / upsert) or handle the race in the service.
tests/test_unique_constraints.py fails when a unique constraint is in neither table.
"""

from __future__ import annotations

import re
from functools import cache

from flask import current_app
from sqlalchemy import Integer, UniqueConstraint
from sqlalchemy.exc import IntegrityError

from hep.errors import Conflict
from hep.extensions import db

Key = tuple[str, tuple[str, ...]]  # (table, columns)

CONFLICTS: dict[Key, tuple[str, str]] = {
    # Within the caller's clinic only: another clinic's accounts are separate and never collide.
    ("users", ("clinic_id", "email")): ("email", "That email is already in use in your clinic."),
    ("users", ("clinic_id", "phone")): ("phone", "That phone is already in use in your clinic."),
    ("program_templates", ("clinic_id", "key")): ("key", "A template with this key already exists."),
    ("exercises", ("clinic_id", "slug")): ("slug", "An exercise with this slug already exists; choose another."),
}

HANDLED: dict[Key, str] = {
    ("sms_contacts", ("patient_id",)): "consent: insert_new, then the row is locked",
    ("message_templates", ("clinic_id", "kind", "language")): "upsert: the last wording wins",
    ("calendar_feeds", ("patient_id",)): "upsert: a new link voids the old one",
    ("reminder_settings", ("clinic_id",)): "insert_new, then the row is changed",
    ("inbound_messages", ("provider_sid",)): "insert_new claims the text before acting on it",
    ("early_provider_statuses", ("provider_sid",)): "the first report of a SID is kept",
    ("reminders", ("patient_id", "kind", "slot")): "the planner inserts ON CONFLICT; consent texts under the lock",
    ("reminders", ("provider_sid",)): "SIDs come from Twilio, one per message",
    ("adherence_logs", ("id",)): "sync answers a known id as duplicate or conflict, retrying once",
    ("idempotency_records", ("user_id", "key")): "the first stored answer is replayed",
    ("routine_versions", ("routine_id", "number")): "revise_routine: same content is no change, else 409",
    ("needling_sessions", ("patient_id", "starts_at")): "booking the same start returns the first booking",
    ("exercises", ("slug",)): "library slugs: written only by load-exercises, one transaction",
    ("program_templates", ("key",)): "shipped templates: written only by load-exercises",
    ("safety_blocks", ("key",)): "shipped safety blocks: written only by load-exercises",
    ("exercise_aliases", ("slug",)): "aliases of merged exercises: written only by load-exercises",
    ("exercise_tags", ("exercise_id", "kind", "value")): "the exercise schema refuses repeated tags",
    ("scheduler_heartbeats", ("owner",)): "one row per scheduler process",
    ("activation_codes", ("code_hash",)): "random 50-bit codes, hashed",
    ("auth_tokens", ("token_hash",)): "random 256-bit tokens, hashed",
    ("calendar_feeds", ("token_hash",)): "random 192-bit tokens, hashed",
    ("patients", ("user_id",)): "created with its user",
    ("push_subscriptions", ("endpoint_hash",)): "subscribe: insert_new, then the row is locked and updated",
    ("plan_slices", ("slices", "slice")): "ensure_slices: insert_new (ON CONFLICT DO NOTHING); claims UPDATE",
    ("adherence_days", ("patient_id", "local_date")): "touch upserts; a reader stores a day ON CONFLICT DO NOTHING",
}


def unique_keys() -> set[Key]:
    """Every unique constraint, unique index and natural primary key in the schema."""
    return set(_by_name().values())


@cache
def _by_name() -> dict[str, Key]:
    found: dict[str, Key] = {}
    for table in db.metadata.tables.values():
        columns = list(table.primary_key.columns)
        surrogate = len(columns) == 1 and isinstance(columns[0].type, Integer) and not columns[0].foreign_keys
        if columns and not surrogate:
            found[str(table.primary_key.name)] = (table.name, tuple(c.name for c in columns))
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                found[str(constraint.name)] = (table.name, tuple(c.name for c in constraint.columns))
        for index in table.indexes:
            if index.unique:
                found[str(index.name)] = (table.name, tuple(c.name for c in index.columns))
    return found


_SQLITE = re.compile(r"UNIQUE constraint failed: (.+)")


def violated(exc: IntegrityError) -> Key | None:
    """The (table, columns) of the unique constraint an IntegrityError broke, on either database."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None and getattr(diag, "constraint_name", None):
        return _by_name().get(diag.constraint_name)
    match = _SQLITE.search(str(exc.orig))
    if not match:
        return None
    qualified = [part.strip() for part in match.group(1).split(",")]
    tables = {q.split(".", 1)[0] for q in qualified}
    if len(tables) != 1 or not all("." in q for q in qualified):
        return None
    return tables.pop(), tuple(q.split(".", 1)[1] for q in qualified)


def conflict_for(exc: IntegrityError) -> Conflict | None:
    """The 409 a client gets for this IntegrityError, or None when it is not a duplicate a client sent."""
    key = violated(exc)
    if key not in CONFLICTS:
        return None
    field, detail = CONFLICTS[key]
    return Conflict(detail, invalid_params=[{"name": field, "location": "json", "reason": "is already in use"}])


def integrity_error(exc: IntegrityError):
    """App error handler: a known duplicate is the 409 the retries table promises; anything else is a 500."""
    db.session.rollback()
    conflict = conflict_for(exc)
    if conflict is None:
        raise exc
    return current_app.handle_user_exception(conflict)
