"""Domain errors and the one JSON error shape (RFC 9457 problem details) for every error."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from flask import Response, json

PROBLEM_CONTENT_TYPE = "application/problem+json"


class DomainError(Exception):
    """An error a service raises; the web layer turns it into problem details."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, invalid_params: list[dict] | None = None, headers=None):
        super().__init__(detail)
        self.detail = detail
        self.invalid_params = invalid_params
        self.headers = headers or {}


class NotFound(DomainError):
    status, code, title = 404, "not-found", "Not found"


class Unauthorized(DomainError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str = "A valid bearer token is required."):
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="hep"'})


class Forbidden(DomainError):
    status, code, title = 403, "forbidden", "Not allowed"


class Conflict(DomainError):
    status, code, title = 409, "conflict", "Conflict"


class Invalid(DomainError):
    """A value that passed the schema but breaks a business rule; names the field."""

    status, code, title = 422, "validation-error", "Validation failed"

    def __init__(self, field: str, reason: str, location: str = "json"):
        super().__init__(
            f"{field}: {reason}",
            invalid_params=[{"name": field, "location": location, "reason": reason}],
        )


def problem(
    status: int,
    *,
    code: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    invalid_params: list[dict] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Build a problem-details response."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": f"urn:hep:problem:{code}" if code else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if invalid_params:
        body["invalid_params"] = invalid_params
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten_messages(messages: Mapping, location: str | None = None, prefix: str = "") -> list[dict]:
    """Flatten webargs/marshmallow error messages into [{name, location, reason}]."""
    params: list[dict] = []
    for key, value in messages.items():
        if location is None:
            # The top level of webargs messages is keyed by location (json, query, ...).
            params.extend(flatten_messages(value, str(key), ""))
            continue
        name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
        if isinstance(value, Mapping):
            params.extend(flatten_messages(value, location, name))
        else:
            reasons = value if isinstance(value, list) else [value]
            for reason in reasons:
                if isinstance(reason, Mapping):
                    params.extend(flatten_messages(reason, location, name))
                else:
                    params.append({"name": name or "(body)", "location": location, "reason": str(reason)})
    return params


def domain_error_response(error: DomainError) -> Response:
    """Render a DomainError."""
    return problem(
        error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        invalid_params=error.invalid_params,
        headers=error.headers,
    )
