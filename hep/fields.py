"""Input types shared by every API: database-safe ids and e-mail addresses."""

from __future__ import annotations

import marshmallow as ma
from werkzeug.routing import IntegerConverter

# Ids are 32-bit on every backend: a larger number can name no row, and PostgreSQL would reject it.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """URL converter `<id:name>`: a positive 32-bit integer; anything else does not match (404)."""

    def __init__(self, map, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)


def Id(**kwargs) -> ma.fields.Integer:
    """A positive 32-bit id in a request."""
    return ma.fields.Integer(validate=ma.validate.Range(1, MAX_ID), **kwargs)


def Email(**kwargs) -> ma.fields.Email:
    """An e-mail address that fits the column (RFC 5321 caps it at 254 characters)."""
    return ma.fields.Email(validate=ma.validate.Length(max=254), **kwargs)


def Choice(choices, **kwargs) -> ma.fields.String:
    """A string from a fixed set (the code's own constants): checked on input, an enum in the OpenAPI document."""
    return ma.fields.String(validate=ma.validate.OneOf([str(choice) for choice in choices]), **kwargs)
