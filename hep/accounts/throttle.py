"""Sign-in throttles: per client address (HEP_LOGIN_RATE_LIMIT) and per account (HEP_LOGIN_ACCOUNT_RATE_LIMIT).

The per-account limit counts failed sign-ins to one login name from any address, so guesses spread
over many addresses are slowed down too; a successful sign-in costs nothing. Counts live in the
limiter's storage (Redis when REDIS_URL is set), shared by every worker. Keys hold a hash of the
login name, never the name itself.
"""

from __future__ import annotations

import hashlib

from flask import Response, current_app, request

from hep import inputs
from hep.accounts.service import canonical_login
from hep.errors import DomainError

SCOPE = "sign-in-account"  # one count per account for the API's and the web app's sign-in alike


def account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _login_name() -> str | None:
    if request.mimetype == "application/x-www-form-urlencoded":
        return request.form.get("username")
    try:
        body = inputs.parse_json(request.get_data(cache=True))
    except DomainError:
        return None
    name = body.get("username") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None


def account_key() -> str:
    """The limiter key for the account a sign-in names (the same for its e-mail in any case, or its phone in
    any format)."""
    name = _login_name()
    digest = hashlib.sha256(canonical_login(name).encode()).hexdigest()[:32] if name else "none"
    return f"{current_app.config['RATE_LIMIT_PREFIX']}:account:{digest}"


def failed(response: Response) -> bool:
    """Only refused sign-ins count against the account."""
    return response.status_code == 401
