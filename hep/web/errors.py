"""Error pages for the web app: the same domain errors as the API, rendered as HTML."""

from __future__ import annotations

from flask import Flask, g, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from hep.audit import service as audit
from hep.dbtypes import utcnow
from hep.errors import DomainError, Forbidden, NotFound, Unauthorized
from hep.extensions import discard_transaction
from hep.web import WEB_SEGMENTS, bp

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Already in use",
    422: "Please check what you entered",
    429: "Too many attempts",
    503: "Please try again in a moment",
}


def error_page(status: int, detail: str | None = None):
    """Render the error page with `status`."""
    discard_transaction()  # whatever failed may have left the transaction unusable; the page must still render
    title = TITLES.get(status, "Something went wrong")
    return render_template("web/error.html", status=status, title=title, detail=detail), status


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    if isinstance(error, Unauthorized):
        return redirect(url_for("web.login"))
    if isinstance(error, NotFound | Forbidden) and g.get("web_user") is not None:
        audit.refused(g.web_user, request.endpoint or request.path, request.view_args or {}, now=utcnow())
    # A 404 says nothing about whether the object exists in another clinic (the service's message
    # only repeats the id the user typed).
    return error_page(error.status, error.detail)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    if error.code == 429:
        return error_page(429, "Too many sign-in attempts. Wait a minute and try again.")
    return error_page(error.code or 500, error.description if (error.code or 500) < 500 else None)


def is_web_path(path: str) -> bool:
    """Whether `path` is one of the web app's pages (not the API's)."""
    return path.lstrip("/").split("/", 1)[0] in WEB_SEGMENTS


def register(app: Flask) -> None:
    """URLs that match no route (a mistyped id, say) under the web app's paths get an HTML page too;
    everything else keeps the API's problem details."""
    from hep.extensions import api

    def not_routed(error: HTTPException):
        if is_web_path(request.path):
            return error_page(error.code, None)
        return api.handle_http_exception(error)

    app.register_error_handler(404, not_routed)
    app.register_error_handler(405, not_routed)
