"""Request and response schemas for sign-in, clinics, staff and patients."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from hep.accounts.contact import LANGUAGE_RE, is_timezone, normalise_phone
from hep.accounts.models import ROLES, STAFF_ROLES
from hep.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from hep.fields import Choice, Email, Id
from hep.pagination import PageArgsSchema, page_schema
from hep.wording import CALENDAR_DEFAULT, calendar_label_problems


class Phone(ma.fields.String):
    """A mobile number, given in any common format, loaded as E.164."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_phone(raw)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


class TimeZone(ma.fields.String):
    """An IANA time zone name; the document says so with a pattern (the names themselves change with tzdata)."""

    def __init__(self, **kwargs):
        described = {
            "description": "An IANA time zone name, e.g. America/Vancouver",
            "example": "America/Vancouver",
            "pattern": TIMEZONE_PATTERN,
            "maxLength": 64,
        }
        super().__init__(**{**kwargs, "metadata": {**described, **kwargs.get("metadata", {})}})

    def _deserialize(self, value, attr, data, **kwargs):
        name = super()._deserialize(value, attr, data, **kwargs)
        if not is_timezone(name):
            raise ma.ValidationError("is not an IANA time zone, e.g. America/Vancouver")
        return name


TIMEZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$"


def NewPassword(**kwargs) -> ma.fields.String:
    """A password being chosen: its length is documented; hep.accounts.passwords checks it (and its strength)."""
    rule = {
        "minLength": MIN_LENGTH,
        "maxLength": MAX_LENGTH,
        "description": f"{MIN_LENGTH} to {MAX_LENGTH} characters, not easy to guess (a zxcvbn score of 3 or more)",
    }
    return ma.fields.String(validate=validate.Length(1, 1024), metadata=rule, **kwargs)


Name = ma.fields.String(validate=validate.Length(1, 200))
Language = ma.fields.String(validate=validate.Regexp(LANGUAGE_RE, error="must be a language code such as en or fr-CA"))


# --- auth ------------------------------------------------------------------------------------


class LoginSchema(ma.Schema):
    username = ma.fields.String(
        required=True, validate=validate.Length(1, 254), metadata={"description": "E-mail address or mobile phone"}
    )
    password = ma.fields.String(required=True, validate=validate.Length(1, 1024), load_only=True)
    clinic_id = Id(
        load_default=None,
        metadata={"description": "Only when the login opens accounts at several clinics with this password (409)"},
    )


class RefreshSchema(ma.Schema):
    refresh_token = ma.fields.String(required=True, validate=validate.Length(1, 200))


class ActivateSchema(ma.Schema):
    code = ma.fields.String(required=True, validate=validate.Length(1, 40))
    password = NewPassword(required=True)


class ChangePasswordSchema(ma.Schema):
    current_password = ma.fields.String(required=True, validate=validate.Length(1, 1024))
    new_password = NewPassword(required=True)


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    refresh_token = ma.fields.String(required=True)
    token_type = Choice(("Bearer",), required=True)
    expires_in = ma.fields.Integer(required=True, metadata={"description": "Access token lifetime, seconds"})


class ActivationSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "One-time code; shown once"})
    expires_at = ma.fields.AwareDateTime(required=True)


# --- clinic and staff ------------------------------------------------------------------------


def _neutral_label(value: str) -> None:
    found = calendar_label_problems(value)
    if found:
        raise ma.ValidationError(f"{'; '.join(found)}: calendars sync to other services, keep it neutral")


class ClinicSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    calendar_label = ma.fields.String(
        allow_none=True,
        validate=[validate.Length(1, 60), _neutral_label],
        metadata={"description": f"What calendar events say (null: {CALENDAR_DEFAULT!r}); no health words"},
    )
    contact_phone = ma.fields.String(allow_none=True, validate=validate.Length(max=32))
    contact_email = Email(allow_none=True)
    timezone = TimeZone()
    risk_inactive_days = ma.fields.Integer(
        validate=validate.Range(1, 60), metadata={"description": "At risk after this many days without a log"}
    )
    risk_adherence_drop = ma.fields.Integer(
        validate=validate.Range(1, 100), metadata={"description": "At risk when 7-day adherence falls this many points"}
    )
    risk_pain_rise = ma.fields.Integer(
        validate=validate.Range(1, 10), metadata={"description": "At risk when 7-day mean pain rises this many points"}
    )
    risk_pain_after = ma.fields.Integer(
        validate=validate.Range(0, 10),
        metadata={"description": "At risk when 7-day mean pain after exercise reaches this"},
    )
    pain_rule_max = ma.fields.Integer(
        validate=validate.Range(0, 5),
        metadata={
            "description": "The pain rule patients are given: pain up to this (0-10 scale) during exercise is "
            "acceptable if it settles by the next morning (default 5, the pain-monitoring model's limit)"
        },
    )


class ClinicUpdateSchema(ClinicSchema):
    """Clinic fields a clinic admin may change (all optional)."""


class StaffSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = Name
    email = Email()
    role = ma.fields.String(validate=validate.OneOf(STAFF_ROLES))
    is_active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime(dump_only=True)


class StaffUpdateSchema(StaffSchema):
    """Staff fields a clinic admin may change (all optional)."""


class StaffCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    email = Email(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(STAFF_ROLES))


class StaffCreatedSchema(ma.Schema):
    staff = ma.fields.Nested(StaffSchema, required=True)
    activation = ma.fields.Nested(ActivationSchema, required=True)


# --- patients --------------------------------------------------------------------------------


class PatientSchema(ma.Schema):
    id = ma.fields.Integer(attribute="user_id", dump_only=True)
    name = ma.fields.String(attribute="user.name", dump_only=True)
    email = ma.fields.String(attribute="user.email", allow_none=True, dump_only=True)
    phone = ma.fields.String(attribute="user.phone", allow_none=True, dump_only=True)
    timezone = TimeZone(dump_only=True)
    language = ma.fields.String(dump_only=True)
    physiotherapist_id = ma.fields.Integer(dump_only=True)
    is_active = ma.fields.Boolean(attribute="user.is_active", dump_only=True)
    activated_at = ma.fields.AwareDateTime(allow_none=True, dump_only=True)
    created_at = ma.fields.AwareDateTime(attribute="user.created_at", dump_only=True)


class PatientCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(1, 200))
    email = Email(load_default=None, allow_none=True)
    phone = Phone(load_default=None, allow_none=True, metadata={"description": "Mobile, any format; stored E.164"})
    timezone = TimeZone(required=True)
    language = ma.fields.String(load_default="en", validate=Language.validate)
    physiotherapist_id = Id(load_default=None, allow_none=True)


class PatientUpdateSchema(ma.Schema):
    name = ma.fields.String(validate=validate.Length(1, 200))
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    timezone = TimeZone()
    language = ma.fields.String(validate=Language.validate)
    physiotherapist_id = Id()
    is_active = ma.fields.Boolean()


class PatientCreatedSchema(ma.Schema):
    patient = ma.fields.Nested(PatientSchema, required=True)
    activation = ma.fields.Nested(ActivationSchema, required=True)


class PatientListArgsSchema(PageArgsSchema):
    q = ma.fields.String(validate=validate.Length(1, 100), metadata={"description": "Name, e-mail or phone contains"})
    physiotherapist_id = Id()


class MeSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    role = Choice(ROLES, required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    clinic = ma.fields.Nested(ClinicSchema, required=True)
    patient = ma.fields.Nested(PatientSchema, allow_none=True)


StaffPageSchema = page_schema(StaffSchema, "StaffPage")
PatientPageSchema = page_schema(PatientSchema, "PatientPage")
