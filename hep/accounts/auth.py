"""Bearer-token authentication for views: who is calling, and may their role call this?"""

from __future__ import annotations

from copy import deepcopy
from functools import wraps

from flask import g, request

from hep.accounts import tokens
from hep.accounts.models import ROLES, User
from hep.dbtypes import utcnow
from hep.errors import Forbidden, Unauthorized

SECURITY = [{"bearerAuth": []}]


def current_user() -> User:
    """The authenticated caller of this request."""
    return g.principal


def current_family_id() -> int:
    """The sign-in (token family) this request's access token belongs to."""
    return g.token_family_id


def _authenticate() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise Unauthorized()
    g.principal, g.token_family_id = tokens.authenticate(raw.strip(), now=utcnow())


def login_required(*roles: str):
    """Require a valid access token, and one of `roles` when given; documents bearer auth."""
    allowed = set(roles or ROLES)

    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            _authenticate()
            if g.principal.role not in allowed:
                raise Forbidden("Your role may not call this endpoint.")
            return func(*args, **kwargs)

        wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
        wrapper._apidoc.setdefault("manual_doc", {})["security"] = SECURITY
        responses = wrapper._apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        if roles:
            responses.setdefault(403, []).append("FORBIDDEN")
        return wrapper

    return decorator
