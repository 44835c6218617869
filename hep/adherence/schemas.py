"""Schemas for adherence logs, batch sync, progress, analytics and the risk list."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from hep.adherence.models import SOURCES
from hep.adherence.risk import REASONS
from hep.adherence.service import RESULTS
from hep.api import InvalidParamSchema
from hep.fields import Choice, Id
from hep.pagination import PageArgsSchema, page_schema
from hep.programs.models import SIDES
from hep.programs.schedule import WEEKDAYS


def _score(description: str) -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(0, 10), metadata={"description": description}
    )


class LogEntrySchema(ma.Schema):
    """One thing the patient did. `id` is a UUID the app generates once and reuses on every retry."""

    id = ma.fields.UUID(required=True)
    routine_item_id = Id(required=True)
    performed_at = ma.fields.AwareDateTime(
        required=True, metadata={"description": "When, with the device's UTC offset, e.g. 2026-11-23T07:30:00+13:00"}
    )
    sets_done = ma.fields.Integer(required=True, validate=validate.Range(0, 20))
    reps_done = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 200))
    hold_seconds_done = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 600))
    pain_before = _score("0-10 numeric rating scale")
    pain_after = _score("0-10 numeric rating scale")
    difficulty = _score("0 (effortless) to 10 (could not be harder)")
    note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class LogCorrectionSchema(ma.Schema):
    performed_at = ma.fields.AwareDateTime()
    sets_done = ma.fields.Integer(validate=validate.Range(0, 20))
    reps_done = ma.fields.Integer(allow_none=True, validate=validate.Range(0, 200))
    hold_seconds_done = ma.fields.Integer(allow_none=True, validate=validate.Range(0, 600))
    pain_before = ma.fields.Integer(allow_none=True, validate=validate.Range(0, 10))
    pain_after = ma.fields.Integer(allow_none=True, validate=validate.Range(0, 10))
    difficulty = ma.fields.Integer(allow_none=True, validate=validate.Range(0, 10))
    note = ma.fields.String(allow_none=True, validate=validate.Length(max=1000))


class EachEntry(ma.fields.Nested):
    """A list of log entries validated one by one: a bad entry is reported, the rest still count."""

    def __init__(self, **kwargs):
        super().__init__(LogEntrySchema, many=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list):
            raise ma.ValidationError("must be a list of log entries")
        schema = LogEntrySchema()
        results = []
        for raw in value:
            try:
                results.append({"data": schema.load(raw), "raw": raw})
            except ma.ValidationError as exc:
                results.append({"errors": exc.normalized_messages(), "raw": raw})
        return results


class BatchSchema(ma.Schema):
    entries = EachEntry(
        required=True,
        validate=validate.Length(1, 500),
        metadata={"description": "1 to 500 entries; each is answered on its own"},
    )


class EntryResultSchema(ma.Schema):
    index = ma.fields.Integer(required=True)
    id = ma.fields.String(allow_none=True, required=True)
    status = Choice(
        RESULTS,
        required=True,
        metadata={"description": "created | duplicate (already had it) | conflict (same id, other content) | rejected"},
    )
    invalid_params = ma.fields.List(
        ma.fields.Nested(InvalidParamSchema), metadata={"description": "why, when rejected or conflict"}
    )


class BatchCountsSchema(ma.Schema):
    """How many entries got each answer."""

    created = ma.fields.Integer(required=True)
    duplicate = ma.fields.Integer(required=True)
    conflict = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)


class BatchResultSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(EntryResultSchema), required=True)
    counts = ma.fields.Nested(BatchCountsSchema, required=True)


class PrescribedSchema(ma.Schema):
    """The item's dosage as it stood when the entry was made (entries keep it through later edits)."""

    exercise = ma.fields.String(required=True, metadata={"description": "slug"})
    name = ma.fields.String()
    sets = ma.fields.Integer(required=True)
    reps = ma.fields.Integer(allow_none=True, required=True)
    hold_seconds = ma.fields.Integer(allow_none=True, required=True)
    rest_seconds = ma.fields.Integer(allow_none=True)
    side = Choice(SIDES, allow_none=True)
    load = ma.fields.String(allow_none=True)
    rep_max = ma.fields.Integer(allow_none=True)
    progression = ma.fields.String(allow_none=True)
    times_per_day = ma.fields.Integer(required=True)
    days_per_week = ma.fields.Integer(allow_none=True)
    weekdays = ma.fields.List(Choice(WEEKDAYS), allow_none=True)
    notes = ma.fields.String(allow_none=True)


class LogSchema(ma.Schema):
    id = ma.fields.UUID(required=True)
    routine_id = ma.fields.Integer(required=True)
    routine_item_id = ma.fields.Integer(required=True)
    prescribed = ma.fields.Nested(
        PrescribedSchema, required=True, metadata={"description": "The item's dosage when this was done"}
    )
    performed_at = ma.fields.AwareDateTime(required=True)
    utc_offset_minutes = ma.fields.Integer(required=True)
    local_date = ma.fields.Date(required=True)
    sets_done = ma.fields.Integer(required=True)
    reps_done = ma.fields.Integer(allow_none=True, required=True)
    hold_seconds_done = ma.fields.Integer(allow_none=True, required=True)
    pain_before = ma.fields.Integer(allow_none=True, required=True)
    pain_after = ma.fields.Integer(allow_none=True, required=True)
    difficulty = ma.fields.Integer(allow_none=True, required=True)
    note = ma.fields.String(allow_none=True, required=True)
    credit = ma.fields.Float(required=True, metadata={"description": "Share of one prescribed occurrence, 0-1"})
    source = Choice(SOURCES, required=True, metadata={"description": "app, or sms: a DONE texted in"})
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


class LogListArgsSchema(PageArgsSchema):
    date_from = ma.fields.Date(data_key="from")
    date_to = ma.fields.Date(data_key="to")


LogPageSchema = page_schema(LogSchema, "LogPage")


class RangeArgsSchema(ma.Schema):
    days = ma.fields.Integer(
        load_default=28, validate=validate.Range(1, 366), metadata={"description": "How many days back from today"}
    )


class DaySchema(ma.Schema):
    date = ma.fields.Date(required=True)
    due = ma.fields.Float(required=True)
    done = ma.fields.Float(required=True)
    adherence = ma.fields.Float(allow_none=True, required=True)
    pain_before = ma.fields.Float(allow_none=True, required=True)
    pain_after = ma.fields.Float(allow_none=True, required=True)
    pain_texted = ma.fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "Mean pain score (0-10) the patient texted in (an SMS reply), not from a log entry"},
    )
    entries = ma.fields.Integer(required=True)


class WeekSchema(ma.Schema):
    week_start = ma.fields.Date(required=True)
    due = ma.fields.Float(required=True)
    done = ma.fields.Float(required=True)
    adherence = ma.fields.Float(allow_none=True, required=True)
    pain_before = ma.fields.Float(allow_none=True, required=True)
    pain_after = ma.fields.Float(allow_none=True, required=True)
    pain_texted = ma.fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "Mean pain score (0-10) the patient texted in (an SMS reply), not from a log entry"},
    )


class RoutineAdherenceSchema(ma.Schema):
    routine_id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    since = ma.fields.Date(required=True, metadata={"description": "Counted from (at most 120 days back)"})
    due = ma.fields.Float(required=True)
    done = ma.fields.Float(required=True)
    adherence = ma.fields.Float(allow_none=True, required=True)


class AdherenceSchema(ma.Schema):
    today = ma.fields.Date(required=True)
    streak = ma.fields.Integer(required=True)
    last_activity = ma.fields.Date(allow_none=True, required=True)
    adherence_this_week = ma.fields.Float(allow_none=True, required=True)
    adherence_last_week = ma.fields.Float(allow_none=True, required=True)
    days = ma.fields.List(ma.fields.Nested(DaySchema), required=True)
    weeks = ma.fields.List(ma.fields.Nested(WeekSchema), required=True)
    routines = ma.fields.List(ma.fields.Nested(RoutineAdherenceSchema), required=True)


class ReasonSchema(ma.Schema):
    code = Choice(REASONS, required=True)
    detail = ma.fields.String(required=True)


class RiskRowSchema(ma.Schema):
    patient_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema), required=True)
    adherence_7d = ma.fields.Float(allow_none=True, required=True)
    adherence_prev_7d = ma.fields.Float(allow_none=True, required=True)
    pain_before_7d = ma.fields.Float(allow_none=True, required=True)
    pain_before_prev_7d = ma.fields.Float(allow_none=True, required=True)
    pain_after_7d = ma.fields.Float(allow_none=True, required=True)
    pain_texted_7d = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "Mean pain score texted in (SMS), last 7 days"}
    )
    pain_texted_prev_7d = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "Mean pain score texted in (SMS), the 7 days before"}
    )
    last_activity = ma.fields.Date(allow_none=True, required=True)
    days_inactive = ma.fields.Integer(allow_none=True, required=True)


class RiskListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RiskRowSchema), required=True)


class RiskArgsSchema(ma.Schema):
    physiotherapist_id = Id(metadata={"description": "Default: you (physiotherapists) / required for admins"})


class ReportArgsSchema(ma.Schema):
    days = ma.fields.Integer(
        load_default=28,
        validate=validate.Range(7, 90),
        metadata={"description": "Whole days counted, yesterday back, in each patient's time zone"},
    )
    physiotherapist_id = Id(metadata={"description": "Only this physiotherapist's patients (default: the clinic's)"})


class DistributionSchema(ma.Schema):
    at_least_80 = ma.fields.Integer(required=True, metadata={"description": "Patients at 80 % or more"})
    from_50_to_80 = ma.fields.Integer(required=True, metadata={"description": "Patients at 50 % to under 80 %"})
    below_50 = ma.fields.Integer(required=True, metadata={"description": "Patients under 50 %"})
    nothing_due = ma.fields.Integer(required=True, metadata={"description": "Patients with no routine in effect"})


class ReportFiguresSchema(ma.Schema):
    patients = ma.fields.Integer(required=True)
    active_patients = ma.fields.Integer(required=True, metadata={"description": "With something due in the window"})
    logging_patients = ma.fields.Integer(required=True, metadata={"description": "With an entry in the window"})
    due = ma.fields.Float(required=True, metadata={"description": "Occurrences due, summed over the patients"})
    done = ma.fields.Float(required=True, metadata={"description": "Credited occurrences, summed"})
    adherence = ma.fields.Float(allow_none=True, required=True, metadata={"description": "done / due"})
    mean_patient_adherence = ma.fields.Float(
        allow_none=True, required=True, metadata={"description": "Mean of the active patients' own adherence"}
    )
    entries = ma.fields.Integer(required=True)
    pain_before = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Mean over the entries"})
    pain_after = ma.fields.Float(allow_none=True, required=True, metadata={"description": "Mean over the entries"})
    distribution = ma.fields.Nested(DistributionSchema, required=True)


class ReportWeekSchema(ReportFiguresSchema):
    week_start = ma.fields.Date(
        required=True, metadata={"description": "Monday; counted over the days of that week inside the window"}
    )


class ReportPhysioSchema(ReportFiguresSchema):
    physiotherapist_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class ClinicReportSchema(ReportFiguresSchema):
    generated_at = ma.fields.AwareDateTime(required=True)
    days = ma.fields.Integer(required=True)
    first_day = ma.fields.Date(required=True, metadata={"description": "Earliest local day counted"})
    last_day = ma.fields.Date(required=True, metadata={"description": "Latest local day counted (yesterday)"})
    physiotherapist_id = ma.fields.Integer(allow_none=True, required=True)
    weeks = ma.fields.List(ma.fields.Nested(ReportWeekSchema), required=True)
    physiotherapists = ma.fields.List(ma.fields.Nested(ReportPhysioSchema), required=True)
