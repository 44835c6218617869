"""Load all shipped content (exercises/: safety blocks, exercises, figures, protocol templates) at once.

It sits above the library and the programs, which each read and upsert their own files; this is
the one place that puts them in a single transaction (`flask load-exercises`, tests, benchmarks).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hep.extensions import db
from hep.library.loader import LoadReport, read_shipped, upsert_shipped
from hep.programs.templates import read_templates, upsert_templates


def load_shipped(directory: Path, *, now: datetime) -> tuple[LoadReport, LoadReport]:
    """Validate every exercise, safety and template file, then upsert them and archive what was removed.

    All in one transaction: a bad file changes nothing. Returns (exercises, templates) reports.
    """
    library = read_shipped(directory)
    templates_dir = directory / "templates"
    templates = read_templates(templates_dir, set(library.entries), library.aliases) if templates_dir.is_dir() else {}
    try:
        report = upsert_shipped(library, now=now)
        template_report = upsert_templates(templates, now=now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report, template_report
