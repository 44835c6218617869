"""Message catalogues shared by the server and the patient app: hep/i18n/<language>.json.

Each catalogue is one flat JSON object, key -> text, with `{name}` placeholders (Python's str.format
syntax, the same as the text-message templates in hep/reminders/messages.py). The patient app loads the
same files from /app/i18n/<language>.json; the server reads them here (push notification texts).
English is complete; a key missing from another language falls back to English.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
LANGUAGES = ("en", "fr", "es")
DEFAULT = "en"


@cache
def catalogue(language: str) -> dict[str, str]:
    """The catalogue of one of LANGUAGES."""
    if language not in LANGUAGES:
        raise KeyError(f"no catalogue for {language!r}")
    return json.loads((DIRECTORY / f"{language}.json").read_text(encoding="utf-8"))


def language_for(tag: str | None) -> str:
    """The catalogue language for a patient's language tag: fr-CA -> fr; anything unknown -> en."""
    primary = (tag or "").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else DEFAULT


def translate(language: str | None, key: str, **params: str) -> str:
    """The text for `key` in the patient's language (English when missing), with placeholders filled."""
    text = catalogue(language_for(language)).get(key) or catalogue(DEFAULT)[key]
    return text.format(**params)
