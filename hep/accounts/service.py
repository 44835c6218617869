"""Accounts: sign-in, activation, clinics, staff and patients, with object-level access rules."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from hep import signals, unique
from hep.accounts import passwords, tokens
from hep.accounts.contact import looks_like_phone, normalise_phone
from hep.accounts.models import (
    CLINIC_ADMIN,
    PATIENT,
    PHYSIOTHERAPIST,
    STAFF_ROLES,
    ActivationCode,
    Clinic,
    Patient,
    User,
)
from hep.audit import service as audit
from hep.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from hep.extensions import db

log = logging.getLogger(__name__)

# Crockford base32 without look-alikes; 10 characters = 50 bits, shown as XXXXX-XXXXX.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class TokenSettings:
    access_ttl: int
    refresh_ttl: int


@dataclass(frozen=True)
class Activation:
    code: str
    expires_at: datetime


# --- sign-in ---------------------------------------------------------------------------------


def canonical_login(username: str) -> str:
    """A login name as stored: an e-mail lowercased, a phone in E.164 (anything else as typed)."""
    username = username.strip()
    if looks_like_phone(username):
        try:
            return normalise_phone(username)
        except ValueError:
            return username
    return username.lower()


def find_logins(username: str) -> list[User]:
    """The accounts a login name (e-mail or phone) belongs to: at most one per clinic."""
    username = username.strip()
    if looks_like_phone(username):
        try:
            column, value = User.phone, normalise_phone(username)
        except ValueError:
            return []
    else:
        column, value = User.email, username.lower()
    return list(db.session.scalars(select(User).where(column == value).order_by(User.id)))


PASSWORD_CHECKS = 2  # at least this many hashes are checked per sign-in (see login)


def login(
    username: str, password: str, *, now: datetime, ttl: TokenSettings, clinic_id: int | None = None
) -> tokens.TokenPair:
    """Check a password and start a sign-in. Every failure looks the same to the caller.

    A login name may open accounts at several clinics (each clinic's accounts are its own): the
    password is checked against each, and against dummies up to PASSWORD_CHECKS, so the time taken
    does not tell whether the name is registered at another clinic. When the password opens more
    than one, `clinic_id` chooses.
    """
    candidates = [u for u in find_logins(username) if clinic_id is None or u.clinic_id == clinic_id]
    checked = [(user, passwords.verify_password(user.password_hash, password)) for user in candidates]
    for _ in range(PASSWORD_CHECKS - len(candidates)):
        passwords.verify_password(None, password)
    opened = [user for user, ok in checked if ok and user.is_active]
    if len(opened) > 1:
        raise Conflict(
            "This login opens accounts at more than one clinic with this password; say which with clinic_id.",
            invalid_params=[{"name": "clinic_id", "location": "json", "reason": "is needed to choose the clinic"}],
        )
    if not opened:
        for user in candidates:
            # In the account's clinic's log, without the name typed or the password: which account, when.
            # The caller is unknown, so there is no actor.
            patient_id = user.id if user.role == PATIENT else None
            audit.record(
                None,
                audit.REFUSED,
                "sign_in",
                now=now,
                patient_id=patient_id,
                resource_id=user.id,
                clinic_id=user.clinic_id,
            )
        if candidates:
            db.session.commit()
        else:
            log.info("sign-in refused: no account has that login name")
        raise Unauthorized("Unknown username or wrong password.")
    pair = tokens.issue(opened[0], now=now, access_ttl=ttl.access_ttl, refresh_ttl=ttl.refresh_ttl)
    db.session.commit()
    return pair


def refresh(refresh_token: str, *, now: datetime, ttl: TokenSettings) -> tokens.TokenPair:
    """Rotate a refresh token."""
    pair = tokens.rotate(refresh_token, now=now, access_ttl=ttl.access_ttl, refresh_ttl=ttl.refresh_ttl)
    db.session.commit()
    return pair


def logout(family_id: int, *, now: datetime, reason: str = "logout") -> None:
    """End a sign-in (the caller's, or a web session that went idle or was not staff's)."""
    tokens.revoke_family(family_id, now=now, reason=reason)
    db.session.commit()


def change_password(user: User, current: str, new: str, *, now: datetime) -> None:
    """Change a password after checking the current one; ends every sign-in of the user."""
    if not passwords.verify_password(user.password_hash, current):
        raise Invalid("current_password", "is wrong")
    passwords.check_strength(new, "new_password", user_inputs=(user.name, user.email or "", user.clinic.name))
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = now
    tokens.revoke_user(user.id, now=now, reason="password-change")
    db.session.commit()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _canonical_code(code: str) -> str:
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    return f"{cleaned[:5]}-{cleaned[5:]}"


def issue_activation(user: User, actor: User, *, now: datetime, ttl_seconds: int) -> Activation:
    """Create a fresh activation code for a user; earlier unused codes stop working."""
    db.session.execute(
        update(ActivationCode)
        .where(ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    )
    code = _new_code()
    expires_at = now + timedelta(seconds=ttl_seconds)
    db.session.add(
        ActivationCode(
            user_id=user.id,
            code_hash=tokens.token_hash(code),
            created_by_id=actor.id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return Activation(code=code, expires_at=expires_at)


def activate(code: str, password: str, *, now: datetime, ttl: TokenSettings) -> tokens.TokenPair:
    """Redeem an activation code: set the password and sign in. A code works once."""
    passwords.check_strength(password)
    invalid = Invalid("code", "is invalid, expired or already used")
    record = db.session.scalar(
        select(ActivationCode).where(ActivationCode.code_hash == tokens.token_hash(_canonical_code(code)))
    )
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise invalid
    claimed = db.session.execute(
        update(ActivationCode)
        .where(ActivationCode.id == record.id, ActivationCode.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    user = db.session.get(User, record.user_id)
    if claimed != 1 or user is None or not user.is_active:
        db.session.rollback()
        raise invalid
    passwords.check_strength(password, user_inputs=(user.name, user.email or ""))  # refused: the code stays unused
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = now
    if user.patient is not None and user.patient.activated_at is None:
        user.patient.activated_at = now
    tokens.revoke_user(user.id, now=now, reason="activation")
    pair = tokens.issue(user, now=now, access_ttl=ttl.access_ttl, refresh_ttl=ttl.refresh_ttl)
    db.session.commit()
    return pair


# --- clinics and staff -----------------------------------------------------------------------


def create_clinic(
    name: str,
    admin_name: str,
    admin_email: str,
    admin_password: str,
    *,
    now: datetime,
    timezone: str = "UTC",
    contact_phone: str | None = None,
) -> tuple[Clinic, User]:
    """Create a clinic with its first clinic admin (an operator's command, not an API call)."""
    passwords.check_strength(admin_password, "admin_password", user_inputs=(name, admin_name, admin_email))
    clinic = Clinic(
        name=name,
        timezone=timezone,
        contact_phone=contact_phone,
        contact_email=admin_email.strip().lower(),
        created_at=now,
    )
    admin = User(
        clinic=clinic,
        role=CLINIC_ADMIN,
        name=admin_name,
        email=admin_email,
        password_hash=passwords.hash_password(admin_password),
        created_at=now,
        password_changed_at=now,
    )
    db.session.add_all([clinic, admin])
    _commit_unique()
    return clinic, admin


def update_clinic(actor: User, changes: dict) -> Clinic:
    """Change the caller's clinic (clinic admins only)."""
    _require_admin(actor)
    clinic = db.session.get(Clinic, actor.clinic_id)
    for key, value in changes.items():
        setattr(clinic, key, value)
    db.session.commit()
    return clinic


def _require_admin(actor: User) -> None:
    if actor.role != CLINIC_ADMIN:
        raise Forbidden("Only a clinic admin may do this.")


def staff_query(actor: User) -> Select:
    """Select the staff of the caller's clinic."""
    return select(User).where(User.clinic_id == actor.clinic_id, User.role.in_(STAFF_ROLES))


def get_staff(actor: User, staff_id: int) -> User:
    """Fetch a staff member of the caller's clinic, or NotFound."""
    user = db.session.get(User, staff_id)
    if user is None or user.clinic_id != actor.clinic_id or user.role not in STAFF_ROLES:
        raise NotFound(f"No staff member {staff_id}.")
    return user


def create_staff(
    actor: User, *, name: str, email: str, role: str, now: datetime, activation_ttl: int
) -> tuple[User, Activation]:
    """Add a staff member (clinic admins only); they set a password with the returned code."""
    _require_admin(actor)
    user = User(clinic_id=actor.clinic_id, role=role, name=name, email=email, created_at=now)
    db.session.add(user)
    _flush_unique()
    activation = issue_activation(user, actor, now=now, ttl_seconds=activation_ttl)
    db.session.commit()
    return user, activation


def update_staff(actor: User, staff_id: int, changes: dict, *, now: datetime) -> User:
    """Change a staff member's name, e-mail, role or active flag (clinic admins only)."""
    _require_admin(actor)
    user = get_staff(actor, staff_id)
    if user.id == actor.id and (changes.get("is_active") is False or changes.get("role", user.role) != user.role):
        raise Invalid("role" if "role" in changes else "is_active", "you cannot demote or deactivate yourself")
    for key, value in changes.items():
        setattr(user, key, value)
    if changes.get("is_active") is False:
        tokens.revoke_user(user.id, now=now, reason="deactivated")
    _commit_unique()
    return user


# --- patients --------------------------------------------------------------------------------


def patients_query(actor: User, *, physiotherapist_id: int | None = None, q: str | None = None) -> Select:
    """Select the patients the caller may see (staff: their clinic)."""
    if not actor.is_staff:
        raise Forbidden("Only staff may list patients.")
    query = select(Patient).join(Patient.user).where(User.clinic_id == actor.clinic_id)
    if physiotherapist_id is not None:
        query = query.where(Patient.physiotherapist_id == physiotherapist_id)
    if q:
        term = q.strip().lower()  # % and _ are escaped: they match themselves, not any text
        query = query.where(
            or_(
                func.lower(User.name).contains(term, autoescape=True),
                User.email.contains(term, autoescape=True),
                User.phone.contains(term, autoescape=True),
            )
        )
    return query


def get_patient(actor: User, patient_id: int) -> Patient:
    """Fetch a patient the caller may see: themself, or one of their clinic's. Otherwise NotFound."""
    patient = db.session.get(Patient, patient_id)
    visible = patient is not None and (
        (actor.role == PATIENT and actor.id == patient_id)
        or (actor.is_staff and patient.user.clinic_id == actor.clinic_id)
    )
    if not visible:
        raise NotFound(f"No patient {patient_id}.")
    return patient


def require_patient_access(actor: User, patient_id: int, not_found: str) -> None:
    """For objects that belong to a patient: answer NotFound (naming the object) unless the caller may
    see that patient, so another clinic's ids reveal nothing."""
    try:
        get_patient(actor, patient_id)
    except NotFound:
        raise NotFound(not_found) from None


def _physiotherapist_for(actor: User, physiotherapist_id: int | None) -> int:
    if physiotherapist_id is None:
        if actor.role != PHYSIOTHERAPIST:
            raise Invalid("physiotherapist_id", "is required when a clinic admin invites a patient")
        return actor.id
    physio = db.session.get(User, physiotherapist_id)
    if physio is None or physio.clinic_id != actor.clinic_id or physio.role != PHYSIOTHERAPIST or not physio.is_active:
        raise Invalid("physiotherapist_id", "is not an active physiotherapist of your clinic")
    return physio.id


def invite_patient(
    actor: User,
    *,
    name: str,
    timezone: str,
    email: str | None = None,
    phone: str | None = None,
    language: str = "en",
    physiotherapist_id: int | None = None,
    now: datetime,
    activation_ttl: int,
) -> tuple[Patient, Activation]:
    """Create a patient and a one-time activation code for their app."""
    if not actor.is_staff:
        raise Forbidden("Only staff may invite patients.")
    if not email and not phone:
        raise Invalid("email", "an e-mail address or a mobile phone is required")
    physio_id = _physiotherapist_for(actor, physiotherapist_id)
    user = User(clinic_id=actor.clinic_id, role=PATIENT, name=name, email=email, phone=phone, created_at=now)
    patient = Patient(user=user, physiotherapist_id=physio_id, timezone=timezone, language=language)
    db.session.add_all([user, patient])
    _flush_unique()
    activation = issue_activation(user, actor, now=now, ttl_seconds=activation_ttl)
    audit.record(actor, audit.CREATE, "patient", now=now, patient_id=user.id, resource_id=user.id)
    db.session.commit()
    return patient, activation


def reinvite_patient(actor: User, patient_id: int, *, now: datetime, activation_ttl: int) -> Activation:
    """Issue a new activation code (the old one stops working)."""
    patient = get_patient(actor, patient_id)
    if not actor.is_staff:
        raise Forbidden("Only staff may invite patients.")
    activation = issue_activation(patient.user, actor, now=now, ttl_seconds=activation_ttl)
    audit.record(actor, audit.UPDATE, "patient_activation", now=now, patient_id=patient_id)
    db.session.commit()
    return activation


PATIENT_SELF_EDITABLE = {"timezone", "language"}
USER_FIELDS = {"name", "email", "phone", "is_active"}


def update_patient(actor: User, patient_id: int, changes: dict, *, now: datetime) -> Patient:
    """Change a patient's details. Patients may change only their own time zone and language."""
    patient = get_patient(actor, patient_id)
    if not actor.is_staff:
        forbidden = sorted(set(changes) - PATIENT_SELF_EDITABLE)
        if forbidden:
            raise Forbidden(f"Patients may not change: {', '.join(forbidden)}.")
    if "physiotherapist_id" in changes:
        changes["physiotherapist_id"] = _physiotherapist_for(actor, changes["physiotherapist_id"])
    if changes.get("email"):
        changes["email"] = changes["email"].lower()
    user = patient.user
    new_email = changes.get("email", user.email)
    new_phone = changes.get("phone", user.phone)
    if not new_email and not new_phone:
        raise Invalid("email", "an e-mail address or a mobile phone is required")
    for key, value in changes.items():
        setattr(user if key in USER_FIELDS else patient, key, value)
    if changes.get("is_active") is False:
        tokens.revoke_user(user.id, now=now, reason="deactivated")
    audit.record(actor, audit.UPDATE, "patient", now=now, patient_id=patient_id, resource_id=patient_id)
    _commit_unique()
    if {"timezone", "phone", "is_active"} & set(changes):
        signals.patient_changed.send(patient_id=patient_id, now=now)
    return patient


def _flush_unique() -> None:
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        conflict = unique.conflict_for(exc)
        if conflict is None:
            raise
        raise conflict from exc


def _commit_unique() -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        conflict = unique.conflict_for(exc)
        if conflict is None:
            raise
        raise conflict from exc


def read_patient(actor: User, patient_id: int, *, now: datetime) -> Patient:
    """Fetch a patient for display, recording the read in the audit log."""
    patient = get_patient(actor, patient_id)
    audit.record(actor, audit.READ, "patient", now=now, patient_id=patient_id, resource_id=patient_id)
    db.session.commit()
    return patient
