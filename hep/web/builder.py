"""The routine builder: phases of exercises with dosage, started blank, from a template or from the
current version, and saved through the programs service (a new routine, or a new version).

The page is one form; what is being built travels in its fields (hep/web/routine_form.py), and
every button (add, move, remove, add a phase, save) posts the whole form back. So it works without
JavaScript, keyboard and all; app.js only adds search-as-you-type to the exercise picker.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
from flask import flash, redirect, render_template, request, url_for

from hep.accounts import service as accounts
from hep.accounts.models import Patient, User
from hep.dbtypes import utcnow
from hep.errors import DomainError
from hep.library import safety
from hep.library import service as library
from hep.library.schemas import CATEGORIES, CONDITIONS, REGIONS
from hep.programs import service as programs
from hep.programs import templates
from hep.programs.models import SIDES, Routine
from hep.programs.schedule import WEEKDAYS
from hep.programs.schemas import RoutineInSchema
from hep.web import bp
from hep.web.auth import current_staff
from hep.web.forms import errors_from
from hep.web.routine_form import MAX_PHASES, apply, blank_state, body_from_state, state_from_content, state_from_form

PICKER_LIMIT = 12


# --- the exercise picker -------------------------------------------------------------------------


def _picker_filters(source) -> dict:
    return {
        "q": (source.get("q") or "").strip()[:100],
        "condition": source.get("condition") if source.get("condition") in CONDITIONS else "",
        "region": source.get("region") if source.get("region") in REGIONS else "",
        "category": source.get("category") if source.get("category") in CATEGORIES else "",
    }


def picker_results(actor: User, filters: dict) -> list[dict] | None:
    """Exercises matching the picker's filters with their steps and linked progressions; None when
    nothing was asked for."""
    if not any(filters.values()):
        return None
    found = library.find(
        actor.clinic_id,
        limit=PICKER_LIMIT,
        q=filters["q"] or None,
        condition=[filters["condition"]] if filters["condition"] else None,
        region=[filters["region"]] if filters["region"] else None,
        category=[filters["category"]] if filters["category"] else None,
    )
    linked = library.resolve_links(actor.clinic_id, [s for e in found for s in e.progressions + e.regressions])
    blocks = safety.live_blocks()
    return [
        {
            "exercise": e,
            "easier": [linked[s] for s in e.regressions if s in linked],
            "harder": [linked[s] for s in e.progressions if s in linked],
            "safety": safety.shown(e.safety or [], blocks),
        }
        for e in found
    ]


@bp.get("/routines/picker")
def picker():
    """The picker's results alone, for search-as-you-type."""
    actor = current_staff()
    filters = _picker_filters(request.args)
    phases = max(1, min(request.args.get("phases", 1, type=int), MAX_PHASES))
    return render_template("web/_picker_results.html", results=picker_results(actor, filters), phase_count=phases)


# --- pages ---------------------------------------------------------------------------------------


def _names(actor: User, state: dict) -> dict[str, str]:
    slugs = [item["exercise"] for phase in state["phases"] for item in phase["items"]]
    return {given: row["name"] for given, row in library.resolve_links(actor.clinic_id, slugs).items()}


def _safety(actor: User, state: dict) -> list[dict]:
    """The safety blocks the patient will be shown for what is being built, each once."""
    slugs = {item["exercise"] for phase in state["phases"] for item in phase["items"]}
    return safety.for_exercises(library.by_slugs(actor.clinic_id, slugs, include_archived=True).values())


def _template(actor: User, key: str):
    """The template a routine was laid out from, for its sources; None when gone or not the clinic's."""
    if not key:
        return None
    try:
        return templates.get_template(actor, key)
    except DomainError:
        return None


def _render(actor, patient: Patient, routine: Routine | None, state, *, errors=None, focus=None, status=200):
    source = request.form if request.method == "POST" else request.args
    filters = _picker_filters(source)
    return (
        render_template(
            "web/builder.html",
            patient=patient,
            routine=routine,
            state=state,
            names=_names(actor, state),
            safety_blocks=_safety(actor, state),
            pain_rule=safety.clinic_pain_rule(actor.clinic),
            template=_template(actor, state["template"]),
            errors=errors or {},
            focus=focus,
            filters=filters,
            results=picker_results(actor, filters),
            templates=templates.list_templates(actor) if routine is None else [],
            conditions=CONDITIONS,
            regions=REGIONS,
            categories=CATEGORIES,
            sides=SIDES,
            weekdays=WEEKDAYS,
            today=programs.local_today(patient, utcnow()),
        ),
        status,
    )


def _post(actor: User, patient: Patient, routine: Routine | None):
    state = state_from_form(request.form)
    action = request.form.get("action") or "update"
    if action != "save":
        focus, message = apply(state, action, request.form, actor)
        if message:
            flash(message, "info")
        return _render(actor, patient, routine, state, focus=focus)
    try:
        body = RoutineInSchema().load(body_from_state(state))
        now = utcnow()
        if routine is None:
            saved = programs.create_routine(actor, patient.user_id, body, now=now)
            flash(f"Routine “{saved.current.title}” saved.", "success")
        else:
            saved, created = programs.revise_routine(actor, routine.id, body, now=now)
            if created:
                flash(f"Saved as version {saved.current.number}; it applies from today.", "success")
            else:
                flash("Nothing changed, so no new version was saved.", "info")
    except (ma.ValidationError, DomainError) as exc:
        errors = errors_from(exc)
        return _render(actor, patient, routine, state, errors=errors, status=422)
    return redirect(url_for("web.patient", patient_id=patient.user_id, _anchor="routines"))


@bp.route("/patients/<id:patient_id>/routines/new", methods=["GET", "POST"])
def new_routine(patient_id: int):
    """Build a new routine, blank or from a template laid out from a start date."""
    actor = current_staff()
    patient = accounts.get_patient(actor, patient_id)
    if request.method == "POST":
        return _post(actor, patient, None)
    today = programs.local_today(patient, utcnow())
    try:
        start = date.fromisoformat(request.args.get("start_date") or today.isoformat())
    except ValueError:
        start = today
    key = request.args.get("template")
    state = blank_state(start)
    if key:
        try:
            state = state_from_content(templates.draft(templates.get_template(actor, key), start))
        except DomainError:
            flash("That template is not available; starting blank.", "error")
    return _render(actor, patient, None, state)


@bp.route("/routines/<id:routine_id>/edit", methods=["GET", "POST"])
def edit_routine(routine_id: int):
    """Change a routine; saving adds a version that governs from the patient's today."""
    actor = current_staff()
    routine = programs.get_routine(actor, routine_id)
    patient = accounts.get_patient(actor, routine.patient_id)
    if request.method == "POST":
        return _post(actor, patient, routine)
    return _render(actor, patient, routine, state_from_content(routine.current))


@bp.post("/routines/<id:routine_id>/archive")
def archive_routine(routine_id: int):
    """Stop a routine; its history stays."""
    actor = current_staff()
    routine = programs.get_routine(actor, routine_id)
    programs.archive_routine(actor, routine_id, now=utcnow())
    flash(f"Routine “{routine.current.title}” stopped.", "success")
    return redirect(url_for("web.patient", patient_id=routine.patient_id, _anchor="routines"))
