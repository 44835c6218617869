"""Validation of contact details: e-mail, mobile phone (E.164), time zone and language."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

import phonenumbers

_SMS_CAPABLE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")


def normalise_phone(raw: str, default_region: str | None = None) -> str:
    """Return a mobile number in E.164, or raise ValueError saying why it is not one."""
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("is not a phone number; use international format, e.g. +16045550123") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    if phonenumbers.number_type(number) not in _SMS_CAPABLE:
        raise ValueError("must be a mobile number that can receive text messages")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def looks_like_phone(value: str) -> bool:
    """True when a login name is a phone number rather than an e-mail address."""
    return "@" not in value and bool(re.fullmatch(r"[+\d][\d\s().-]{5,}", value.strip()))


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    """True for an IANA time zone name such as America/Vancouver."""
    return name in _zones()
