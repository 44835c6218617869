"""What every request input must be before a view sees it, checked in one place.

Strings from a JSON body, the query, the path, a form or a header may not hold U+0000 (NUL) or a lone
UTF-16 surrogate: PostgreSQL refuses the first, UTF-8 cannot encode the second, and either would
otherwise fail deep inside a write. JSON bodies are decoded strictly: valid UTF-8, no duplicate keys
(parsers disagree on which one wins), no NaN or Infinity, at most MAX_DEPTH levels deep. Each problem
is a 4xx problem-details answer that names the field; nothing has been read or written by then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request

from hep.errors import DomainError

MAX_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
BODY = "(body)"


class BadRequest(DomainError):
    status, code, title = 400, "bad-request", "Bad request"

    def __init__(self, detail: str, reason: str | None = None, name: str = BODY, location: str = "json"):
        super().__init__(detail, invalid_params=[{"name": name, "location": location, "reason": reason or detail}])


class UnsupportedMediaType(DomainError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


class BadText(DomainError):
    """A string input holding a character no HEP field may hold."""

    status, code, title = 422, "validation-error", "Validation failed"

    def __init__(self, name: str, location: str, reason: str):
        param = {"name": name, "location": location, "reason": reason}
        super().__init__(f"Invalid input: {name}.", invalid_params=[param])


def text_problem(value: str) -> str | None:
    """Why a string may not be stored, or None when it may."""
    if "\x00" in value:
        return "must not contain the NUL character (U+0000)"
    if _SURROGATE.search(value):
        return "must not contain a lone UTF-16 surrogate (\\ud800-\\udfff)"
    return None


def check_tree(value: Any, location: str, prefix: str = "") -> None:
    """Check every key and string in a decoded JSON value (iteratively: depth cannot exhaust the stack)."""
    stack: list[tuple[str, Any, int]] = [(prefix, value, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(
                f"The request body is nested more than {MAX_DEPTH} levels deep.",
                "is nested too deeply",
                name=path or BODY,
                location=location,
            )
        if isinstance(node, str):
            reason = text_problem(node)
            if reason:
                raise BadText(path or BODY, location, reason)
        elif isinstance(node, dict):
            for key, child in node.items():
                name = f"{path}.{key}" if path else str(key)
                reason = text_problem(key)
                if reason:
                    raise BadText(path or BODY, location, f"has a key that {reason}")
                stack.append((name, child, depth + 1))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}" if path else str(i), child, depth + 1) for i, child in enumerate(node))


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(duplicate)
    return result


def _constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes, *, location: str = "json") -> Any:
    """Decode a JSON document strictly, or raise a 400 problem saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The request body is not valid UTF-8 (byte {exc.start}).", location=location) from None
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except RecursionError:
        raise BadRequest(
            f"The request body is nested more than {MAX_DEPTH} levels deep.", "is nested too deeply", location=location
        ) from None
    except _DuplicateKey as exc:
        raise BadRequest(
            f"The request body has the key {exc.args[0]!r} twice in one object.",
            "has a duplicate key",
            location=location,
        ) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            "is not valid JSON",
            location=location,
        ) from None
    except ValueError as exc:  # NaN or Infinity
        detail = f"The request body is not valid JSON: {exc}."
        raise BadRequest(detail, "is not valid JSON", location=location) from None
    check_tree(value, location)
    return value


def _check_pairs(pairs: Iterable[tuple[str, str]], location: str) -> None:
    for name, value in pairs:
        for text in (name, value):
            reason = text_problem(text)
            if reason:
                raise BadText(name if text is value else "(name)", location, reason)


def check_request() -> None:
    """before_request: the path, query, form and headers hold no character a field may not hold."""
    _check_pairs(((k, str(v)) for k, v in (request.view_args or {}).items()), "path")
    _check_pairs([("(path)", request.path)], "path")
    _check_pairs(request.args.items(multi=True), "query")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_pairs(request.form.items(multi=True), "form")
    _check_pairs(request.headers.items(), "header")


def init_app(app: Flask) -> None:
    """Check every request's inputs before any view (API, web app, webhooks, calendar feed) runs."""
    app.before_request(check_request)
