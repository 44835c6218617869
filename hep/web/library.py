"""The exercise library: browse and search it, read an exercise, and the clinic's own exercises
(create, edit, archive, restore) through the library service."""

from __future__ import annotations

import marshmallow as ma
from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hep.dbtypes import utcnow
from hep.errors import DomainError, Forbidden
from hep.figures import draw as figures
from hep.figures.http import svg_response
from hep.library import service as library
from hep.library.models import Exercise
from hep.library.schemas import (
    CATEGORIES,
    CONDITIONS,
    EQUIPMENT,
    POSITIONS,
    REGIONS,
    ExerciseCreateSchema,
    ExerciseUpdateSchema,
)
from hep.pagination import paginate
from hep.web import bp
from hep.web.auth import current_staff
from hep.web.forms import errors_from, lines, text

TEXT_LISTS = ("steps", "cues", "common_mistakes", "precautions", "contraindications")
DOSAGE_FIELDS = (
    "sets",
    "reps",
    "hold_seconds",
    "rest_seconds",
    "times_per_day",
    "days_per_week",
    "rep_max",
    "progression",
)
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".m4v")


def _filters(args) -> dict:
    def one_of(name, allowed):
        value = args.get(name) or ""
        return value if value in allowed else ""

    return {
        "q": (args.get("q") or "").strip()[:100],
        "condition": one_of("condition", CONDITIONS),
        "region": one_of("region", REGIONS),
        "category": one_of("category", CATEGORIES),
        "owner": one_of("owner", ("library", "clinic")),
        "archived": args.get("archived") == "1",
    }


@bp.get("/library")
def library_page():
    """Search and filter the library and the clinic's own exercises."""
    actor = current_staff()
    filters = _filters(request.args)
    query = library.search_query(
        actor.clinic_id,
        q=filters["q"] or None,
        condition=[filters["condition"]] if filters["condition"] else None,
        region=[filters["region"]] if filters["region"] else None,
        category=[filters["category"]] if filters["category"] else None,
        owner=filters["owner"] or None,
        include_archived=filters["archived"],
    )
    try:
        items, cursor = paginate(query, [Exercise.name, Exercise.id], cursor=request.args.get("cursor"), limit=30)
    except DomainError:
        items, cursor = paginate(query, [Exercise.name, Exercise.id], cursor=None, limit=30)
    template = "web/_library_results.html" if request.args.get("partial") == "1" else "web/library.html"
    args = {k: v for k, v in filters.items() if v and k != "archived"} | (
        {"archived": "1"} if filters["archived"] else {}
    )
    return render_template(
        template,
        items=items,
        next_url=url_for("web.library_page", cursor=cursor, **args) if cursor else None,
        filters=filters,
        conditions=CONDITIONS,
        regions=REGIONS,
        categories=CATEGORIES,
    )


@bp.get("/library/<string:slug>")
def exercise_page(slug: str):
    """One exercise with its steps, cues, precautions, safety blocks, sources, easier and harder versions.

    A merged (retired) slug redirects to the exercise it now means, so old links keep working."""
    actor = current_staff()
    exercise = library.get_exercise(actor.clinic_id, slug)
    if exercise.slug != slug:
        return redirect(url_for("web.exercise_page", slug=exercise.slug), 301)
    detail = library.detail(actor.clinic_id, slug)
    return render_template("web/exercise.html", exercise=exercise, detail=detail)


@bp.get("/library/<string:slug>/figure.svg")
def exercise_figure(slug: str):
    """The exercise's figure for the web app's pages (the API's figure.svg, signed in by session)."""
    actor = current_staff()
    side = request.args.get("side") if request.args.get("side") in ("left", "right") else None
    frame = request.args.get("frame", type=int)
    svg, version = library.figure_svg(
        actor.clinic_id, slug, side=side, frame=frame, static=request.args.get("static") == "1"
    )
    return svg_response(svg, version, request.args.get("v"))


def figure_urls(exercise: Exercise, side: str | None = None) -> dict | None:
    """Where the web app's pages find an exercise's figure: moving, still (reduced motion), for print."""
    if not exercise.figure:
        return None
    args = {"slug": exercise.slug, "v": library.figure_version(exercise)}
    if side in ("left", "right"):
        args["side"] = side
    return {
        "moving": url_for("web.exercise_figure", **args),
        "still": url_for("web.exercise_figure", frame=figures.still_frame(exercise.figure), **args),
        "strip": url_for("web.exercise_figure", static="1", **args),
    }


# --- the clinic's own exercises ------------------------------------------------------------------


def _form_data(form: MultiDict) -> dict:
    """The exercise form as ExerciseCreateSchema/ExerciseUpdateSchema take it."""

    def number(name):
        return text(form, name)

    dosage = {
        "sets": number("sets"),
        "reps": number("reps"),
        "hold_seconds": number("hold_seconds"),
        "rest_seconds": number("rest_seconds"),
        "times_per_day": number("times_per_day"),
        "days_per_week": number("days_per_week"),
        "per_side": form.get("per_side") == "1",
        "rep_max": number("rep_max"),
        "progression": text(form, "progression"),
    }
    data = {
        "name": text(form, "name") or "",
        "summary": text(form, "summary") or "",
        "category": text(form, "category") or "",
        "position": text(form, "position") or "",
        "difficulty": text(form, "difficulty") or "",
        "body_regions": [v for v in form.getlist("body_regions") if v],
        "conditions": [v for v in form.getlist("conditions") if v],
        "equipment": [v for v in form.getlist("equipment") if v],
        "default_dosage": {
            k: v for k, v in dosage.items() if v is not None or k in ("reps", "hold_seconds", "rep_max", "progression")
        },
        "progressions": (text(form, "progressions") or "").replace(",", " ").split(),
        "regressions": (text(form, "regressions") or "").replace(",", " ").split(),
        "media": [_media(line) for line in lines(form, "media")],
    }
    for name in TEXT_LISTS:
        data[name] = lines(form, name)
    return data


def _media(line: str) -> dict:
    url, _, caption = line.partition(" ")
    kind = "video" if url.lower().split("?")[0].endswith(VIDEO_SUFFIXES) else "image"
    return {"type": kind, "url": url, "caption": caption.strip() or None}


def _form_from(exercise: Exercise) -> dict:
    """The form's fields for an existing exercise."""
    dosage = exercise.default_dosage or {}
    form = {
        "name": exercise.name,
        "summary": exercise.summary,
        "category": exercise.category,
        "position": exercise.position,
        "difficulty": str(exercise.difficulty),
        "body_regions": exercise.body_regions,
        "conditions": exercise.conditions,
        "equipment": exercise.equipment,
        "progressions": " ".join(exercise.progressions),
        "regressions": " ".join(exercise.regressions),
        "media": "\n".join(f"{m['url']} {m.get('caption') or ''}".strip() for m in exercise.media),
        "per_side": "1" if dosage.get("per_side") else "",
    }
    for name in DOSAGE_FIELDS:
        form[name] = "" if dosage.get(name) is None else str(dosage[name])
    for name in TEXT_LISTS:
        form[name] = "\n".join(getattr(exercise, name))
    return form


def _render_form(exercise: Exercise | None, form: dict, errors: dict, status: int = 200):
    return (
        render_template(
            "web/exercise_form.html",
            exercise=exercise,
            form=form,
            errors=errors,
            regions=REGIONS,
            conditions=CONDITIONS,
            categories=CATEGORIES,
            equipment=EQUIPMENT,
            positions=POSITIONS,
        ),
        status,
    )


def _posted_form() -> dict:
    form = {key: request.form.get(key, "") for key in request.form}
    for name in ("body_regions", "conditions", "equipment"):
        form[name] = request.form.getlist(name)
    return form


# Not /library/new: that would hide a clinic exercise whose slug is "new" (/library/<slug>).
@bp.route("/library/exercises/new", methods=["GET", "POST"])
def new_exercise():
    """Add an exercise of the clinic's own."""
    actor = current_staff()
    if request.method == "GET":
        return _render_form(None, {"sets": "2", "reps": "10", "rest_seconds": "30", "times_per_day": "1"}, {})
    try:
        body = ExerciseCreateSchema().load(_form_data(request.form))
        exercise = library.create_clinic_exercise(actor, body, now=utcnow())
    except (ma.ValidationError, DomainError) as exc:
        return _render_form(None, _posted_form(), errors_from(exc), 422)
    flash(f"{exercise.name} added to your clinic's exercises.", "success")
    return redirect(url_for("web.exercise_page", slug=exercise.slug))


def _own_exercise(slug: str) -> Exercise:
    actor = current_staff()
    exercise = library.get_exercise(actor.clinic_id, slug)
    if exercise.clinic_id is None:
        raise Forbidden("Library exercises are read-only; create a clinic exercise instead.")
    return exercise


@bp.route("/library/<string:slug>/edit", methods=["GET", "POST"])
def edit_exercise(slug: str):
    """Edit one of the clinic's own exercises."""
    actor = current_staff()
    exercise = _own_exercise(slug)
    if request.method == "GET":
        return _render_form(exercise, _form_from(exercise), {})
    try:
        changes = ExerciseUpdateSchema(partial=("slug",)).load(_form_data(request.form))
        # The form does not edit sources or chosen safety blocks: keep what the API set.
        changes.update(sources=exercise.sources, safety=exercise.safety)
        library.update_clinic_exercise(actor, slug, changes, now=utcnow())
    except (ma.ValidationError, DomainError) as exc:
        return _render_form(exercise, _posted_form(), errors_from(exc), 422)
    flash("Exercise saved.", "success")
    return redirect(url_for("web.exercise_page", slug=slug))


@bp.post("/library/<string:slug>/archive")
def archive_exercise(slug: str):
    """Archive (or restore) one of the clinic's own exercises."""
    actor = current_staff()
    _own_exercise(slug)
    action = request.form.get("action")
    if action not in ("archive", "restore"):
        abort(400)
    library.update_clinic_exercise(actor, slug, {"archived": action == "archive"}, now=utcnow())
    flash(
        "Exercise archived: it no longer shows in searches." if action == "archive" else "Exercise restored.", "success"
    )
    return redirect(url_for("web.exercise_page", slug=slug))
