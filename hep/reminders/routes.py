"""HTTP API for text consent, reminder times, reminder history and the clinic's reminder rules."""

from __future__ import annotations

from hep.accounts.auth import current_user, login_required
from hep.accounts.contact import LANGUAGE_RE
from hep.accounts.models import CLINIC_ADMIN, PATIENT, STAFF_ROLES
from hep.api import Blueprint
from hep.audit import service as audit
from hep.dbtypes import utcnow
from hep.errors import Invalid, NotFound
from hep.pagination import PageArgsSchema, page_schema, paginate
from hep.reminders import consent, messages, service
from hep.reminders.models import Reminder
from hep.reminders.schemas import (
    ConsentSchema,
    MessageTemplateBodySchema,
    MessageTemplateListSchema,
    MessageTemplateSchema,
    ReminderSchema,
    SettingsSchema,
    SmsStatusSchema,
    SummarySchema,
    TimesSchema,
)

blp = Blueprint("reminders", __name__, url_prefix="/api/v1", description="Text reminders")


@blp.route("/patients/<id:patient_id>/sms", methods=["GET"])
@login_required()
@blp.response(200, SmsStatusSchema)
def sms_status(patient_id):
    """Whether the patient gets texts, and the consent history"""
    actor = current_user()
    status = service.sms_status(actor, patient_id)
    audit.read(actor, "sms_status", now=utcnow(), patient_id=patient_id)
    return status


@blp.route("/patients/<id:patient_id>/sms/consent", methods=["POST"])
@login_required()
@blp.arguments(ConsentSchema)
@blp.response(201, SmsStatusSchema)
def grant_consent(body, patient_id):
    """Record consent to reminder texts (one confirmation text follows)"""
    actor = current_user()
    if actor.role == PATIENT and body["method"] != "app":
        body["method"] = "app"
    consent.grant(actor, patient_id, body["method"], now=utcnow())
    return service.sms_status(actor, patient_id)


@blp.route("/patients/<id:patient_id>/sms/consent", methods=["DELETE"])
@login_required()
@blp.response(204)
def revoke_consent(patient_id):
    """Withdraw consent: no more texts"""
    consent.revoke(current_user(), patient_id, now=utcnow())


@blp.route("/patients/<id:patient_id>/sms/times", methods=["PUT"])
@login_required()
@blp.arguments(TimesSchema)
@blp.response(200, SmsStatusSchema)
def set_times(body, patient_id):
    """Choose the local times for exercise reminders"""
    return service.set_times(current_user(), patient_id, body["exercise_times"], now=utcnow())


@blp.route("/patients/<id:patient_id>/reminders", methods=["GET"])
@login_required()
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, page_schema(ReminderSchema, "ReminderPage"))
def reminder_history(args, patient_id):
    """A patient's reminders: sent, delivered, failed, skipped (with the reason)"""
    actor = current_user()
    items, cursor = paginate(
        service.history(actor, patient_id),
        [Reminder.id],
        cursor=args.get("cursor"),
        limit=args.get("limit"),
        descending=True,
    )
    audit.read(actor, "reminders", now=utcnow(), patient_id=patient_id)
    return {"items": items, "next_cursor": cursor}


@blp.route("/reminders/summary", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.response(200, SummarySchema)
def summary():
    """Your clinic's reminders by status over the last 30 days"""
    return service.summary(current_user(), now=utcnow())


@blp.route("/clinic/reminder-settings", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.response(200, SettingsSchema)
def get_settings():
    """Your clinic's reminder rules"""
    return service.get_settings(current_user())


@blp.route("/clinic/reminder-settings", methods=["PATCH"])
@login_required(CLINIC_ADMIN)
@blp.arguments(SettingsSchema)
@blp.response(200, SettingsSchema)
def update_settings(changes):
    """Change your clinic's reminder rules (clinic admin)"""
    return service.update_settings(current_user(), changes, now=utcnow())


@blp.route("/clinic/message-templates", methods=["GET"])
@login_required(*STAFF_ROLES)
@blp.response(200, MessageTemplateListSchema)
def list_message_templates():
    """Your clinic's texts in every language (its own wording, or the default)"""
    return {"items": service.list_templates(current_user())}


@blp.route("/clinic/message-templates/<string:kind>/<string:language>", methods=["PUT"])
@login_required(CLINIC_ADMIN)
@blp.arguments(MessageTemplateBodySchema)
@blp.response(200, MessageTemplateSchema)
def set_message_template(body, kind, language):
    """Set your clinic's wording for one text (clinic admin); null restores the default"""
    if kind not in messages.KINDS:
        raise NotFound(f"No kind of text {kind!r}; kinds: {', '.join(messages.KINDS)}.")
    if not LANGUAGE_RE.match(language):
        raise Invalid("language", "must be a language code such as en or fr-CA", location="path")
    return service.set_template(current_user(), kind, language, body["body"])
