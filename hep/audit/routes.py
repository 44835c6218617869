"""HTTP API for reading the audit log (clinic admins)."""

from __future__ import annotations

import marshmallow as ma

from hep.accounts.auth import current_user, login_required
from hep.accounts.models import CLINIC_ADMIN
from hep.api import Blueprint
from hep.audit import service
from hep.audit.models import AuditEvent
from hep.fields import Choice, Id
from hep.pagination import PageArgsSchema, page_schema, paginate

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit-events", description="Audit log")


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    patient_id = ma.fields.Integer(allow_none=True)
    action = Choice(service.ACTIONS)
    resource = ma.fields.String()
    resource_id = ma.fields.String(allow_none=True)


class AuditArgsSchema(PageArgsSchema):
    patient_id = Id()
    actor_id = Id()


@blp.route("", methods=["GET"])
@login_required(CLINIC_ADMIN)
@blp.arguments(AuditArgsSchema, location="query")
@blp.response(200, page_schema(AuditEventSchema, "AuditEventPage"))
def list_events(args):
    """List your clinic's audit events, newest first (clinic admin)"""
    query = service.events_query(
        current_user().clinic_id, patient_id=args.get("patient_id"), actor_id=args.get("actor_id")
    )
    items, cursor = paginate(
        query, [AuditEvent.id], cursor=args.get("cursor"), limit=args.get("limit"), descending=True
    )
    return {"items": items, "next_cursor": cursor}
