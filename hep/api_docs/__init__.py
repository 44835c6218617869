"""The interactive API documentation (/api/docs): Swagger UI served by HEP itself, so it works offline.

The Swagger UI files come from the `flask-swagger-ui` package (pinned in requirements.txt), which ships
swagger-ui-dist unchanged (Apache-2.0, its LICENSE beside the files) and follows each Swagger UI
release; upgrading that pin upgrades Swagger UI. `HEP_SWAGGER_UI_URL` loads them from a CDN instead.
The page runs no inline script, so its Content-Security-Policy allows scripts from this origin (or
that CDN) only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import flask_swagger_ui
from flask import Blueprint, Flask, abort, current_app, render_template, send_from_directory, url_for

DIST = Path(flask_swagger_ui.__file__).parent / "dist"
VERSION = (DIST / "VERSION").read_text().strip().lstrip("v")
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "LICENSE", "VERSION"})
ASSET_MAX_AGE = 7 * 24 * 3600  # asset URLs carry the version, so a new Swagger UI is a new URL

bp = Blueprint("api_docs", __name__, url_prefix="/api/docs", template_folder="templates", static_folder="static")


@bp.route("/assets/<name>")
def asset(name: str):
    """One of the Swagger UI files this page uses."""
    if name not in ASSETS:
        abort(404)
    return send_from_directory(DIST, name, max_age=ASSET_MAX_AGE)


def swagger_ui_page(title: str, spec_url: str, config: dict):
    """The Swagger UI page for the document at `spec_url`, with its own Content-Security-Policy."""
    cdn = current_app.config.get("OPENAPI_SWAGGER_UI_URL") or ""
    if cdn:
        base = cdn if cdn.endswith("/") else cdn + "/"
        css, bundle = base + "swagger-ui.css", base + "swagger-ui-bundle.js"
    else:
        css = url_for("api_docs.asset", name="swagger-ui.css", v=VERSION)
        bundle = url_for("api_docs.asset", name="swagger-ui-bundle.js", v=VERSION)
    html = render_template(
        "api_docs/swagger_ui.html",
        title=title,
        spec_url=spec_url,
        config={"validatorUrl": None, "displayOperationId": True, **config},
        css=css,
        bundle=bundle,
    )
    origin = _origin(cdn)
    csp = (
        f"default-src 'none'; script-src 'self'{origin}; style-src 'self'{origin}; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return html, 200, {"Content-Security-Policy": csp, "Referrer-Policy": "same-origin"}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def init_app(app: Flask) -> None:
    """Serve Swagger UI's files and the page's script at /api/docs/."""
    app.register_blueprint(bp)
