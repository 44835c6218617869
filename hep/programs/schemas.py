"""Schemas for routines (prescriptions), their versions, and protocol templates."""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from marshmallow import validate

from hep.library.schemas import (
    CONDITIONS,
    SLUG_RE,
    SafetyBlockSchema,
    SourceSchema,
    check_rep_max,
    progression_field,
    rep_max_field,
    sources_field,
)
from hep.programs.models import SIDES
from hep.programs.schedule import WEEKDAYS

Note = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class ItemSchema(ma.Schema):
    """One exercise with its dosage. Give reps or hold_seconds (or both); days_per_week or weekdays."""

    exercise = ma.fields.String(required=True, validate=validate.Regexp(SLUG_RE), metadata={"description": "slug"})
    sets = ma.fields.Integer(required=True, validate=validate.Range(1, 10))
    reps = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 100))
    hold_seconds = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 300))
    rest_seconds = ma.fields.Integer(load_default=30, validate=validate.Range(0, 600))
    side = ma.fields.String(load_default="both", validate=validate.OneOf(SIDES))
    load = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=80),
        metadata={"description": "Free text: band colour, weight"},
    )
    rep_max = rep_max_field()
    progression = progression_field()
    times_per_day = ma.fields.Integer(load_default=1, validate=validate.Range(1, 6))
    days_per_week = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 7))
    weekdays = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(WEEKDAYS)),
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 7),
    )
    notes = Note

    @ma.validates_schema
    def _dosage(self, data, **kwargs):
        if data.get("reps") is None and data.get("hold_seconds") is None:
            raise ma.ValidationError("give reps, hold_seconds or both", "reps")
        if data.get("weekdays") is not None and data.get("days_per_week") is not None:
            raise ma.ValidationError("give days_per_week or weekdays, not both", "weekdays")
        days = data.get("weekdays")
        if days is not None and len(set(days)) != len(days):
            raise ma.ValidationError("lists a day twice", "weekdays")
        check_rep_max(data)

    @ma.post_load
    def _default_days(self, data, **kwargs):
        if data.get("weekdays") is None and data.get("days_per_week") is None:
            data["days_per_week"] = 7
        elif data.get("weekdays") is not None:
            data["weekdays"] = [d for d in WEEKDAYS if d in data["weekdays"]]
        return data


SaneDate = validate.Range(date(2000, 1, 1), date(2100, 1, 1), error="must be between 2000 and 2100")


class PhaseSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(1, 120))
    start_date = ma.fields.Date(required=True, validate=SaneDate)
    items = ma.fields.List(ma.fields.Nested(ItemSchema), required=True, validate=validate.Length(1, 30))


class RoutineInSchema(ma.Schema):
    """A routine's whole content. Sending it again unchanged creates no new version."""

    title = ma.fields.String(required=True, validate=validate.Length(1, 200))
    start_date = ma.fields.Date(required=True, validate=SaneDate)
    end_date = ma.fields.Date(load_default=None, allow_none=True, validate=SaneDate)
    notes = Note
    template = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=80),
        metadata={"description": "Key of the template this was started from"},
    )
    phases = ma.fields.List(ma.fields.Nested(PhaseSchema), required=True, validate=validate.Length(1, 8))

    @ma.validates_schema
    def _dates(self, data, **kwargs):
        start, end, phases = data["start_date"], data.get("end_date"), data["phases"]
        if end is not None and end < start:
            raise ma.ValidationError("must not be before start_date", "end_date")
        if end is not None and (end - start).days > 366:
            raise ma.ValidationError("a routine runs at most a year; start a new one after", "end_date")
        if phases[0]["start_date"] != start:
            raise ma.ValidationError("the first phase starts on the routine's start_date", "phases.0.start_date")
        for i in range(1, len(phases)):
            if phases[i]["start_date"] <= phases[i - 1]["start_date"]:
                raise ma.ValidationError("phases start in order, each after the one before", f"phases.{i}.start_date")
            if end is not None and phases[i]["start_date"] > end:
                raise ma.ValidationError("starts after the routine ends", f"phases.{i}.start_date")


class ItemOutSchema(ItemSchema):
    id = ma.fields.Integer(required=True)
    exercise = ma.fields.String(attribute="slug", required=True)
    exercise_name = ma.fields.String(attribute="exercise.name", required=True)


class PhaseOutSchema(ma.Schema):
    name = ma.fields.String(required=True)
    start_date = ma.fields.Date(required=True)
    items = ma.fields.List(ma.fields.Nested(ItemOutSchema), required=True)


class VersionSchema(ma.Schema):
    number = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    start_date = ma.fields.Date(required=True)
    end_date = ma.fields.Date(allow_none=True, required=True)
    effective_from = ma.fields.Date(required=True, metadata={"description": "Governs days from this date on"})
    notes = ma.fields.String(allow_none=True, required=True)
    template = ma.fields.String(attribute="template_key", allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    created_by_id = ma.fields.Integer(required=True)
    phases = ma.fields.List(ma.fields.Nested(PhaseOutSchema), required=True)


class RoutineSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    patient_id = ma.fields.Integer(required=True)
    archived = ma.fields.Function(lambda r: r.archived_at is not None, required=True)
    version_count = ma.fields.Function(lambda r: len(r.versions), required=True)
    current = ma.fields.Nested(VersionSchema, required=True)


class RoutineListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(RoutineSchema), required=True)


class VersionListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(VersionSchema), required=True)


class TemplatePhaseSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(1, 120))
    start_week = ma.fields.Integer(required=True, validate=validate.Range(1, 52))
    items = ma.fields.List(ma.fields.Nested(ItemSchema), required=True, validate=validate.Length(1, 30))


class TemplateInSchema(ma.Schema):
    """A protocol template, as in exercises/templates/<key>.yaml or sent by a clinic."""

    key = ma.fields.String(required=True, validate=[validate.Length(3, 80), validate.Regexp(SLUG_RE)])
    name = ma.fields.String(required=True, validate=validate.Length(3, 120))
    condition = ma.fields.String(required=True, validate=validate.OneOf(CONDITIONS))
    summary = ma.fields.String(required=True, validate=validate.Length(10, 600))
    duration_weeks = ma.fields.Integer(required=True, validate=validate.Range(1, 52))
    phases = ma.fields.List(ma.fields.Nested(TemplatePhaseSchema), required=True, validate=validate.Length(1, 8))
    sources = sources_field(
        load_default=list,
        metadata={"description": "The guidelines and trials it follows, and what it takes from each"},
    )

    @ma.validates_schema
    def _weeks(self, data, **kwargs):
        weeks = [p["start_week"] for p in data["phases"]]
        if weeks[0] != 1:
            raise ma.ValidationError("the first phase starts in week 1", "phases.0.start_week")
        for i in range(1, len(weeks)):
            if weeks[i] <= weeks[i - 1]:
                raise ma.ValidationError("phases start in order", f"phases.{i}.start_week")
            if weeks[i] > data["duration_weeks"]:
                raise ma.ValidationError("starts after the template ends", f"phases.{i}.start_week")


class TemplateSchema(TemplateInSchema):
    owner = ma.fields.String(required=True)
    sources = ma.fields.List(ma.fields.Nested(SourceSchema), required=True)
    safety = ma.fields.List(
        ma.fields.Nested(SafetyBlockSchema),
        required=True,
        metadata={"description": "When to stop and get help: the blocks of its condition and exercises"},
    )
    pain_rule = ma.fields.String(required=True, metadata={"description": "Your clinic's pain rule"})


class TemplateSummarySchema(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    condition = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    duration_weeks = ma.fields.Integer(required=True)
    owner = ma.fields.String(required=True)


class TemplateListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TemplateSummarySchema), required=True)


class TemplateArgsSchema(ma.Schema):
    condition = ma.fields.String(validate=validate.OneOf(CONDITIONS))


class DraftArgsSchema(ma.Schema):
    start_date = ma.fields.Date(required=True, validate=SaneDate)
