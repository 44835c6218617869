"""The exercise library: search, fetch, and a clinic's own exercises."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Select, bindparam, exists, or_, select, tuple_

from hep.accounts.models import User
from hep.errors import Conflict, Forbidden, Invalid, NotFound
from hep.extensions import db
from hep.figures import draw as figures
from hep.library import safety
from hep.library.models import CONDITION, EQUIPMENT, REGION, Exercise, ExerciseAlias, ExerciseTag, owner_of
from hep.pagination import cursor_after, encode_cursor

CONTENT_FIELDS = (
    "name",
    "summary",
    "category",
    "position",
    "difficulty",
    "steps",
    "cues",
    "common_mistakes",
    "precautions",
    "contraindications",
    "default_dosage",
    "progressions",
    "regressions",
    "media",
    "safety",
    "sources",
)
TAG_FIELDS = {"body_regions": REGION, "conditions": CONDITION, "equipment": EQUIPMENT}


def apply_content(exercise: Exercise, data: dict, *, now: datetime) -> None:
    """Copy validated exercise content onto a row, rebuilding its tags and search text."""
    for name in CONTENT_FIELDS:
        if name in data:
            setattr(exercise, name, data[name])
    if "figure" in data:
        exercise.figure = data["figure"]
    if any(name in data for name in TAG_FIELDS):
        current = {kind: exercise.tag_values(kind) for kind in TAG_FIELDS.values()}
        for name, kind in TAG_FIELDS.items():
            if name in data:
                current[kind] = data[name]
        exercise.tags = [
            ExerciseTag(kind=kind, value=value, position=i)
            for kind, values in current.items()
            for i, value in enumerate(values)
        ]
    exercise.search_text = " ".join([exercise.name, exercise.summary, *exercise.steps]).lower()
    exercise.updated_at = now


def visible_to(clinic_id: int):
    """SQL condition: the library plus the clinic's own exercises."""
    return or_(Exercise.clinic_id.is_(None), Exercise.clinic_id == clinic_id)


def _like_any(term: str) -> str:
    """`term` anywhere, its LIKE wildcards taken literally (escaped with '/', as SQLAlchemy's autoescape)."""
    return "%" + term.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def _search_filters(
    clinic_id: int,
    *,
    q: str | None = None,
    region: list[str] | None = None,
    condition: list[str] | None = None,
    category: list[str] | None = None,
    equipment: list[str] | None = None,
    min_difficulty: int | None = None,
    max_difficulty: int | None = None,
    owner: str | None = None,
    include_archived: bool = False,
) -> tuple[_Shape, dict]:
    """The shape of a search (which filters it has, how many words) and the values its statement binds."""
    terms = (q or "").lower().split()
    params: dict = {"clinic_id": clinic_id, **{f"term_{n}": _like_any(t) for n, t in enumerate(terms)}}
    for name, values in (
        ("region", region),
        ("condition", condition),
        ("equipment", equipment),
        ("category", category),
    ):
        if values:
            params[name] = list(values)
    if min_difficulty is not None:
        params["min_difficulty"] = min_difficulty
    if max_difficulty is not None:
        params["max_difficulty"] = max_difficulty
    shape = _Shape(
        len(terms),
        *(name in params for name in ("region", "condition", "equipment", "category")),
        min_difficulty is not None,
        max_difficulty is not None,
        owner if owner in ("library", "clinic") else None,
        include_archived,
    )
    return shape, params


class _Shape(NamedTuple):
    """Which filters a search has (and how many words): one statement is built per shape."""

    terms: int
    region: bool
    condition: bool
    equipment: bool
    category: bool
    has_min: bool
    has_max: bool
    owner: str | None
    include_archived: bool


@lru_cache(maxsize=512)
def _search_statement(shape: _Shape) -> Select:
    """The search for one shape, built once: every value is a bound parameter (see _search_filters)."""
    terms, region, condition, equipment, category, has_min, has_max, owner, include_archived = shape
    clinic = bindparam("clinic_id")
    query = select(Exercise).where(or_(Exercise.clinic_id.is_(None), Exercise.clinic_id == clinic))
    if not include_archived:
        query = query.where(Exercise.archived_at.is_(None))
    for n in range(terms):
        query = query.where(Exercise.search_text.like(bindparam(f"term_{n}"), escape="/"))
    for kind, name, wanted in (
        (REGION, "region", region),
        (CONDITION, "condition", condition),
        (EQUIPMENT, "equipment", equipment),
    ):
        if wanted:
            query = query.where(
                exists().where(
                    ExerciseTag.exercise_id == Exercise.id,
                    ExerciseTag.kind == kind,
                    ExerciseTag.value.in_(bindparam(name, expanding=True)),
                )
            )
    if category:
        query = query.where(Exercise.category.in_(bindparam("category", expanding=True)))
    if has_min:
        query = query.where(Exercise.difficulty >= bindparam("min_difficulty"))
    if has_max:
        query = query.where(Exercise.difficulty <= bindparam("max_difficulty"))
    if owner == "library":
        query = query.where(Exercise.clinic_id.is_(None))
    elif owner == "clinic":
        query = query.where(Exercise.clinic_id == clinic)
    return query


def search_query(clinic_id: int, **filters) -> Select:
    """Select the exercises a clinic can see that match every given filter (q, region, condition,
    category, equipment, min_difficulty, max_difficulty, owner, include_archived)."""
    shape, params = _search_filters(clinic_id, **filters)
    return _search_statement(shape).params(params)


# What a search result shows: the long JSON columns (steps, cues, progressions...) are not even read.
SUMMARY_COLUMNS = (
    Exercise.id,
    Exercise.slug,
    Exercise.clinic_id,
    Exercise.name,
    Exercise.summary,
    Exercise.category,
    Exercise.position,
    Exercise.difficulty,
    Exercise.archived_at,
)
TAG_LISTS = {REGION: "body_regions", CONDITION: "conditions", EQUIPMENT: "equipment"}
PAGE_ORDER = (Exercise.name, Exercise.id)
_TAGS = (
    select(ExerciseTag.exercise_id, ExerciseTag.kind, ExerciseTag.value)
    .where(ExerciseTag.exercise_id.in_(bindparam("ids", expanding=True)))
    .order_by(ExerciseTag.exercise_id, ExerciseTag.position)
)


@lru_cache(maxsize=1024)
def _page_statement(shape: _Shape, after: bool) -> Select:
    """One page of a search shape as summary columns, by name (after a cursor's name and id), built once."""
    query = _search_statement(shape).with_only_columns(*SUMMARY_COLUMNS)
    if after:
        cursor = tuple_(*[bindparam(f"after_{c.key}", type_=c.type) for c in PAGE_ORDER])
        query = query.where(tuple_(*PAGE_ORDER) > cursor)
    return query.order_by(*PAGE_ORDER).limit(bindparam("size"))


def search_page(clinic_id: int, *, cursor: str | None, limit: int | None, **filters) -> tuple[list[dict], str | None]:
    """One page of `search_query`'s exercises, by name, as summaries; and the next page's cursor."""
    # Statements built once per shape, rows of columns and one narrow tag query, not ORM objects:
    # search runs on every keystroke.
    shape, params = _search_filters(clinic_id, **filters)
    size = limit or current_app.config["PAGE_SIZE_DEFAULT"]
    params["size"] = size + 1
    if cursor:
        params.update(zip([f"after_{c.key}" for c in PAGE_ORDER], cursor_after(cursor, PAGE_ORDER), strict=True))
    rows = db.session.execute(_page_statement(shape, bool(cursor)), params).all()
    last = rows[size - 1] if len(rows) > size else None
    next_cursor = encode_cursor([getattr(last, c.key) for c in PAGE_ORDER]) if last else None
    summaries = {
        row.id: {
            "slug": row.slug,
            "name": row.name,
            "summary": row.summary,
            "body_regions": [],
            "conditions": [],
            "category": row.category,
            "equipment": [],
            "position": row.position,
            "difficulty": row.difficulty,
            "owner": owner_of(row.clinic_id),
            "archived": row.archived_at is not None,
        }
        for row in rows[:size]
    }
    if summaries:
        for exercise_id, kind, value in db.session.execute(_TAGS, {"ids": list(summaries)}):
            if kind in TAG_LISTS:
                summaries[exercise_id][TAG_LISTS[kind]].append(value)
    return list(summaries.values()), next_cursor


def find(clinic_id: int, *, limit: int, **filters) -> list[Exercise]:
    """The first `limit` exercises, by name, that a clinic can see and that match `search_query`'s filters."""
    query = search_query(clinic_id, **filters).order_by(Exercise.name, Exercise.id).limit(limit)
    return list(db.session.scalars(query))


def get_exercise(clinic_id: int, slug: str) -> Exercise:
    """Fetch an exercise the clinic can see by slug (its own first, then the library's, then a merged
    library slug's survivor), or NotFound."""
    exercise = db.session.scalar(
        select(Exercise).where(Exercise.slug == slug, visible_to(clinic_id)).order_by(Exercise.clinic_id.is_(None))
    )
    if exercise is None:
        exercise = db.session.scalar(
            select(Exercise)
            .join(ExerciseAlias, ExerciseAlias.exercise_id == Exercise.id)
            .where(ExerciseAlias.slug == slug)
        )
    if exercise is None:
        raise NotFound(f"No exercise {slug!r}.")
    return exercise


def by_slugs(clinic_id: int, slugs: set[str], *, include_archived: bool = False) -> dict[str, Exercise]:
    """{slug as given: exercise} for the slugs the clinic can use; a merged slug maps to its survivor,
    and the clinic's own exercise wins over a library one with the same slug."""
    if not slugs:
        return {}
    query = select(Exercise).where(Exercise.slug.in_(slugs), visible_to(clinic_id))
    if not include_archived:
        query = query.where(Exercise.archived_at.is_(None))
    # The clinic's own comes last, so it wins the dict.
    found = {e.slug: e for e in db.session.scalars(query.order_by(Exercise.clinic_id.is_not(None)))}
    rest = set(slugs) - set(found)
    if rest:
        merged = (
            select(ExerciseAlias.slug, Exercise)
            .join(Exercise, ExerciseAlias.exercise_id == Exercise.id)
            .where(ExerciseAlias.slug.in_(rest))
        )
        if not include_archived:
            merged = merged.where(Exercise.archived_at.is_(None))
        for alias, exercise in db.session.execute(merged):
            found[alias] = exercise
    return found


def resolve_links(clinic_id: int, slugs: list[str]) -> dict[str, dict]:
    """{slug as given: slug, name and difficulty of the exercise it means} (unknown slugs are left out)."""
    return {
        given: {"slug": e.slug, "name": e.name, "difficulty": e.difficulty}
        for given, e in by_slugs(clinic_id, set(slugs), include_archived=True).items()
    }


def links(clinic_id: int, slugs: list[str]) -> list[dict]:
    """Name and difficulty of linked exercises, in the order given (unknown slugs are left out)."""
    found = resolve_links(clinic_id, slugs)
    return [found[s] for s in slugs if s in found]


def aliases_of(exercise: Exercise) -> list[str]:
    """The retired slugs that now mean this exercise."""
    return list(
        db.session.scalars(
            select(ExerciseAlias.slug).where(ExerciseAlias.exercise_id == exercise.id).order_by(ExerciseAlias.slug)
        )
    )


def detail(clinic_id: int, slug: str) -> dict:
    """An exercise with its progressions and regressions resolved to names, its safety blocks in full,
    and the old slugs merged into it. A merged slug answers with the exercise it now means."""
    exercise = get_exercise(clinic_id, slug)
    names = resolve_links(clinic_id, exercise.progressions + exercise.regressions)
    return {
        **{
            name: getattr(exercise, name)
            for name in (
                "slug",
                "owner",
                "archived",
                "body_regions",
                "conditions",
                "equipment",
                "updated_at",
                *CONTENT_FIELDS,
            )
        },
        "progressions": [names[s] for s in exercise.progressions if s in names],
        "regressions": [names[s] for s in exercise.regressions if s in names],
        "safety": safety.shown(exercise.safety or []),
        "aliases": aliases_of(exercise),
        "media": ([figure_media(exercise)] if exercise.figure else []) + list(exercise.media),
    }


def figure_version(exercise: Exercise) -> str:
    """The fingerprint of an exercise's drawing (its pose data, name and summary, and the style)."""
    return figures.version(exercise.figure, exercise.name, exercise.summary)


def figure_media(exercise: Exercise) -> dict:
    """The media entry for an exercise's figure: its URL carries the version, so it may be cached long."""
    url = f"/api/v1/exercises/{exercise.slug}/figure.svg?v={figure_version(exercise)}"
    return {"type": "figure", "url": url, "caption": None}


def figure_svg(
    clinic_id: int, slug: str, *, side: str | None = None, frame: int | None = None, static: bool = False
) -> tuple[str, str]:
    """An exercise's figure as SVG, and its version; NotFound when the exercise has none."""
    exercise = get_exercise(clinic_id, slug)
    if not exercise.figure:
        raise NotFound(f"Exercise {slug!r} has no figure.")
    try:
        svg = figures.draw(
            exercise.figure, title=exercise.name, desc=exercise.summary, side=side, frame=frame, static=static
        )
    except ValueError as exc:
        raise Invalid("frame", str(exc), location="query") from exc
    return svg, figure_version(exercise)


def _figure_from_input(clinic_id: int, data: dict, equipment: list[str]) -> None:
    """Resolve `figure_from` and check a given figure against the rules (and the exercise's equipment)."""
    source = data.pop("figure_from", None)
    if source is not None:
        if "figure" in data:
            raise Invalid("figure_from", "give figure or figure_from, not both")
        try:
            data["figure"] = get_exercise(clinic_id, source).figure
        except NotFound:
            raise Invalid("figure_from", f"unknown exercise {source!r}") from None
        if data["figure"] is None:
            raise Invalid("figure_from", f"exercise {source!r} has no figure")
    if data.get("figure") is not None:
        try:
            figures.check(data["figure"], equipment=set(equipment))
        except figures.FigureError as exc:
            raise Invalid(f"figure.{exc.field}" if exc.field else "figure", exc.problem) from None


def slugify(name: str) -> str:
    """The slug a name gives: deterministic, so a retried create is a conflict, not a duplicate."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80].strip("-") or "exercise"


def _check_links(clinic_id: int, data: dict) -> None:
    for field in ("progressions", "regressions"):
        wanted = data.get(field) or []
        known = resolve_links(clinic_id, wanted)
        missing = [s for s in wanted if s not in known]
        if missing:
            raise Invalid(field, f"unknown exercise(s): {', '.join(missing)}")


def _attach_safety(exercise: Exercise, data: dict) -> None:
    """A clinic's exercise shows the blocks it asks for plus every block its tags need (never fewer)."""
    blocks = safety.live_blocks()
    unknown = [k for k in data.get("safety") or [] if k not in blocks]
    if unknown:
        raise Invalid("safety", f"unknown safety block(s): {', '.join(unknown)}")
    current = {
        "slug": exercise.slug,
        "body_regions": data.get("body_regions", exercise.body_regions),
        "conditions": data.get("conditions", exercise.conditions),
        "category": data.get("category", exercise.category),
        "default_dosage": data.get("default_dosage", exercise.default_dosage),
        "safety": data.get("safety", [k for k in exercise.safety or [] if k in blocks]),
    }
    data["safety"] = safety.attached(blocks, current)


def _require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise Forbidden("Only staff may change exercises.")


def create_clinic_exercise(actor: User, data: dict, *, now: datetime) -> Exercise:
    """Add an exercise visible only inside the caller's clinic."""
    _require_staff(actor)
    slug = data.pop("slug", None) or slugify(data["name"])
    taken = db.session.scalar(select(Exercise.id).where(Exercise.slug == slug, visible_to(actor.clinic_id)))
    if taken is not None:
        raise Conflict(
            f"An exercise with slug {slug!r} already exists; give another name or slug.",
            invalid_params=[{"name": "slug", "location": "json", "reason": "is already in use"}],
        )
    _check_links(actor.clinic_id, data)
    _figure_from_input(actor.clinic_id, data, data.get("equipment") or [])
    exercise = Exercise(slug=slug, clinic_id=actor.clinic_id, created_at=now, content_hash="", safety=[])
    _attach_safety(exercise, data)
    apply_content(exercise, data, now=now)
    db.session.add(exercise)
    db.session.commit()
    return exercise


def update_clinic_exercise(actor: User, slug: str, changes: dict, *, now: datetime) -> Exercise:
    """Edit, archive or restore one of the clinic's own exercises (library ones are read-only)."""
    _require_staff(actor)
    exercise = get_exercise(actor.clinic_id, slug)
    if exercise.clinic_id is None:
        raise Forbidden("Library exercises are read-only; create a clinic exercise instead.")
    if "slug" in changes and changes.pop("slug") != slug:
        raise Invalid("slug", "cannot be changed")
    _check_links(actor.clinic_id, changes)
    if "figure" in changes or "figure_from" in changes:
        _figure_from_input(actor.clinic_id, changes, changes.get("equipment", exercise.equipment))
    elif "equipment" in changes and exercise.figure:
        changes["figure"] = exercise.figure  # re-checked: its props must still be in the equipment
        _figure_from_input(actor.clinic_id, changes, changes["equipment"])
    if "archived" in changes:
        exercise.archived_at = (exercise.archived_at or now) if changes.pop("archived") else None
    _attach_safety(exercise, changes)
    apply_content(exercise, changes, now=now)
    db.session.commit()
    return exercise
