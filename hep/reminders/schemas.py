"""What the reminders API reads and answers: consent, reminder times, history, the clinic's rules and texts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from hep.fields import Choice
from hep.reminders import consent
from hep.reminders.states import ContactStatus, Kind, Status

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be a 24-hour time like 18:30")


class ConsentEventSchema(ma.Schema):
    at = ma.fields.AwareDateTime(required=True)
    event = Choice(consent.EVENTS, required=True)
    method = Choice(consent.EVENT_METHODS, required=True)
    phone = ma.fields.String(required=True)
    recorded_by_id = ma.fields.Integer(allow_none=True, required=True)
    detail = ma.fields.String(allow_none=True, required=True)


class SmsStatusSchema(ma.Schema):
    status = Choice(ContactStatus, required=True)
    phone = ma.fields.String(allow_none=True, required=True)
    exercise_times = ma.fields.List(ma.fields.String(), allow_none=True, required=True)
    events = ma.fields.List(ma.fields.Nested(ConsentEventSchema), required=True)


class ConsentSchema(ma.Schema):
    method = Choice(
        consent.METHODS,
        required=True,
        metadata={"description": "How consent was given: verbal, written, or in the app"},
    )


class TimesSchema(ma.Schema):
    exercise_times = ma.fields.List(
        ma.fields.String(validate=HHMM),
        allow_none=True,
        required=True,
        validate=validate.Length(1, 3),
        metadata={"description": "Local times; null for the clinic's default"},
    )


class ReminderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = Choice(Kind, required=True)
    local_date = ma.fields.Date(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    status = Choice(Status, required=True)
    reason = ma.fields.String(allow_none=True, required=True)
    attempts = ma.fields.Integer(required=True)
    sent_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    error_code = ma.fields.Integer(allow_none=True, required=True)


class SummarySchema(ma.Schema):
    since = ma.fields.AwareDateTime(required=True)
    counts = ma.fields.Nested(
        ma.Schema.from_dict({status.value: ma.fields.Integer() for status in Status}, name="ReminderCounts"),
        required=True,
        metadata={"description": "Reminders by status; a status with none is left out"},
    )


class SettingsSchema(ma.Schema):
    window_start = ma.fields.String(validate=HHMM)
    window_end = ma.fields.String(validate=HHMM)
    exercise_times = ma.fields.List(ma.fields.String(validate=HHMM), validate=validate.Length(1, 3))
    max_per_day = ma.fields.Integer(validate=validate.Range(0, 3))
    max_per_week = ma.fields.Integer(validate=validate.Range(0, 21))
    pre_session_hours = ma.fields.Integer(validate=validate.Range(1, 72))
    needling_day = ma.fields.String(validate=validate.OneOf(("skip", "gentle")))


class MessageTemplateSchema(ma.Schema):
    kind = ma.fields.String(required=True)
    language = ma.fields.String(required=True)
    body = ma.fields.String(required=True)
    custom = ma.fields.Boolean(required=True, metadata={"description": "false: the shipped default"})


class MessageTemplateListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MessageTemplateSchema), required=True)


class MessageTemplateBodySchema(ma.Schema):
    body = ma.fields.String(
        required=True,
        allow_none=True,
        validate=validate.Length(1, 320),
        metadata={
            "description": "Placeholders {clinic}, {contact}, {when}; GSM-7, one segment, no health details. "
            "null resets to the default."
        },
    )
