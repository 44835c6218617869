"""Opaque bearer tokens: issue, authenticate, rotate, revoke."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import contains_eager

from hep.accounts.models import AuthToken, TokenFamily, User
from hep.errors import Unauthorized
from hep.extensions import db

ACCESS, REFRESH = "access", "refresh"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


def token_hash(raw: str) -> str:
    """SHA-256 of a token: tokens are 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_token(family: TokenFamily, kind: str, ttl: int, now: datetime) -> str:
    raw = ("hepa_" if kind == ACCESS else "hepr_") + secrets.token_urlsafe(32)
    db.session.add(
        AuthToken(
            family_id=family.id,
            kind=kind,
            token_hash=token_hash(raw),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    return raw


def issue(user: User, *, now: datetime, access_ttl: int, refresh_ttl: int) -> TokenPair:
    """Start a new token family (one sign-in) for the user."""
    family = TokenFamily(user_id=user.id, created_at=now)
    db.session.add(family)
    db.session.flush()
    return TokenPair(
        access_token=_new_token(family, ACCESS, access_ttl, now),
        refresh_token=_new_token(family, REFRESH, refresh_ttl, now),
        expires_in=access_ttl,
    )


@cache
def _authenticate_statement() -> Select:
    # Built once: the patient app calls this on every request. The patient row comes along so that
    # the view's own lookup of the caller's patient record is answered from the session, not the database
    # (User.patient holds it, so the session's weak identity map keeps it).
    return (
        select(User, AuthToken.family_id, AuthToken.expires_at)
        .join(TokenFamily, TokenFamily.user_id == User.id)
        .join(AuthToken, AuthToken.family_id == TokenFamily.id)
        .outerjoin(User.patient)
        .options(contains_eager(User.patient))
        .where(
            AuthToken.token_hash == bindparam("token_hash"),
            AuthToken.kind == ACCESS,
            TokenFamily.revoked_at.is_(None),
        )
    )


def authenticate(raw: str, *, now: datetime) -> tuple[User, int]:
    """Return (user, family id) for a valid access token, or raise Unauthorized."""
    row = db.session.execute(_authenticate_statement(), {"token_hash": token_hash(raw)}).first()
    if row is None or row.expires_at <= now or not row.User.is_active:
        raise Unauthorized("The access token is invalid, expired or revoked.")
    return row.User, row.family_id


def rotate(raw: str, *, now: datetime, access_ttl: int, refresh_ttl: int) -> TokenPair:
    """Exchange a refresh token for a new pair; reuse of a spent one revokes the whole family."""
    token = db.session.scalar(
        select(AuthToken).where(AuthToken.token_hash == token_hash(raw), AuthToken.kind == REFRESH)
    )
    invalid = Unauthorized("The refresh token is invalid, expired or revoked.")
    if token is None or token.family.revoked_at is not None or token.expires_at <= now:
        raise invalid
    # Spend the token atomically: of two concurrent uses, exactly one wins.
    spent = db.session.execute(
        update(AuthToken).where(AuthToken.id == token.id, AuthToken.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if spent != 1:
        revoke_family(token.family_id, now=now, reason="refresh-reuse")
        db.session.commit()
        raise invalid
    user = db.session.get(User, token.family.user_id)
    if user is None or not user.is_active:
        raise invalid
    return TokenPair(
        access_token=_new_token(token.family, ACCESS, access_ttl, now),
        refresh_token=_new_token(token.family, REFRESH, refresh_ttl, now),
        expires_in=access_ttl,
    )


def revoke_family(family_id: int, *, now: datetime, reason: str) -> None:
    """Revoke one sign-in: every access and refresh token in it stops working."""
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


def revoke_user(user_id: int, *, now: datetime, reason: str) -> None:
    """Revoke every sign-in of a user (password change, deactivation)."""
    db.session.execute(
        update(TokenFamily)
        .where(TokenFamily.user_id == user_id, TokenFamily.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
