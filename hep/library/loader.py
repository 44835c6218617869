"""Read exercises/*.yaml and upsert the library by slug (hep/content.py loads it with the templates, at once).

exercises/safety/*.yaml holds the safety blocks (hep/library/safety.py); an exercise file must list
every block its tags need. A file's `aliases` are slugs of exercises merged into it: a library row
still carrying such a slug is folded into the survivor (whatever referred to it is re-pointed) and
the slug keeps resolving through exercise_aliases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import marshmallow as ma
import yaml
from sqlalchemy import select, update

from hep.errors import flatten_messages
from hep.extensions import db
from hep.figures.draw import FigureError, check
from hep.library import safety
from hep.library.models import Exercise, ExerciseAlias, SafetyBlock
from hep.library.schemas import LibraryExerciseSchema, SafetyBlockInSchema
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
    merged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        kinds = ("created", "updated", "unchanged", "archived", "restored", "merged")
        return {k: len(getattr(self, k)) for k in kinds}


def _load_file(path: Path, schema: ma.Schema, name: str | None = None) -> dict:
    name = name or path.name
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LibraryError(name, "(file)", f"is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise LibraryError(name, "(file)", "must be a mapping of fields")
    try:
        return schema.load(raw)
    except ma.ValidationError as exc:
        first = flatten_messages(exc.normalized_messages(), "file")[0]
        raise LibraryError(name, first["name"], first["reason"]) from exc


def read_safety(directory: Path) -> dict[str, dict]:
    """Parse and validate exercises/safety/*.yaml; return {key: block} (empty when there is no folder)."""
    schema, blocks = SafetyBlockInSchema(), {}
    folder = directory / "safety"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        data = _load_file(path, schema, f"safety/{path.name}")
        if data["key"] != path.stem:
            raise LibraryError(f"safety/{path.name}", "key", f"is {data['key']!r} but must equal the file name")
        blocks[data["key"]] = data
    return blocks


def read_library(directory: Path) -> dict[str, dict]:
    """Parse and validate every exercise file; return {slug: data} or raise LibraryError.

    Each entry's `safety` comes back complete: the blocks it lists plus the ones for every exercise.
    """
    schema, blocks = LibraryExerciseSchema(), read_safety(directory)
    entries: dict[str, dict] = {}
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    for path in files:
        data = _load_file(path, schema)
        if data["slug"] != path.stem:
            raise LibraryError(path.name, "slug", f"is {data['slug']!r} but must equal the file name {path.stem!r}")
        if data["slug"] in entries:
            raise LibraryError(path.name, "slug", "is used by another file")
        _check_safety(path.name, data, blocks)
        data["safety"] = safety.attached(blocks, data)
        entries[data["slug"]] = data
    _check_links(entries)
    _check_aliases(entries)
    return entries


def _check_safety(filename: str, data: dict, blocks: dict[str, dict]) -> None:
    for i, key in enumerate(data["safety"]):
        if key not in blocks:
            raise LibraryError(filename, f"safety.{i}", f"names {key!r}, which is not in exercises/safety/")
    missing = safety.missing(blocks, data)
    if missing:
        key = missing[0]
        raise LibraryError(
            filename, "safety", f"must list {key!r}: {safety.why(blocks[key], data)} needs that safety block"
        )


def _check_aliases(entries: dict[str, dict]) -> None:
    owner: dict[str, str] = {}
    for slug, data in entries.items():
        for i, alias in enumerate(data["aliases"]):
            if alias in entries:
                raise LibraryError(f"{slug}.yaml", f"aliases.{i}", f"{alias!r} is still an exercise file")
            if alias in owner:
                raise LibraryError(f"{slug}.yaml", f"aliases.{i}", f"{alias!r} is already kept by {owner[alias]}.yaml")
            owner[alias] = slug


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


@dataclass
class ShippedLibrary:
    """The validated exercise files: safety blocks, exercises (each with its figure) and merged slugs."""

    blocks: dict[str, dict]
    entries: dict[str, dict]
    aliases: dict[str, str]  # merged slug -> the surviving exercise's slug


def read_shipped(directory: Path) -> ShippedLibrary:
    """Validate every safety, exercise and figure file, or raise LibraryError; changes nothing."""
    blocks = read_safety(directory)
    entries = read_library(directory)
    aliases = {alias: slug for slug, data in entries.items() for alias in data["aliases"]}
    figures = read_figures(directory, entries)
    for slug, data in entries.items():
        data["figure"] = figures.get(slug)
    return ShippedLibrary(blocks, entries, aliases)


def upsert_shipped(library: ShippedLibrary, *, now: datetime) -> LoadReport:
    """Upsert the safety blocks and exercises, fold merged ones, archive removed ones. The caller commits."""
    existing = {e.slug: e for e in db.session.scalars(select(Exercise).where(Exercise.clinic_id.is_(None)))}
    _upsert_safety(library.blocks, now=now)
    report = upsert_by_key(
        {k: v for k, v in existing.items() if k not in library.aliases},
        library.entries,
        now=now,
        new=lambda slug: Exercise(slug=slug, clinic_id=None, created_at=now),
        fill=lambda row, data: apply_content(row, data, now=now),
    )
    db.session.flush()
    report.merged = _sync_aliases(library.aliases, existing, now=now)
    return report


def _upsert_safety(blocks: dict[str, dict], *, now: datetime) -> LoadReport:
    existing = {b.key: b for b in db.session.scalars(select(SafetyBlock))}

    def fill(row: SafetyBlock, data: dict) -> None:
        for name in ("title", "priority", "lines", "applies_to", "sources"):
            setattr(row, name, data[name])

    return upsert_by_key(existing, blocks, now=now, new=lambda key: SafetyBlock(key=key, created_at=now), fill=fill)


def _sync_aliases(aliases: dict[str, str], existing: dict[str, Exercise], *, now: datetime) -> list[str]:
    """Point every alias at its surviving exercise; fold retired rows that still carry an alias slug.

    Returns the slugs folded in this load.
    """
    survivors = {
        e.slug: e
        for e in db.session.scalars(
            select(Exercise).where(Exercise.clinic_id.is_(None), Exercise.slug.in_(set(aliases.values())))
        )
    }
    folded = []
    for alias, slug in sorted(aliases.items()):
        retired = existing.get(alias)
        if retired is not None:
            fold(retired, survivors[slug])
            folded.append(alias)
    rows = {a.slug: a for a in db.session.scalars(select(ExerciseAlias))}
    for alias, slug in aliases.items():
        row = rows.pop(alias, None)
        if row is None:
            db.session.add(ExerciseAlias(slug=alias, exercise_id=survivors[slug].id, created_at=now))
        elif row.exercise_id != survivors[slug].id:
            row.exercise_id = survivors[slug].id
    for row in rows.values():
        db.session.delete(row)
    return folded


def fold(retired: Exercise, survivor: Exercise) -> None:
    """Merge a retired exercise into its survivor: every row that refers to it (prescriptions, logs)
    now refers to the survivor, and the retired row and its own details (tags) are deleted.

    Which rows refer to an exercise comes from the schema: foreign keys to exercises.id without
    ON DELETE CASCADE are references to re-point; cascading ones are the exercise's own details.
    """
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "exercises" and fk.ondelete != "CASCADE":
                db.session.execute(update(table).where(fk.parent == retired.id).values({fk.parent.name: survivor.id}))
    db.session.delete(retired)
    db.session.flush()
