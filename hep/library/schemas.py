"""The exercise schema: the same one validates exercises/*.yaml and the API's input."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from hep.fields import Choice
from hep.pagination import PageArgsSchema, page_schema

OWNERS = ("library", "clinic")

SLUG_RE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
REGIONS = (
    "head-jaw",
    "neck",
    "upper-back",
    "lower-back",
    "shoulder",
    "elbow",
    "wrist-hand",
    "hip",
    "knee",
    "ankle-foot",
    "core",
    "whole-body",
)
CONDITIONS = (
    "low-back-pain",
    "neck-pain",
    "tension-headache",
    "rotator-cuff-impingement",
    "carpal-tunnel",
    "lateral-elbow-tendinopathy",
    "achilles-tendinopathy",
    "patellar-tendinopathy",
    "plantar-fasciitis",
    "general-mobility",
    "posture",
    "balance",
    "core-stability",
)
CATEGORIES = (
    "stretch",
    "strengthening",
    "isometric",
    "mobility",
    "nerve-glide",
    "tendon-glide",
    "motor-control",
    "balance",
    "breathing-relaxation",
    "self-massage",
    "endurance",
    "self-care",
)
EQUIPMENT = (
    "pillow",
    "towel",
    "chair",
    "wall",
    "door-frame",
    "table",
    "step",
    "mat",
    "resistance-band",
    "dumbbell",
    "ball",
    "foam-roller",
    "rolled-towel",
    "stick",
    "wrist-splint",
    "notebook",
)
POSITIONS = (
    "lying-on-back",
    "lying-on-front",
    "side-lying",
    "sitting",
    "standing",
    "kneeling",
    "hands-and-knees",
    "half-kneeling",
)

Slug = ma.fields.String(validate=validate.Regexp(SLUG_RE, error="must be lowercase words joined by hyphens"))
Text = ma.fields.String(validate=validate.Length(1, 400))


def _texts(minimum: int, maximum: int, **kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.Length(1, 400)), validate=validate.Length(minimum, maximum), **kwargs
    )


def _vocab(values: tuple[str, ...], minimum: int, **kwargs) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.String(validate=validate.OneOf(values)), validate=validate.Length(minimum, len(values)), **kwargs
    )


REP_MAX = (6, 30)


def rep_max_field() -> ma.fields.Integer:
    """Load as the trials give it: a weight the patient can lift only this many times (15 down to 6 in
    heavy slow resistance programs)."""
    return ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(*REP_MAX),
        metadata={"description": "A weight you can lift only this many times (a repetition maximum, 6-30)"},
    )


def progression_field() -> ma.fields.String:
    return ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 300),
        metadata={"description": "When and how to make it harder, in the patient's words"},
    )


def check_rep_max(data: dict) -> None:
    """A repetition maximum needs reps, and no more reps than the weight allows."""
    rep_max, reps = data.get("rep_max"), data.get("reps")
    if rep_max is None:
        return
    if reps is None:
        raise ma.ValidationError("give reps with rep_max", "rep_max")
    if reps > rep_max:
        raise ma.ValidationError(f"is {rep_max}: a weight lifted only {rep_max} times allows no more reps", "reps")


class DosageSchema(ma.Schema):
    """How much of an exercise: sets of reps and/or holds, rest, how often, and how heavy."""

    sets = ma.fields.Integer(required=True, validate=validate.Range(1, 10))
    reps = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 100))
    hold_seconds = ma.fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 300))
    rest_seconds = ma.fields.Integer(load_default=30, validate=validate.Range(0, 600))
    times_per_day = ma.fields.Integer(load_default=1, validate=validate.Range(1, 6))
    days_per_week = ma.fields.Integer(load_default=7, validate=validate.Range(1, 7))
    per_side = ma.fields.Boolean(load_default=False)
    rep_max = rep_max_field()
    progression = progression_field()

    @ma.validates_schema
    def _reps_or_hold(self, data, **kwargs):
        if "sets" not in data:  # also enforced when a PATCH loads this schema partially
            raise ma.ValidationError("Missing data for required field.", "sets")
        if data.get("reps") is None and data.get("hold_seconds") is None:
            raise ma.ValidationError("give reps, hold_seconds or both", "reps")
        check_rep_max(data)


class MediaSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=validate.OneOf(("image", "video")))
    url = ma.fields.Url(required=True, schemes={"https"})
    caption = ma.fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


SOURCE_KINDS = ("guideline", "trial", "review", "consensus", "other")


class SourceSchema(ma.Schema):
    """Evidence: a guideline or trial, its year, and what is taken from it."""

    citation = ma.fields.String(required=True, validate=validate.Length(10, 300))
    year = ma.fields.Integer(required=True, validate=validate.Range(1950, 2100))
    kind = ma.fields.String(required=True, validate=validate.OneOf(SOURCE_KINDS))
    follows = ma.fields.String(
        required=True, validate=validate.Length(10, 600), metadata={"description": "What is taken from it"}
    )


def sources_field(minimum: int = 0, **kwargs) -> ma.fields.List:
    return ma.fields.List(ma.fields.Nested(SourceSchema), validate=validate.Length(minimum, 10), **kwargs)


class ExerciseInSchema(ma.Schema):
    """An exercise as written in exercises/<slug>.yaml or sent by a clinic."""

    slug = ma.fields.String(required=True, validate=[validate.Length(3, 80), Slug.validate])
    name = ma.fields.String(required=True, validate=validate.Length(3, 80))
    summary = ma.fields.String(required=True, validate=validate.Length(10, 600))
    body_regions = _vocab(REGIONS, 1, required=True)
    conditions = _vocab(CONDITIONS, 1, required=True)
    category = ma.fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    equipment = _vocab(EQUIPMENT, 0, load_default=list)
    position = ma.fields.String(required=True, validate=validate.OneOf(POSITIONS))
    difficulty = ma.fields.Integer(required=True, validate=validate.Range(1, 5))
    steps = _texts(1, 12, required=True)
    cues = _texts(1, 8, required=True)
    common_mistakes = _texts(1, 8, required=True)
    precautions = _texts(1, 8, required=True)
    contraindications = _texts(0, 8, load_default=list)
    default_dosage = ma.fields.Nested(DosageSchema, required=True)
    progressions = ma.fields.List(ma.fields.String(validate=Slug.validate), load_default=list)
    regressions = ma.fields.List(ma.fields.String(validate=Slug.validate), load_default=list)
    media = ma.fields.List(ma.fields.Nested(MediaSchema), load_default=list)
    safety = ma.fields.List(
        ma.fields.String(validate=Slug.validate),
        load_default=list,
        metadata={"description": "Keys of safety blocks to show; the ones its regions need are added"},
    )
    sources = sources_field(load_default=list)

    @ma.validates_schema
    def _no_duplicate_tags(self, data, **kwargs):
        for field in ("body_regions", "conditions", "equipment", "progressions", "regressions", "safety"):
            values = data.get(field) or []
            if len(set(values)) != len(values):
                raise ma.ValidationError("lists a value twice", field)
        slug = data.get("slug")
        for field in ("progressions", "regressions"):
            if slug and slug in (data.get(field) or []):
                raise ma.ValidationError("an exercise cannot link to itself", field)


class LibraryExerciseSchema(ExerciseInSchema):
    """A shipped exercise file: it may also keep the slugs of exercises merged into it."""

    aliases = ma.fields.List(ma.fields.String(validate=[validate.Length(3, 80), Slug.validate]), load_default=list)


class SafetyRuleSchema(ma.Schema):
    """When a safety block applies: every criterion given must match (a list matches on any value)."""

    all = ma.fields.Boolean(metadata={"description": "Every exercise and template"})
    body_regions = _vocab(REGIONS, 1)
    conditions = _vocab(CONDITIONS, 1)
    categories = _vocab(CATEGORIES, 1)
    exercises = ma.fields.List(ma.fields.String(validate=Slug.validate), validate=validate.Length(1, 50))
    min_hold_seconds = ma.fields.Integer(validate=validate.Range(1, 300))

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("give at least one of all, body_regions, conditions, categories, exercises")
        if data.get("all") is False:
            raise ma.ValidationError("leave all out instead of false", "all")
        if data.get("all") and len(data) > 1:
            raise ma.ValidationError("all: true stands alone", "all")
        if set(data) == {"min_hold_seconds"}:
            raise ma.ValidationError("min_hold_seconds narrows another criterion; give one", "min_hold_seconds")


class SafetyBlockInSchema(ma.Schema):
    """A safety block as written in exercises/safety/<key>.yaml."""

    key = ma.fields.String(required=True, validate=[validate.Length(3, 80), Slug.validate])
    title = ma.fields.String(required=True, validate=validate.Length(3, 120))
    priority = ma.fields.Integer(required=True, validate=validate.Range(1, 99))
    lines = _texts(1, 10, required=True)
    applies_to = ma.fields.List(ma.fields.Nested(SafetyRuleSchema), required=True, validate=validate.Length(1, 10))
    sources = sources_field(1, required=True)


class SafetyBlockSchema(ma.Schema):
    key = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "In the patient's words"})
    sources = ma.fields.List(ma.fields.Nested(SourceSchema), required=True)


FIGURE_DOC = (
    "The exercise's figure: pose data drawn as its picture (format: exercises/figures/AUTHORING.md), "
    "checked like the library's (human joint ranges, resting on its support, props in the equipment). "
    "null removes it."
)


class ClinicExerciseInSchema(ExerciseInSchema):
    """What a clinic sends: the exercise, and optionally its figure."""

    figure = ma.fields.Dict(allow_none=True, metadata={"description": FIGURE_DOC})
    figure_from = ma.fields.String(
        validate=Slug.validate,
        metadata={"description": "Copy the figure of this exercise (library or your clinic's) instead of giving one"},
    )


class ExerciseCreateSchema(ClinicExerciseInSchema):
    """A clinic's own exercise; the slug is derived from the name when left out."""

    slug = ma.fields.String(load_default=None, validate=[validate.Length(3, 80), Slug.validate])


class ExerciseUpdateSchema(ClinicExerciseInSchema):
    archived = ma.fields.Boolean(metadata={"description": "true archives, false restores"})


class ExerciseLinkSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    difficulty = ma.fields.Integer(required=True)


class ExerciseSummarySchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    body_regions = ma.fields.List(ma.fields.String(), required=True)
    conditions = ma.fields.List(ma.fields.String(), required=True)
    category = ma.fields.String(required=True)
    equipment = ma.fields.List(ma.fields.String(), required=True)
    position = ma.fields.String(required=True)
    difficulty = ma.fields.Integer(required=True)
    owner = Choice(OWNERS, required=True, metadata={"description": "library (shipped) or clinic (your own)"})
    archived = ma.fields.Boolean(required=True)


class MediaOutSchema(ma.Schema):
    type = ma.fields.String(
        required=True,
        validate=validate.OneOf(("image", "video", "figure")),
        metadata={
            "description": "figure: HEP's own drawing (SVG); add ?side=left|right to mirror it, ?static=1 for print"
        },
    )
    url = ma.fields.String(required=True, metadata={"description": "https URL, or a path on this server"})
    caption = ma.fields.String(allow_none=True, required=True)


class FigureArgsSchema(ma.Schema):
    side = ma.fields.String(
        validate=validate.OneOf(("left", "right", "both")),
        metadata={"description": "The side the patient works: the figure is mirrored to show it"},
    )
    frame = ma.fields.Integer(
        validate=validate.Range(1, 4), metadata={"description": "Draw only this keyframe (from 1), still"}
    )
    static = ma.fields.Boolean(load_default=False, metadata={"description": "Every keyframe side by side, for print"})
    v = ma.fields.String(
        validate=validate.Length(1, 40),
        metadata={"description": "The version in the exercise's media URL: answers with it are cached for a year"},
    )


class ExerciseSchema(ExerciseSummarySchema):
    steps = ma.fields.List(ma.fields.String(), required=True)
    cues = ma.fields.List(ma.fields.String(), required=True)
    common_mistakes = ma.fields.List(ma.fields.String(), required=True)
    precautions = ma.fields.List(ma.fields.String(), required=True)
    contraindications = ma.fields.List(ma.fields.String(), required=True)
    default_dosage = ma.fields.Nested(DosageSchema, required=True)
    progressions = ma.fields.List(ma.fields.Nested(ExerciseLinkSchema), required=True)
    regressions = ma.fields.List(ma.fields.Nested(ExerciseLinkSchema), required=True)
    media = ma.fields.List(ma.fields.Nested(MediaOutSchema), required=True)
    safety = ma.fields.List(
        ma.fields.Nested(SafetyBlockSchema),
        required=True,
        metadata={"description": "When to stop and get help, shown with this exercise"},
    )
    sources = ma.fields.List(ma.fields.Nested(SourceSchema), required=True)
    aliases = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "Old slugs merged into this exercise"}
    )
    updated_at = ma.fields.AwareDateTime(required=True)


class ExerciseSearchArgsSchema(PageArgsSchema):
    q = ma.fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Words to find in the name, summary or steps (all must match)"},
    )
    region = ma.fields.List(ma.fields.String(validate=validate.OneOf(REGIONS)))
    condition = ma.fields.List(ma.fields.String(validate=validate.OneOf(CONDITIONS)))
    category = ma.fields.List(ma.fields.String(validate=validate.OneOf(CATEGORIES)))
    equipment = ma.fields.List(
        ma.fields.String(validate=validate.OneOf(EQUIPMENT)),
        metadata={"description": "Exercises that need this equipment"},
    )
    min_difficulty = ma.fields.Integer(validate=validate.Range(1, 5))
    max_difficulty = ma.fields.Integer(validate=validate.Range(1, 5))
    owner = Choice(OWNERS)
    include_archived = ma.fields.Boolean(load_default=False)


ExercisePageSchema = page_schema(ExerciseSummarySchema, "ExercisePage")
