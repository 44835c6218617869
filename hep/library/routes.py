"""HTTP API for the exercise library."""

from __future__ import annotations

from hep.accounts.auth import current_user, login_required
from hep.accounts.models import STAFF_ROLES
from hep.api import Blueprint
from hep.dbtypes import utcnow
from hep.figures.http import svg_response
from hep.library import service
from hep.library.schemas import (
    ExerciseCreateSchema,
    ExercisePageSchema,
    ExerciseSchema,
    ExerciseSearchArgsSchema,
    ExerciseUpdateSchema,
    FigureArgsSchema,
)

blp = Blueprint("library", __name__, url_prefix="/api/v1/exercises", description="Exercise library")


@blp.route("", methods=["GET"])
@login_required()
@blp.etag
@blp.arguments(ExerciseSearchArgsSchema, location="query")
@blp.response(200, ExercisePageSchema)
def search(args):
    """Search the library and your clinic's exercises, by name"""
    page = {k: args.pop(k, None) for k in ("cursor", "limit")}
    items, cursor = service.search_page(current_user().clinic_id, **page, **args)
    return {"items": items, "next_cursor": cursor}


@blp.route("", methods=["POST"])
@login_required(*STAFF_ROLES)
@blp.arguments(ExerciseCreateSchema)
@blp.response(201, ExerciseSchema)
@blp.alt_response(409, response="CONFLICT")
def create(body):
    """Add an exercise of your clinic's own (visible only in your clinic)"""
    actor = current_user()
    exercise = service.create_clinic_exercise(actor, body, now=utcnow())
    return service.detail(actor.clinic_id, exercise.slug)


@blp.route("/<string:slug>", methods=["GET"])
@login_required()
@blp.etag
@blp.response(200, ExerciseSchema)
def get(slug):
    """Fetch an exercise with its progressions and regressions"""
    return service.detail(current_user().clinic_id, slug)


@blp.route("/<string:slug>", methods=["PATCH"])
@login_required(*STAFF_ROLES)
@blp.arguments(ExerciseUpdateSchema(partial=True))
@blp.response(200, ExerciseSchema)
def update(changes, slug):
    """Edit, archive or restore one of your clinic's exercises"""
    actor = current_user()
    service.update_clinic_exercise(actor, slug, changes, now=utcnow())
    return service.detail(actor.clinic_id, slug)


@blp.route("/<string:slug>/figure.svg", methods=["GET"])
@login_required()
@blp.arguments(FigureArgsSchema, location="query")
@blp.response(
    200,
    content_type="image/svg+xml",
    description="The drawing, with a strong ETag (If-None-Match answers 304)",
)
@blp.alt_response(304, description="Not modified")
def figure(args, slug):
    """Draw an exercise's figure as SVG: animated, one keyframe, or every keyframe side by side"""
    requested = args.pop("v", None)
    if args.get("side") == "both":
        args.pop("side")
    svg, version = service.figure_svg(current_user().clinic_id, slug, **args)
    return svg_response(svg, version, requested)
