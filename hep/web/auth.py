"""Signing staff in and out of the web app: the session cookie, CSRF tokens and the idle timeout.

The session cookie (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure unless HEP_SECURE_COOKIES=0)
holds three things:

- ``token``: the access token of a sign-in (a token family) made for this browser by the same
  `accounts.service.login` the API uses, valid for HEP_WEB_SESSION_HOURS. Every request checks it
  with `tokens.authenticate`, so signing out, a password change and deactivating the user (which
  revoke the family) end the web session at once, like they end API sign-ins. The family's refresh
  token is born expired: the browser never gets one.
- ``seen``: when the last request came (Unix seconds). After HEP_WEB_IDLE_MINUTES without one, the
  sign-in is revoked and the next request goes to the sign-in page.
- ``csrf``: a random per-session token every form posts back (field ``csrf_token``, or the
  ``X-CSRF-Token`` header for scripts); it is replaced at every sign-in and sign-out.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from hep.accounts import service as accounts
from hep.accounts import throttle, tokens
from hep.accounts.models import User
from hep.dbtypes import utcnow
from hep.errors import Conflict, Unauthorized
from hep.extensions import limiter
from hep.web import bp

PUBLIC_ENDPOINTS = {"web.login", "web.static"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"


# --- the signed-in user ----------------------------------------------------------------------


def current_staff() -> User:
    """The staff member signed in to this request (every non-public web view has one)."""
    return g.web_user


def current_staff_or_none() -> User | None:
    return g.get("web_user")


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _web_ttl() -> accounts.TokenSettings:
    return accounts.TokenSettings(access_ttl=current_app.config["WEB_SESSION_HOURS"] * 3600, refresh_ttl=0)


SEEN_RESOLUTION = 60  # seconds: how often the idle clock of a web session is moved forward


def _idle_seconds() -> int:
    return current_app.config["WEB_IDLE_MINUTES"] * 60


def _load_user(now: datetime) -> User | None:
    """The staff member this browser is signed in as, or None (ending an idle or revoked session)."""
    raw = session.get("token")
    if not raw:
        return None
    try:
        user, family_id = tokens.authenticate(raw, now=now)
    except Unauthorized:
        _forget("Your sign-in has ended. Please sign in again.")
        return None
    seen = session.get("seen")
    if not isinstance(seen, int | float) or now.timestamp() - seen > _idle_seconds():
        accounts.logout(family_id, now=now, reason="web-idle")
        minutes = current_app.config["WEB_IDLE_MINUTES"]
        _forget(f"You were signed out after {minutes} minutes without activity.")
        return None
    if not user.is_staff:  # patients never get a web session; refuse one that got here anyway
        _forget("The web app is for clinic staff. Patients use the HEP app on their phone.")
        return None
    g.web_family_id = family_id
    # The idle clock moves at most once a minute. Touching the session cookie on every request would
    # let a slow image response, sent with the cookie its request carried, overwrite a newer cookie
    # (a flash message set by the form post that overtook it).
    if now.timestamp() - seen >= SEEN_RESOLUTION:
        session["seen"] = int(now.timestamp())
    return user


def _forget(message: str | None = None) -> None:
    session.clear()
    if message:
        flash(message, "info")


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an absolute or protocol-relative URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forged token may be anything.
    return bool(expected) and hmac.compare_digest(str(expected).encode(), sent.encode())


@bp.before_request
def _authenticate_and_check_csrf():
    if request.endpoint == "web.static":
        return None
    now = utcnow()
    g.web_user = _load_user(now)
    if g.web_user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        target = request.full_path.rstrip("?") if request.method in SAFE_METHODS else None
        return redirect(url_for("web.login", next=target))
    if request.method not in SAFE_METHODS and not _csrf_ok():
        return _csrf_failure()
    return None


def _csrf_failure():
    cookie_missing = current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    return (
        render_template("web/error.html", status=400, title="The form has expired", cookie_missing=cookie_missing),
        400,
    )


@bp.after_request
def _security_headers(response):
    headers = response.headers
    headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: https:; media-src https:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint not in ("web.static", "web.exercise_figure"):
        # Pages show health information: never keep them in a shared or back-button cache.
        # (An exercise's drawing shows none and sets its own private caching.)
        headers["Cache-Control"] = "no-store"
    return response


# --- views ---------------------------------------------------------------------------------------


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@limiter.shared_limit(
    throttle.account_limit,
    throttle.SCOPE,
    key_func=throttle.account_key,
    deduct_when=throttle.failed,
    methods=["POST"],
)
def login():
    """Sign in with e-mail (or mobile number) and password."""
    target = _safe_next(request.values.get("next"))
    if g.web_user is not None:
        return redirect(target or url_for("web.patients"))
    csrf_token()
    if request.method == "GET":
        return render_template("web/login.html", next=target, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    now = utcnow()
    try:
        if not username or not password:
            raise Unauthorized("Enter your e-mail address and password.")
        pair = accounts.login(username, password, now=now, ttl=_web_ttl())
    except Unauthorized as exc:
        return render_template("web/login.html", next=target, username=username, error=exc.detail), 401
    except Conflict:
        message = (
            "This e-mail address opens accounts at more than one clinic with this password. "
            "Give one of them another password, or sign in with your mobile number."
        )
        return render_template("web/login.html", next=target, username=username, error=message), 409
    user, family_id = tokens.authenticate(pair.access_token, now=now)
    if not user.is_staff:
        accounts.logout(family_id, now=now, reason="web-not-staff")
        message = "The web app is for clinic staff. Patients use the HEP app on their phone."
        return render_template("web/login.html", next=target, username=username, error=message), 403
    session.clear()  # a new session for a new sign-in: nothing carries over (no session fixation)
    session["token"] = pair.access_token
    session["seen"] = int(now.timestamp())
    session["csrf"] = secrets.token_urlsafe(32)
    return redirect(target or url_for("web.patients"))


@bp.post("/logout")
def logout():
    """Sign out: this browser's sign-in is revoked, not just forgotten."""
    accounts.logout(g.web_family_id, now=utcnow())
    _forget("You are signed out.")
    return redirect(url_for("web.login"))


@bp.get("/")
def home():
    return redirect(url_for("web.patients"))
