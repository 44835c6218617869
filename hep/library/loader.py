"""Load exercises/*.yaml into the database: validate everything, then upsert by slug at once."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import marshmallow as ma
import yaml
from sqlalchemy import select

from hep.errors import flatten_messages
from hep.extensions import db
from hep.figures.draw import FigureError, check
from hep.library.models import Exercise
from hep.library.schemas import ExerciseInSchema
from hep.library.service import apply_content


class LibraryError(Exception):
    """A library file is wrong; the message names the file, the field and the problem."""

    def __init__(self, filename: str, field_name: str, problem: str):
        super().__init__(f"{filename}: {field_name}: {problem}")
        self.filename, self.field, self.problem = filename, field_name, problem


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {k: len(getattr(self, k)) for k in ("created", "updated", "unchanged", "archived", "restored")}


def read_library(directory: Path) -> dict[str, dict]:
    """Parse and validate every exercise file; return {slug: data} or raise LibraryError."""
    schema = ExerciseInSchema()
    entries: dict[str, dict] = {}
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise LibraryError(path.name, "(file)", f"is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise LibraryError(path.name, "(file)", "must be a mapping of fields")
        try:
            data = schema.load(raw)
        except ma.ValidationError as exc:
            first = flatten_messages(exc.normalized_messages(), "file")[0]
            raise LibraryError(path.name, first["name"], first["reason"]) from exc
        if data["slug"] != path.stem:
            raise LibraryError(path.name, "slug", f"is {data['slug']!r} but must equal the file name {path.stem!r}")
        if data["slug"] in entries:
            raise LibraryError(path.name, "slug", "is used by another file")
        entries[data["slug"]] = data
    _check_links(entries)
    return entries


def _check_links(entries: dict[str, dict]) -> None:
    for slug, data in entries.items():
        for kind, reverse in (("progressions", "regressions"), ("regressions", "progressions")):
            for target in data[kind]:
                if target not in entries:
                    raise LibraryError(f"{slug}.yaml", kind, f"links to {target!r}, which is not in the library")
                if slug not in entries[target][reverse]:
                    raise LibraryError(
                        f"{slug}.yaml",
                        kind,
                        f"links to {target!r}, but {target}.yaml does not list {slug!r} in {reverse}",
                    )


def read_figures(directory: Path, entries: dict[str, dict]) -> dict[str, dict]:
    """Check every figures/<slug>.yaml against its exercise; return {slug: figure} or raise LibraryError.

    Every exercise needs a figure, except the slugs listed in figures/PENDING (a list to shrink to
    nothing); a figure without an exercise, or a pending slug that has one, is an error too.
    """
    folder = directory / "figures"
    if not folder.is_dir():
        return {}
    pending_file = folder / "PENDING"
    pending = set()
    if pending_file.exists():
        lines = pending_file.read_text(encoding="utf-8").splitlines()
        pending = {line.split("#")[0].strip() for line in lines} - {""}
    figures: dict[str, dict] = {}
    for path in sorted(folder.glob("*.yaml")):
        name, slug = f"figures/{path.name}", path.stem
        if slug not in entries:
            raise LibraryError(name, "(file)", f"draws {slug!r}, which is not in the library")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise LibraryError(name, "(file)", f"is not valid YAML: {exc}") from exc
        try:
            check(raw, equipment=set(entries[slug]["equipment"]))
        except FigureError as exc:
            raise LibraryError(name, exc.where or "(file)", exc.problem) from exc
        if slug in pending:
            raise LibraryError("figures/PENDING", slug, "has a figure now: take it off the list")
        figures[slug] = raw
    for slug in sorted(pending - set(entries)):
        raise LibraryError("figures/PENDING", slug, "is not in the library")
    for slug in sorted(set(entries) - set(figures) - pending):
        raise LibraryError(f"figures/{slug}.yaml", "(file)", "is missing: every exercise needs a figure")
    return figures


def content_hash(data: dict) -> str:
    """A stable fingerprint of an exercise's content."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def upsert_by_key(existing: dict, entries: dict[str, dict], *, now: datetime, new, fill) -> LoadReport:
    """Bring shipped rows in line with their files, by stable key: create, update or restore what
    is there, leave what is unchanged, archive what was removed. The caller commits."""
    report = LoadReport()
    for key, data in entries.items():
        digest = content_hash(data)
        row = existing.get(key)
        if row is None:
            row = new(key)
            db.session.add(row)
            report.created.append(key)
        elif row.archived_at is not None:
            row.archived_at = None
            report.restored.append(key)
        elif row.content_hash == digest:
            report.unchanged.append(key)
            continue
        else:
            report.updated.append(key)
        fill(row, data)
        row.content_hash = digest
    for key, row in existing.items():
        if key not in entries and row.archived_at is None:
            row.archived_at = now
            report.archived.append(key)
    return report


def load_library(directory: Path, *, now: datetime) -> tuple[LoadReport, LoadReport]:
    """Validate every exercise and template file, then upsert them and archive what was removed.

    All in one transaction: a bad file changes nothing. Returns (exercises, templates) reports.
    """
    from hep.programs.templates import read_templates, upsert_templates

    entries = read_library(directory)
    figures = read_figures(directory, entries)
    for slug, data in entries.items():
        data["figure"] = figures.get(slug)
    templates_dir = directory / "templates"
    templates = read_templates(templates_dir, set(entries)) if templates_dir.is_dir() else {}
    existing = {e.slug: e for e in db.session.scalars(select(Exercise).where(Exercise.clinic_id.is_(None)))}
    try:
        report = upsert_by_key(
            existing,
            entries,
            now=now,
            new=lambda slug: Exercise(slug=slug, clinic_id=None, created_at=now),
            fill=lambda row, data: apply_content(row, data, now=now),
        )
        template_report = upsert_templates(templates, now=now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report, template_report
