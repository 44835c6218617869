"""CSV that is safe to open in a spreadsheet: every CSV HEP writes goes through `writer`.

A cell that begins with = + - @, a tab or a carriage return is read as a formula by Excel, LibreOffice
and Google Sheets, so a patient's note "=HYPERLINK(...)" would run when staff open the export. As
OWASP's CSV injection guidance recommends, such text cells get a leading apostrophe (shown as text,
not evaluated); quotes inside cells are escaped by the csv module. Numbers are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell value that no spreadsheet will evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose text cells are neutralised."""

    def __init__(self, stream: TextIO):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(value) for value in row])


def writer(stream: TextIO) -> SafeWriter:
    """A CSV writer for exports staff open in spreadsheets."""
    return SafeWriter(stream)
