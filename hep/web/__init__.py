"""The clinician web app: server-rendered pages for clinic staff, signed in with a session cookie.

Views here do what the API's views do: they call the same service functions with the signed-in
user and `now`, so the roles and the object-level rules (another clinic's object is a 404) are the
same. The pages live at the site root (/login, /patients, ...); the JSON API stays under /api.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web-static",
)

# First path segments that belong to the web app (an unknown URL under them gets an HTML 404 page).
WEB_SEGMENTS = frozenset({"", "login", "logout", "patients", "routines", "sessions", "library", "web-static"})


def init_app(app: Flask) -> None:
    """Register the web app's pages, filters and error pages on `app`."""
    # Importing the view modules adds their routes to `bp` (once per process).
    from hep.web import (  # noqa: F401
        auth,
        builder,
        errors,
        format,
        handout,
        library,
        patients,
        sessions,
    )

    app.register_blueprint(bp)
    format.register(app)
    errors.register(app)
