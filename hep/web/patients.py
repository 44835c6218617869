"""Patients: the at-risk list, search, inviting a patient (code and QR), and one patient's page."""

from __future__ import annotations

import zoneinfo
from functools import cache
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import marshmallow as ma
import segno
from flask import current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from hep import overview
from hep.accounts import reads as people
from hep.accounts import service as accounts
from hep.accounts.models import PHYSIOTHERAPIST, User
from hep.accounts.schemas import PatientCreateSchema
from hep.adherence import reads as adherence
from hep.dbtypes import utcnow
from hep.errors import DomainError, Invalid
from hep.library import safety
from hep.programs import templates
from hep.reminders import consent
from hep.sessions.models import SCHEDULED
from hep.web import bp, charts
from hep.web.auth import current_staff
from hep.web.forms import errors_from, text

HISTORY_DAYS = 56  # eight weeks on the heat map and the pain chart


@cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def chosen_physio(actor: User, physios: list[User]) -> int | None:
    wanted = request.args.get("physiotherapist_id", type=int)
    if wanted and any(p.id == wanted for p in physios):
        return wanted
    if actor.role == PHYSIOTHERAPIST:
        return actor.id
    return physios[0].id if physios else None


@bp.get("/patients")
def patients():
    """The physiotherapist's patients, the most at risk first with the reasons; or a search by name."""
    actor, now = current_staff(), utcnow()
    physios = people.physiotherapists(actor)
    physio_id = chosen_physio(actor, physios)
    q = (request.args.get("q") or "").strip()[:100]
    found = None
    rows = []
    if q:
        found = people.search_patients(actor, q, limit=50, now=now)
    elif physio_id is not None:
        rows = adherence.risk_list(actor, physio_id, now=now)
    names = {p.id: p.name for p in physios}
    return render_template(
        "web/patients.html", rows=rows, found=found, q=q, physios=physios, physio_id=physio_id, names=names
    )


# --- inviting --------------------------------------------------------------------------------


def activation_link(code: str) -> str:
    """The link the invitation's QR code opens: a path (the default, /app/activate?code=...) is on this server."""
    return urljoin(request.host_url, current_app.config["ACTIVATION_LINK"].format(code=code))


def activation_qr(code: str) -> Markup:
    """An SVG QR code of the app's activation link for `code`, with a text alternative."""
    link = activation_link(code)
    svg = segno.make(link, error="m").svg_inline(
        scale=5, title="QR code: opens the HEP app's activation screen", svgclass="qr", lineclass=None
    )
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="QR code for the activation link" ', 1))


@bp.route("/patients/new", methods=["GET", "POST"])
def invite():
    """Invite a patient: they get an activation code (and a QR code) for the app."""
    actor = current_staff()
    physios = people.physiotherapists(actor)
    form = request.form if request.method == "POST" else {}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        raw = {
            "name": text(form, "name"),
            "email": text(form, "email"),
            "phone": text(form, "phone"),
            "timezone": text(form, "timezone"),
            "language": text(form, "language") or "en",
            "physiotherapist_id": text(form, "physiotherapist_id"),
        }
        try:
            body = PatientCreateSchema().load({k: v for k, v in raw.items() if v is not None})
            patient, activation = accounts.invite_patient(
                actor, **body, now=utcnow(), activation_ttl=current_app.config["ACTIVATION_CODE_TTL"]
            )
        except (ma.ValidationError, DomainError) as exc:
            errors = errors_from(exc)
        else:
            return render_template(
                "web/invited.html", patient=patient, activation=activation, qr=activation_qr(activation.code)
            )
    return (
        render_template(
            "web/invite.html",
            form=form,
            errors=errors,
            physios=physios,
            zones=time_zones(),
            default_zone=actor.clinic.timezone,
        ),
        422 if errors else 200,
    )


@bp.post("/patients/<id:patient_id>/activation")
def reinvite(patient_id: int):
    """A fresh activation code (the previous one stops working)."""
    actor = current_staff()
    activation = accounts.reinvite_patient(
        actor, patient_id, now=utcnow(), activation_ttl=current_app.config["ACTIVATION_CODE_TTL"]
    )
    patient = accounts.get_patient(actor, patient_id)
    return render_template(
        "web/invited.html", patient=patient, activation=activation, qr=activation_qr(activation.code)
    )


# --- one patient -----------------------------------------------------------------------------


@bp.get("/patients/<id:patient_id>")
def patient(patient_id: int):
    """Everything about one patient: routine, adherence, pain, logs, sessions, reminders, consent."""
    actor, now = current_staff(), utcnow()
    found = overview.patient_overview(actor, patient_id, days=HISTORY_DAYS, now=now)
    patient, today, view = found.patient, found.today, found.view
    active = [r for r in found.routines if r.archived_at is None]
    upcoming = [s for s in found.sessions if s.status == SCHEDULED and s.starts_at >= now]
    past = [s for s in reversed(found.sessions) if s not in upcoming][:10]
    zone = ZoneInfo(patient.timezone)
    session_days = [s.starts_at.astimezone(zone).date() for s in found.sessions if s.status != "cancelled"]
    return render_template(
        "web/patient.html",
        patient=patient,
        routines=active,
        routine_safety={
            r.id: safety.for_exercises(item.exercise for phase in r.current.phases for item in phase.items)
            for r in active
        },
        archived=[r for r in found.routines if r.archived_at is not None],
        view=view,
        heatmap=charts.heatmap(view["days"], today),
        pain=charts.pain_chart(view["days"], session_days),
        session_days=set(session_days),
        recent=found.recent,
        upcoming=upcoming,
        past=past,
        sms=found.sms,
        history=found.history,
        templates=templates.list_templates(actor),
        today=today,
        clinic_zone=actor.clinic.timezone,
        now=now,
    )


@bp.post("/patients/<id:patient_id>/consent")
def record_consent(patient_id: int):
    """Record (or withdraw) the patient's consent to reminder texts."""
    actor, now = current_staff(), utcnow()
    accounts.get_patient(actor, patient_id)
    action = request.form.get("action")
    try:
        if action == "withdraw":
            consent.revoke(actor, patient_id, now=now)
            flash("Consent withdrawn: no more texts.", "success")
        else:
            method = request.form.get("method")
            if method not in ("verbal", "written"):
                raise Invalid("method", "choose how consent was given: verbal or written")
            consent.grant(actor, patient_id, method, now=now)
            flash("Consent recorded; a confirmation text will go out inside the allowed hours.", "success")
    except DomainError as exc:
        flash(f"Could not change consent: {exc.detail}", "error")
    return redirect(url_for("web.patient", patient_id=patient_id, _anchor="texts"))
