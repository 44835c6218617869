"""The patient app: an installable, offline-first web app (PWA) served at /app/.

This blueprint only serves files: the HTML shell, ES modules, CSS, icons, the web app manifest, the
message catalogues (hep/i18n, shared with the server) and the service worker. The app itself talks
to the public JSON API under /api/v1 with bearer tokens, like any other client; nothing here reads
the database. There is no build step: what is in static/ is what the browser runs.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, send_from_directory

from hep.i18n import DIRECTORY as I18N_DIRECTORY
from hep.i18n import LANGUAGES

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SERVICE_WORKER = HERE / "sw.js"  # a template: the version and file list are filled in when served
bp = Blueprint("patient_app", __name__, url_prefix="/app", static_folder="static", static_url_path="/static")

# The app's screens: each of these paths answers with the same shell, which routes in the browser.
SCREENS = frozenset({"activate", "sign-in", "today", "log", "progress", "settings"})

# No inline script or style anywhere, nothing from another origin; figures arrive as blob: URLs made from
# authenticated fetches. The service worker and the manifest come from this origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; worker-src 'self'; manifest-src 'self'; media-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


CACHED_SUFFIXES = frozenset({".js", ".css", ".svg", ".png"})  # not the vendored licence and notes


def _app_files() -> list[Path]:
    return sorted(p for p in STATIC.rglob("*") if p.is_file() and p.name != "index.html")


@cache
def precache() -> tuple[str, list[str]]:
    """The service worker's version (a hash of every file it caches) and the URLs it caches on install."""
    digest = hashlib.sha256()
    urls = ["/app/", "/app/manifest.webmanifest", *(f"/app/i18n/{lang}.json" for lang in LANGUAGES)]
    for path in [SERVICE_WORKER, STATIC / "index.html", *_app_files()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for lang in LANGUAGES:
        digest.update((I18N_DIRECTORY / f"{lang}.json").read_bytes())
    urls += [f"/app/static/{p.relative_to(STATIC).as_posix()}" for p in _app_files() if p.suffix in CACHED_SUFFIXES]
    return digest.hexdigest()[:16], urls


def _shell() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/")
def shell():
    """The app shell (every screen starts here)."""
    return _shell()


@bp.get("/<screen>")
def screen(screen: str):
    """A screen's own address (e.g. /app/activate?code=... from the invitation): the same shell."""
    if screen not in SCREENS:
        abort(404)
    return _shell()


@bp.get("/exercise/<int:item_id>")
def exercise(item_id: int):
    """One prescribed exercise, with its guided mode: the same shell."""
    return _shell()


@bp.get("/sw.js")
def service_worker():
    """The service worker, with this release's version and file list filled in."""
    version, urls = precache()
    source = SERVICE_WORKER.read_text(encoding="utf-8")
    body = source.replace("__VERSION__", version).replace('"__PRECACHE__"', ", ".join(f'"{u}"' for u in urls))
    response = Response(body, content_type="text/javascript; charset=utf-8")
    # The browser checks for a new worker on every visit; never let a cache hide a release.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    """The web app manifest (name, icons, start URL, colours) that makes the app installable."""
    response = send_from_directory(STATIC, "manifest.webmanifest", max_age=0)
    response.headers["Content-Type"] = "application/manifest+json"
    return response


@bp.get("/i18n/<language>.json")
def catalogue(language: str):
    """A message catalogue, the same file the server reads (hep/i18n)."""
    if language not in LANGUAGES:
        abort(404)
    return send_from_directory(I18N_DIRECTORY, f"{language}.json", max_age=0)


@bp.after_request
def _headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CSP
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-cache")
    return response


def init_app(app: Flask) -> None:
    """Serve the patient app at /app/."""
    app.register_blueprint(bp)
