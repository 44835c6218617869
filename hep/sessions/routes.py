"""HTTP API for needling sessions and the patient's calendar feed."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import Response, url_for
from marshmallow import validate

from hep.accounts.auth import current_user, login_required
from hep.accounts.models import STAFF_ROLES
from hep.api import Blueprint
from hep.audit import service as audit
from hep.dbtypes import utcnow
from hep.fields import Choice, Id
from hep.pagination import PageArgsSchema, page_schema, paginate
from hep.sessions import calendar, service
from hep.sessions.models import STATUSES, NeedlingSession

blp = Blueprint("sessions", __name__, url_prefix="/api/v1", description="Needling sessions")
# The feed is fetched by calendar apps with no token header: a plain route outside the API.
feed_bp = FlaskBlueprint("calendar_feed", __name__)


class StaffOnly(ma.fields.String):
    """A field in staff answers only: a patient's answer leaves it out (not even null)."""

    def serialize(self, attr, obj, accessor=None, **kwargs):
        if not current_user().is_staff:
            return ma.missing
        return super().serialize(attr, obj, accessor, **kwargs)


NOTES = "Clinical notes: staff only, never in a patient's answer"
PATIENT_NOTE = "A note for the patient (shown in their app), e.g. what to bring"


class SessionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    patient_id = ma.fields.Integer(required=True)
    physiotherapist_id = ma.fields.Integer(required=True)
    starts_at = ma.fields.AwareDateTime(required=True)
    ends_at = ma.fields.AwareDateTime(required=True)
    duration_minutes = ma.fields.Integer(required=True)
    status = Choice(STATUSES, required=True)
    notes = StaffOnly(allow_none=True, metadata={"description": NOTES})
    patient_note = ma.fields.String(allow_none=True, required=True, metadata={"description": PATIENT_NOTE})
    updated_at = ma.fields.AwareDateTime(required=True)


class SessionCreateSchema(ma.Schema):
    starts_at = ma.fields.AwareDateTime(required=True, metadata={"description": "With its UTC offset"})
    duration_minutes = ma.fields.Integer(load_default=30, validate=validate.Range(5, 240))
    physiotherapist_id = Id(load_default=None, allow_none=True)
    notes = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2000), metadata={"description": NOTES}
    )
    patient_note = ma.fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500), metadata={"description": PATIENT_NOTE}
    )


class SessionChangeSchema(ma.Schema):
    starts_at = ma.fields.AwareDateTime()
    duration_minutes = ma.fields.Integer(validate=validate.Range(5, 240))
    physiotherapist_id = Id()
    status = ma.fields.String(validate=validate.OneOf(STATUSES))
    notes = ma.fields.String(allow_none=True, validate=validate.Length(max=2000), metadata={"description": NOTES})
    patient_note = ma.fields.String(
        allow_none=True, validate=validate.Length(max=500), metadata={"description": PATIENT_NOTE}
    )


class SessionListArgsSchema(PageArgsSchema):
    upcoming = ma.fields.Boolean(load_default=True, metadata={"description": "Only scheduled sessions still ahead"})


class PhysioSessionArgsSchema(SessionListArgsSchema):
    physiotherapist_id = Id(metadata={"description": "Default: you"})


class FeedSchema(ma.Schema):
    url = ma.fields.String(required=True, metadata={"description": "Secret: anyone with it sees the dates"})


SessionPageSchema = page_schema(SessionSchema, "SessionPage")


def _page(query, args) -> dict:
    items, cursor = paginate(
        query, [NeedlingSession.starts_at, NeedlingSession.id], cursor=args.get("cursor"), limit=args.get("limit")
    )
    return {"items": items, "next_cursor": cursor}


@blp.route("/patients/<id:patient_id>/sessions", methods=["POST"])
@login_required(*STAFF_ROLES)
@blp.arguments(SessionCreateSchema)
@blp.response(201, SessionSchema)
def schedule(body, patient_id):
    """Schedule a needling session"""
    return service.schedule(current_user(), patient_id, body, now=utcnow())


@blp.route("/patients/<id:patient_id>/sessions", methods=["GET"])
@login_required()
@blp.arguments(SessionListArgsSchema, location="query")
@blp.response(200, SessionPageSchema)
def patient_sessions(args, patient_id):
    """A patient's sessions by start time (upcoming by default)"""
    actor, now = current_user(), utcnow()
    page = _page(service.patient_sessions(actor, patient_id, upcoming_from=now if args["upcoming"] else None), args)
    audit.read(actor, "session_list", now=now, patient_id=patient_id)
    return page


@blp.route("/sessions", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.arguments(PhysioSessionArgsSchema, location="query")
@blp.response(200, SessionPageSchema)
def physio_sessions(args):
    """A physiotherapist's sessions by start time (upcoming by default)"""
    actor, now = current_user(), utcnow()
    since = now if args["upcoming"] else None
    page = _page(service.physio_sessions(actor, args.get("physiotherapist_id"), upcoming_from=since), args)
    audit.read(actor, "session_list", now=now)
    return page


@blp.route("/sessions/<id:session_id>", methods=["GET"])
@login_required()
@blp.response(200, SessionSchema)
def get_session(session_id):
    """Fetch a session"""
    return service.read_session(current_user(), session_id, now=utcnow())


@blp.route("/sessions/<id:session_id>", methods=["PATCH"])
@login_required(*STAFF_ROLES)
@blp.arguments(SessionChangeSchema)
@blp.response(200, SessionSchema)
@blp.alt_response(409, response="CONFLICT")
def change_session(changes, session_id):
    """Reschedule, cancel, complete or mark a no-show"""
    return service.change(current_user(), session_id, changes, now=utcnow())


@blp.route("/patients/<id:patient_id>/calendar-feed", methods=["POST"])
@login_required()
@blp.response(201, FeedSchema)
def issue_feed(patient_id):
    """Create the patient's secret calendar link (a new one voids the old)"""
    token = service.issue_feed(current_user(), patient_id, now=utcnow())
    return {"url": url_for("calendar_feed.feed", token=token, _external=True)}


@feed_bp.get("/calendar/<token>.ics")
def feed(token: str):
    """The patient's sessions as iCalendar (public, opened by the secret token)."""
    now = utcnow()
    patient, sessions = service.feed_sessions(token, now=now)
    return Response(
        calendar.render(patient, sessions, now=now),
        content_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
