"""HTTP API for prescribing routines, protocol templates, and the patient's day."""

from __future__ import annotations

import marshmallow as ma

from hep.accounts.auth import current_user, login_required
from hep.accounts.models import STAFF_ROLES
from hep.accounts.schemas import TimeZone
from hep.api import Blueprint
from hep.audit import service as audit
from hep.dbtypes import utcnow
from hep.fields import Choice
from hep.library.schemas import ExerciseSummarySchema, MediaOutSchema, SafetyBlockSchema
from hep.programs import plan, service, templates
from hep.programs.models import SIDES
from hep.programs.schedule import WEEKDAYS
from hep.programs.schemas import (
    DraftArgsSchema,
    ItemOutSchema,
    RoutineInSchema,
    RoutineListSchema,
    RoutineSchema,
    TemplateArgsSchema,
    TemplateInSchema,
    TemplateListSchema,
    TemplateSchema,
    VersionListSchema,
    VersionSchema,
)

blp = Blueprint("programs", __name__, url_prefix="/api/v1", description="Routines, templates, the patient's day")


# --- routines --------------------------------------------------------------------------------


@blp.route("/patients/<id:patient_id>/routines", methods=["GET"])
@login_required()
@blp.response(200, RoutineListSchema)
def list_routines(patient_id):
    """List a patient's routines, newest first"""
    return {"items": service.list_routines(current_user(), patient_id, now=utcnow())}


@blp.route("/patients/<id:patient_id>/routines", methods=["POST"])
@login_required(*STAFF_ROLES)
@blp.arguments(RoutineInSchema)
@blp.response(201, RoutineSchema)
def create_routine(body, patient_id):
    """Prescribe a routine (phases of exercises with dosage)"""
    return service.create_routine(current_user(), patient_id, body, now=utcnow())


@blp.route("/routines/<id:routine_id>", methods=["GET"])
@login_required()
@blp.response(200, RoutineSchema)
def get_routine(routine_id):
    """Fetch a routine with its current version"""
    return service.read_routine(current_user(), routine_id, now=utcnow())


@blp.route("/routines/<id:routine_id>", methods=["PUT"])
@login_required(*STAFF_ROLES)
@blp.arguments(RoutineInSchema)
@blp.response(200, RoutineSchema)
@blp.alt_response(201, schema=RoutineSchema, description="A new version was created", success=True)
@blp.alt_response(409, response="CONFLICT")
def revise_routine(body, routine_id):
    """Save edited content as a new version (unchanged content creates none)"""
    routine, created = service.revise_routine(current_user(), routine_id, body, now=utcnow())
    return routine, 201 if created else 200


@blp.route("/routines/<id:routine_id>", methods=["DELETE"])
@login_required(*STAFF_ROLES)
@blp.response(204)
def archive_routine(routine_id):
    """Stop (archive) a routine; its history stays readable"""
    service.archive_routine(current_user(), routine_id, now=utcnow())


@blp.route("/routines/<id:routine_id>/versions", methods=["GET"])
@login_required()
@blp.response(200, VersionListSchema)
def list_versions(routine_id):
    """List every version of a routine, oldest first"""
    return {"items": service.read_versions(current_user(), routine_id, now=utcnow())}


@blp.route("/routines/<id:routine_id>/versions/<id:number>", methods=["GET"])
@login_required()
@blp.response(200, VersionSchema)
def get_version(routine_id, number):
    """Fetch one version of a routine"""
    return service.get_version(current_user(), routine_id, number, now=utcnow())


# --- templates -------------------------------------------------------------------------------


@blp.route("/templates", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.arguments(TemplateArgsSchema, location="query")
@blp.response(200, TemplateListSchema)
def list_templates(args):
    """List protocol templates (shipped and your clinic's)"""
    return {"items": templates.list_templates(current_user(), args.get("condition"))}


@blp.route("/templates", methods=["POST"])
@login_required(*STAFF_ROLES)
@blp.arguments(TemplateInSchema)
@blp.response(201, TemplateSchema)
@blp.alt_response(409, response="CONFLICT")
def create_template(body):
    """Save a template of your clinic's own"""
    actor = current_user()
    return templates.template_view(actor, templates.create_template(actor, body, now=utcnow()))


@blp.route("/templates/<string:key>", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.response(200, TemplateSchema)
def get_template(key):
    """Fetch a template with its sources, safety blocks and your clinic's pain rule"""
    actor = current_user()
    return templates.template_view(actor, templates.get_template(actor, key))


@blp.route("/templates/<string:key>/draft", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.arguments(DraftArgsSchema, location="query")
@blp.response(200, RoutineInSchema)
def draft_from_template(args, key):
    """Lay a template out from a start date, as a routine body to adjust and POST"""
    return templates.draft(templates.get_template(current_user(), key), args["start_date"])


# --- the patient's day -----------------------------------------------------------------------


class PlanItemSchema(ma.Schema):
    routine_id = ma.fields.Integer(required=True)
    item_id = ma.fields.Integer(required=True)
    exercise = ma.fields.Nested(ExerciseSummarySchema, required=True)
    sets = ma.fields.Integer(required=True)
    reps = ma.fields.Integer(allow_none=True, required=True)
    hold_seconds = ma.fields.Integer(allow_none=True, required=True)
    rest_seconds = ma.fields.Integer(required=True)
    side = Choice(SIDES, required=True)
    load = ma.fields.String(allow_none=True, required=True)
    rep_max = ma.fields.Integer(
        allow_none=True, required=True, metadata={"description": "A weight you can lift only this many times"}
    )
    progression = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "When and how to make it harder"}
    )
    notes = ma.fields.String(allow_none=True, required=True)
    days_per_week = ma.fields.Integer(allow_none=True, required=True)
    weekdays = ma.fields.List(Choice(WEEKDAYS), allow_none=True, required=True)
    flexible = ma.fields.Boolean(required=True, metadata={"description": "Any days_per_week days of the week"})
    times_due = ma.fields.Integer(required=True)
    done_today = ma.fields.Float(
        required=True, metadata={"description": "Occurrences done today (partial sets count in part)"}
    )
    days_done_this_week = ma.fields.Integer(required=True)
    safety = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "Keys of the plan's safety blocks for this exercise"},
    )


class NextSessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    starts_at = ma.fields.AwareDateTime(required=True)
    duration_minutes = ma.fields.Integer(required=True)
    patient_note = ma.fields.String(allow_none=True, required=True, metadata={"description": "From the clinic"})


class PlanSchema(ma.Schema):
    date = ma.fields.Date(required=True, metadata={"description": "Today in the patient's time zone"})
    timezone = TimeZone(required=True)
    items = ma.fields.List(ma.fields.Nested(PlanItemSchema), required=True)
    next_session = ma.fields.Nested(
        NextSessionSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The next scheduled needling session, if any"},
    )
    safety = ma.fields.List(
        ma.fields.Nested(SafetyBlockSchema),
        required=True,
        metadata={"description": "When to stop and get help, for today's exercises (each block once)"},
    )
    pain_rule = ma.fields.String(
        required=True, metadata={"description": "How much pain is fine, in the clinic's words"}
    )


class InstructionsSchema(ExerciseSummarySchema):
    steps = ma.fields.List(ma.fields.String(), required=True)
    cues = ma.fields.List(ma.fields.String(), required=True)
    common_mistakes = ma.fields.List(ma.fields.String(), required=True)
    precautions = ma.fields.List(ma.fields.String(), required=True)
    contraindications = ma.fields.List(ma.fields.String(), required=True)
    media = ma.fields.List(ma.fields.Nested(MediaOutSchema), required=True)
    safety = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "Keys of the routine's safety blocks for it"}
    )


class RoutineItemWithInstructionsSchema(ItemOutSchema):
    instructions = ma.fields.Nested(InstructionsSchema, attribute="exercise", required=True)


class CurrentRoutineSchema(ma.Schema):
    routine_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    start_date = ma.fields.Date(required=True)
    end_date = ma.fields.Date(allow_none=True, required=True)
    notes = ma.fields.String(allow_none=True, required=True)
    phase = ma.fields.String(required=True)
    phase_start_date = ma.fields.Date(required=True)
    next_phase_date = ma.fields.Date(allow_none=True, required=True)
    items = ma.fields.List(ma.fields.Nested(RoutineItemWithInstructionsSchema), required=True)


class CurrentRoutinesSchema(ma.Schema):
    date = ma.fields.Date(required=True)
    routines = ma.fields.List(ma.fields.Nested(CurrentRoutineSchema), required=True)
    safety = ma.fields.List(
        ma.fields.Nested(SafetyBlockSchema),
        required=True,
        metadata={"description": "When to stop and get help, for these routines' exercises (each block once)"},
    )
    pain_rule = ma.fields.String(
        required=True, metadata={"description": "How much pain is fine, in the clinic's words"}
    )


@blp.route("/patients/<id:patient_id>/today", methods=["GET"])
@login_required()
@blp.etag
@blp.response(200, PlanSchema)
def today(patient_id):
    """Today's plan in the patient's time zone: what is due and what is logged"""
    actor, now = current_user(), utcnow()
    result = plan.today_plan(actor, patient_id, now=now)
    audit.read(actor, "today", now=now, patient_id=patient_id)
    return result


@blp.route("/patients/<id:patient_id>/routine", methods=["GET"])
@login_required()
@blp.etag
@blp.response(200, CurrentRoutinesSchema)
def current_routine(patient_id):
    """The routines in effect, with every exercise's instructions"""
    actor, now = current_user(), utcnow()
    result = plan.current_routines(actor, patient_id, now=now)
    audit.read(actor, "routine", now=now, patient_id=patient_id)
    return result
