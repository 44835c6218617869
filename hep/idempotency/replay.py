"""Idempotency-Key for single writes: a retry with the same key gets the first answer again.

The stored answer is written after the write itself commits. If the process dies in between,
the retry runs the write again, which is safe because every write using this is idempotent by
itself too (log entries by their UUID, corrections and deletions by their target).
"""

from __future__ import annotations

import hashlib
from functools import wraps

import marshmallow as ma
from flask import Response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hep.accounts.auth import current_user
from hep.dbtypes import utcnow
from hep.errors import Invalid
from hep.extensions import db
from hep.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"


class IdempotencyHeaderSchema(ma.Schema):
    idempotency_key = ma.fields.String(
        data_key=HEADER,
        validate=ma.validate.Length(1, 200),
        metadata={"description": "Any unique string; a retry with the same key and request gets the first answer"},
    )


def _fingerprint() -> str:
    return hashlib.sha256(request.method.encode() + request.path.encode() + request.get_data()).hexdigest()


def idempotent(view):
    """Replay the stored answer when a request repeats its Idempotency-Key."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        user = current_user()
        stored = db.session.scalar(
            select(IdempotencyRecord).where(IdempotencyRecord.user_id == user.id, IdempotencyRecord.key == key)
        )
        if stored is not None:
            if stored.request_hash != _fingerprint():
                raise Invalid(HEADER, "was already used for a different request", location="header")
            return Response(
                stored.body,
                status=stored.status,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = view(*args, **kwargs)
        if response.status_code < 500:
            db.session.add(
                IdempotencyRecord(
                    user_id=user.id,
                    key=key,
                    request_hash=_fingerprint(),
                    status=response.status_code,
                    body=response.get_data(as_text=True),
                    created_at=utcnow(),
                )
            )
            try:
                db.session.commit()
            except IntegrityError:  # a concurrent request with the same key stored its answer first
                db.session.rollback()
        return response

    return wrapper
