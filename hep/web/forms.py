"""Form helpers: turning posted fields into what the API's schemas load, and their errors into
messages next to the fields."""

from __future__ import annotations

from collections import defaultdict

import marshmallow as ma
from werkzeug.datastructures import MultiDict

from hep.errors import DomainError, flatten_messages


def errors_from(exc: ma.ValidationError | DomainError) -> dict[str, list[str]]:
    """{dotted field name: [reasons]} from a schema's or a service's error."""
    if isinstance(exc, ma.ValidationError):
        params = flatten_messages(exc.normalized_messages(), "form")
    else:
        params = exc.invalid_params or [{"name": "(form)", "reason": exc.detail}]
    found: dict[str, list[str]] = defaultdict(list)
    for param in params:
        found[param["name"]].append(param["reason"])
    return dict(found)


def text(form: MultiDict, name: str) -> str | None:
    """A posted text field, stripped; None when left empty."""
    value = (form.get(name) or "").strip()
    return value or None


def lines(form: MultiDict, name: str) -> list[str]:
    """A textarea with one entry per line."""
    return [line.strip() for line in (form.get(name) or "").splitlines() if line.strip()]
