"""Cursor (keyset) pagination: stable under inserts, cheap at any depth."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from sqlalchemy import Select, bindparam, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from hep.errors import Invalid
from hep.extensions import db
from hep.fields import MAX_ID
from hep.inputs import text_problem

MAX_CURSOR = 1000  # far longer than any cursor this API returns (a name of 200 characters and an id)


class PageArgsSchema(ma.Schema):
    cursor = ma.fields.String(
        validate=ma.validate.Length(max=MAX_CURSOR), metadata={"description": "next_cursor from the previous page"}
    )
    limit = ma.fields.Integer(
        validate=ma.validate.Range(1, 100),
        metadata={"description": "Page size (default 25, at most 100)"},
    )


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """A response schema {items: [...], next_cursor} for one kind of item."""
    return type(
        name,
        (ma.Schema,),
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "next_cursor": ma.fields.String(
                allow_none=True, required=True, metadata={"description": "null on the last page"}
            ),
        },
    )


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    """Decode a cursor, or raise Invalid naming the cursor parameter."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid("cursor", "is not a cursor this API returned", location="query") from exc
    if not isinstance(values, list) or len(values) != width:
        raise Invalid("cursor", "is not a cursor this API returned", location="query")
    return values


def paginate(
    query: Select,
    order: Sequence[InstrumentedAttribute],
    *,
    cursor: str | None,
    limit: int | None,
    descending: bool = False,
    cursor_values: Callable[[Any], Sequence[Any]] | None = None,
    rows: bool = False,
) -> tuple[list, str | None]:
    """Run one page of `query` ordered by `order` (last column unique); return (rows, next cursor).

    cursor_values(row) gives the order values of a row when they are not its attributes; with
    `rows`, the page is the query's rows of columns rather than its first column's values.
    """
    size = limit or current_app.config["PAGE_SIZE_DEFAULT"]
    key = tuple_(*order)
    if cursor:
        after = tuple_(
            *[bindparam(None, v, type_=c.type) for v, c in zip(cursor_after(cursor, order), order, strict=True)]
        )
        query = query.where(key < after if descending else key > after)
    query = query.order_by(*[c.desc() if descending else c.asc() for c in order]).limit(size + 1)
    found = list(db.session.execute(query) if rows else db.session.scalars(query))
    if len(found) <= size:
        return found, None
    found = found[:size]
    last = found[-1]
    values = cursor_values(last) if cursor_values else [getattr(last, c.key) for c in order]
    return found, encode_cursor([_plain(v) for v in values])


def cursor_after(cursor: str, order: Sequence[InstrumentedAttribute]) -> list[Any]:
    """The order values a cursor holds, each checked against its column's type; or raise Invalid."""
    params = []
    for value, column in zip(decode_cursor(cursor, len(order)), order, strict=True):
        python_type = _python_type(column)
        try:
            if python_type is datetime:
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError("naive")
                value.astimezone(UTC)  # OverflowError near year 1 or 9999: no column can hold it
            elif python_type is uuid.UUID:
                value = uuid.UUID(value)
            elif python_type is int:
                # A cursor's numbers reach SQL as they are: only what a 32-bit column can hold (never a bool).
                if isinstance(value, bool) or not isinstance(value, int) or not -MAX_ID - 1 <= value <= MAX_ID:
                    raise ValueError("out of range")
            elif python_type is str and (not isinstance(value, str) or text_problem(value)):
                raise ValueError("not storable text")
        except (TypeError, ValueError, OverflowError) as exc:
            raise Invalid("cursor", "is not a cursor this API returned", location="query") from exc
        params.append(value)
    return params


def _python_type(column: InstrumentedAttribute) -> type | None:
    try:
        return column.type.python_type
    except NotImplementedError:
        return datetime if "DateTime" in type(column.type).__name__ else None


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value
