"""HTTP API for sign-in, the caller, the clinic, staff and patients."""

from __future__ import annotations

from flask import current_app

from hep.accounts import reads, service, throttle
from hep.accounts.auth import current_family_id, current_user, login_required
from hep.accounts.models import CLINIC_ADMIN, PHYSIOTHERAPIST, STAFF_ROLES, User
from hep.accounts.schemas import (
    ActivateSchema,
    ActivationSchema,
    ChangePasswordSchema,
    ClinicSchema,
    ClinicUpdateSchema,
    LoginSchema,
    MeSchema,
    PatientCreatedSchema,
    PatientCreateSchema,
    PatientListArgsSchema,
    PatientPageSchema,
    PatientSchema,
    PatientUpdateSchema,
    RefreshSchema,
    StaffCreatedSchema,
    StaffCreateSchema,
    StaffPageSchema,
    StaffSchema,
    StaffUpdateSchema,
    TokenSchema,
)
from hep.api import Blueprint
from hep.dbtypes import utcnow
from hep.extensions import limiter
from hep.pagination import PageArgsSchema, paginate

auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Sign in and tokens")
accounts_blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Clinic, staff and patients")


def _ttl() -> service.TokenSettings:
    config = current_app.config
    return service.TokenSettings(config["ACCESS_TOKEN_TTL"], config["REFRESH_TOKEN_TTL"])


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


# --- auth ------------------------------------------------------------------------------------


@auth_blp.route("/token", methods=["POST"])
@limiter.limit(_login_limit)
@limiter.shared_limit(
    throttle.account_limit,
    throttle.SCOPE,
    key_func=throttle.account_key,
    deduct_when=throttle.failed,
)
@auth_blp.arguments(LoginSchema)
@auth_blp.response(200, TokenSchema)
@auth_blp.alt_response(401, response="UNAUTHORIZED")
@auth_blp.alt_response(409, response="CONFLICT")
@auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")
def token(body):
    """Sign in with e-mail or phone and password"""
    return service.login(body["username"], body["password"], now=utcnow(), ttl=_ttl(), clinic_id=body["clinic_id"])


@auth_blp.route("/refresh", methods=["POST"])
@auth_blp.arguments(RefreshSchema)
@auth_blp.response(200, TokenSchema)
@auth_blp.alt_response(401, response="UNAUTHORIZED")
def refresh(body):
    """Exchange a refresh token for a new pair (the old one is spent)"""
    return service.refresh(body["refresh_token"], now=utcnow(), ttl=_ttl())


@auth_blp.route("/activate", methods=["POST"])
@limiter.limit(_login_limit)
@auth_blp.arguments(ActivateSchema)
@auth_blp.response(200, TokenSchema)
@auth_blp.alt_response(429, response="TOO_MANY_REQUESTS")
def activate(body):
    """Redeem an activation code, choose a password and sign in"""
    return service.activate(body["code"], body["password"], now=utcnow(), ttl=_ttl())


@auth_blp.route("/logout", methods=["POST"])
@login_required()
@auth_blp.response(204)
def logout():
    """End this sign-in (its access and refresh tokens stop working)"""
    service.logout(current_family_id(), now=utcnow())


@auth_blp.route("/password", methods=["POST"])
@login_required()
@auth_blp.arguments(ChangePasswordSchema)
@auth_blp.response(204)
def change_password(body):
    """Change your password; every sign-in ends"""
    service.change_password(current_user(), body["current_password"], body["new_password"], now=utcnow())


# --- me and clinic ---------------------------------------------------------------------------


@accounts_blp.route("/me", methods=["GET"])
@login_required()
@accounts_blp.response(200, MeSchema)
def me():
    """Who am I"""
    return current_user()


@accounts_blp.route("/clinic", methods=["GET"])
@login_required()
@accounts_blp.response(200, ClinicSchema)
def get_clinic():
    """Your clinic"""
    return current_user().clinic


@accounts_blp.route("/clinic", methods=["PATCH"])
@login_required(CLINIC_ADMIN)
@accounts_blp.arguments(ClinicUpdateSchema(partial=True))
@accounts_blp.response(200, ClinicSchema)
def update_clinic(changes):
    """Change your clinic's details (clinic admin)"""
    return service.update_clinic(current_user(), changes)


# --- staff -----------------------------------------------------------------------------------


@accounts_blp.route("/staff", methods=["GET"])
@login_required(*STAFF_ROLES)
@accounts_blp.arguments(PageArgsSchema, location="query")
@accounts_blp.response(200, StaffPageSchema)
def list_staff(args):
    """List your clinic's staff"""
    items, cursor = paginate(
        service.staff_query(current_user()), [User.id], cursor=args.get("cursor"), limit=args.get("limit")
    )
    return {"items": items, "next_cursor": cursor}


@accounts_blp.route("/staff", methods=["POST"])
@login_required(CLINIC_ADMIN)
@accounts_blp.arguments(StaffCreateSchema)
@accounts_blp.response(201, StaffCreatedSchema)
@accounts_blp.alt_response(409, response="CONFLICT")
def create_staff(body):
    """Add a staff member; they choose a password with the activation code (clinic admin)"""
    user, activation = service.create_staff(
        current_user(), **body, now=utcnow(), activation_ttl=current_app.config["ACTIVATION_CODE_TTL"]
    )
    return {"staff": user, "activation": activation}


@accounts_blp.route("/staff/<id:staff_id>", methods=["GET"])
@login_required(*STAFF_ROLES)
@accounts_blp.response(200, StaffSchema)
def get_staff(staff_id):
    """Fetch a staff member"""
    return service.get_staff(current_user(), staff_id)


@accounts_blp.route("/staff/<id:staff_id>", methods=["PATCH"])
@login_required(CLINIC_ADMIN)
@accounts_blp.arguments(StaffUpdateSchema(partial=True))
@accounts_blp.response(200, StaffSchema)
@accounts_blp.alt_response(409, response="CONFLICT")
def update_staff(changes, staff_id):
    """Change a staff member's details, role or active flag (clinic admin)"""
    return service.update_staff(current_user(), staff_id, changes, now=utcnow())


# --- patients --------------------------------------------------------------------------------


@accounts_blp.route("/patients", methods=["GET"])
@login_required(*STAFF_ROLES)
@accounts_blp.arguments(PatientListArgsSchema, location="query")
@accounts_blp.response(200, PatientPageSchema)
def list_patients(args):
    """List your clinic's patients, by name"""
    return reads.patient_page(
        current_user(),
        physiotherapist_id=args.get("physiotherapist_id"),
        q=args.get("q"),
        cursor=args.get("cursor"),
        limit=args.get("limit"),
        now=utcnow(),
    )


@accounts_blp.route("/patients", methods=["POST"])
@login_required(PHYSIOTHERAPIST, CLINIC_ADMIN)
@accounts_blp.arguments(PatientCreateSchema)
@accounts_blp.response(201, PatientCreatedSchema)
@accounts_blp.alt_response(409, response="CONFLICT")
def invite_patient(body):
    """Invite a patient: creates them and returns a one-time activation code for the app"""
    patient, activation = service.invite_patient(
        current_user(), **body, now=utcnow(), activation_ttl=current_app.config["ACTIVATION_CODE_TTL"]
    )
    return {"patient": patient, "activation": activation}


@accounts_blp.route("/patients/<id:patient_id>", methods=["GET"])
@login_required()
@accounts_blp.response(200, PatientSchema)
def get_patient(patient_id):
    """Fetch a patient (staff of their clinic, or the patient themself)"""
    return service.read_patient(current_user(), patient_id, now=utcnow())


@accounts_blp.route("/patients/<id:patient_id>", methods=["PATCH"])
@login_required()
@accounts_blp.arguments(PatientUpdateSchema)
@accounts_blp.response(200, PatientSchema)
@accounts_blp.alt_response(403, response="FORBIDDEN")  # a patient changing what only staff may
@accounts_blp.alt_response(409, response="CONFLICT")
def update_patient(changes, patient_id):
    """Change a patient's details (patients: only their own time zone and language)"""
    return service.update_patient(current_user(), patient_id, changes, now=utcnow())


@accounts_blp.route("/patients/<id:patient_id>/activation", methods=["POST"])
@login_required(*STAFF_ROLES)
@accounts_blp.response(201, ActivationSchema)
def reinvite_patient(patient_id):
    """Issue a new activation code for a patient (the previous one stops working)"""
    return service.reinvite_patient(
        current_user(), patient_id, now=utcnow(), activation_ttl=current_app.config["ACTIVATION_CODE_TTL"]
    )
