"""SVG responses for figures: a strong ETag, and long private caching when the URL names the version."""

from __future__ import annotations

import hashlib

from flask import Response, request

YEAR = 365 * 24 * 3600


def svg_response(svg: str, version: str, requested: str | None) -> Response:
    """Answer with the drawing; 304 when the client's If-None-Match already has it."""
    body = svg.encode()
    response = Response(body, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    if requested == version:  # the URL changes when the drawing does: safe to keep for a year
        response.headers["Cache-Control"] = f"private, max-age={YEAR}, immutable"
    else:
        response.headers["Cache-Control"] = "private, max-age=3600"
    # The picture's only style is its reduced-motion rule; it runs no script and loads nothing.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)
