"""Protocol templates: the shipped ones (exercises/templates/) and each clinic's own."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import marshmallow as ma
import yaml
from sqlalchemy import or_, select

from hep.accounts.models import User
from hep.errors import Conflict, Forbidden, Invalid, NotFound, flatten_messages
from hep.extensions import db
from hep.library import safety
from hep.library import service as library
from hep.library.loader import LibraryError, LoadReport, content_hash, upsert_by_key
from hep.programs.models import ProgramTemplate
from hep.programs.schemas import TemplateInSchema

CONTENT = ("name", "condition", "summary", "duration_weeks", "phases", "sources")


def _slugs(data: dict) -> set[str]:
    return {item["exercise"] for phase in data["phases"] for item in phase["items"]}


def read_templates(directory: Path, library_slugs: set[str], aliases: dict[str, str] | None = None) -> dict[str, dict]:
    """Parse and validate every template file, or raise LibraryError naming file, field and problem.

    A shipped template names its sources, and its exercises by their current slugs (not merged ones).
    """
    schema, entries, aliases = TemplateInSchema(), {}, aliases or {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = schema.load(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except yaml.YAMLError as exc:
            raise LibraryError(path.name, "(file)", f"is not valid YAML: {exc}") from exc
        except ma.ValidationError as exc:
            first = flatten_messages(exc.normalized_messages(), "file")[0]
            raise LibraryError(path.name, first["name"], first["reason"]) from exc
        if data["key"] != path.stem:
            raise LibraryError(path.name, "key", "must equal the file name")
        if not data["sources"]:
            raise LibraryError(path.name, "sources", "name at least one guideline or trial the template follows")
        merged = sorted(s for s in _slugs(data) if s in aliases)
        if merged:
            raise LibraryError(
                path.name, "phases", ", ".join(f"{s!r} was merged into {aliases[s]!r}; use that" for s in merged)
            )
        unknown = sorted(_slugs(data) - library_slugs)
        if unknown:
            raise LibraryError(path.name, "phases", f"names exercises not in the library: {', '.join(unknown)}")
        entries[data["key"]] = _jsonable(data)
    return entries


def _jsonable(data: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(data))


def upsert_templates(entries: dict[str, dict], *, now: datetime) -> LoadReport:
    """Upsert validated shipped templates by key; archive the ones whose file is gone. Caller commits."""
    existing = {
        t.key: t for t in db.session.scalars(select(ProgramTemplate).where(ProgramTemplate.clinic_id.is_(None)))
    }
    return upsert_by_key(
        existing,
        entries,
        now=now,
        new=lambda key: ProgramTemplate(key=key, clinic_id=None, created_at=now),
        fill=_fill,
    )


def _fill(row: ProgramTemplate, data: dict) -> None:
    for name in CONTENT:
        setattr(row, name, data[name])


def _visible(clinic_id: int):
    return or_(ProgramTemplate.clinic_id.is_(None), ProgramTemplate.clinic_id == clinic_id)


def list_templates(actor: User, condition: str | None = None) -> list[ProgramTemplate]:
    """Templates the caller's clinic can use, by name."""
    query = select(ProgramTemplate).where(_visible(actor.clinic_id), ProgramTemplate.archived_at.is_(None))
    if condition:
        query = query.where(ProgramTemplate.condition == condition)
    return list(db.session.scalars(query.order_by(ProgramTemplate.name, ProgramTemplate.id)))


def get_template(actor: User, key: str) -> ProgramTemplate:
    """A template visible to the caller's clinic (its own first), or NotFound."""
    row = db.session.scalar(
        select(ProgramTemplate)
        .where(ProgramTemplate.key == key, _visible(actor.clinic_id))
        .order_by(ProgramTemplate.clinic_id.is_(None))
    )
    if row is None:
        raise NotFound(f"No template {key!r}.")
    return row


def create_template(actor: User, data: dict, *, now: datetime) -> ProgramTemplate:
    """Save a clinic's own template. Its key must be new to the clinic (so a retry is a 409)."""
    if not actor.is_staff:
        raise Forbidden("Only staff may create templates.")
    if db.session.scalar(
        select(ProgramTemplate.id).where(ProgramTemplate.key == data["key"], _visible(actor.clinic_id))
    ):
        raise Conflict(
            f"A template with key {data['key']!r} already exists.",
            invalid_params=[{"name": "key", "location": "json", "reason": "is already in use"}],
        )
    visible = set(library.by_slugs(actor.clinic_id, _slugs(data), include_archived=True))
    unknown = sorted(_slugs(data) - visible)
    if unknown:
        raise Invalid("phases", f"names unknown exercises: {', '.join(unknown)}")
    data = _jsonable(data)
    row = ProgramTemplate(
        key=data["key"],
        clinic_id=actor.clinic_id,
        created_at=now,
        content_hash=content_hash(data),
        **{k: data[k] for k in CONTENT},
    )
    db.session.add(row)
    db.session.commit()
    return row


def template_view(actor: User, template: ProgramTemplate) -> dict:
    """A template as staff read it: its content and sources, the safety blocks of its condition and
    exercises, and the clinic's pain rule."""
    blocks = safety.live_blocks()
    exercises = library.by_slugs(actor.clinic_id, _slugs({"phases": template.phases}), include_archived=True)
    keys = [
        *safety.for_condition(template.condition, blocks),
        *(k for k, block in blocks.items() if safety.universal(block)),
        *(k for exercise in exercises.values() for k in exercise.safety or []),
    ]
    return {
        "key": template.key,
        "owner": template.owner,
        **{name: getattr(template, name) for name in CONTENT},
        "safety": safety.shown(keys, blocks),
        "pain_rule": safety.clinic_pain_rule(actor.clinic),
    }


def draft(template: ProgramTemplate, start_date: date) -> dict:
    """A routine body (as POST /patients/{id}/routines takes) laid out from a template's weeks."""
    return {
        "title": template.name,
        "start_date": start_date,
        "end_date": start_date + timedelta(weeks=template.duration_weeks, days=-1),
        "notes": None,
        "template": template.key,
        "phases": [
            {
                "name": phase["name"],
                "start_date": start_date + timedelta(weeks=phase["start_week"] - 1),
                "items": phase["items"],
            }
            for phase in template.phases
        ],
    }
