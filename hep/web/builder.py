"""The routine builder: phases of exercises with dosage, started blank, from a template or from the
current version, and saved through the programs service (a new routine, or a new version).

The page is one form; what is being built travels in its fields, and every button (add, move,
remove, add a phase, save) posts the whole form back. So it works without JavaScript, keyboard
and all; app.js only adds search-as-you-type to the exercise picker.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import marshmallow as ma
from flask import flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from hep.accounts import service as accounts
from hep.accounts.models import Patient, User
from hep.dbtypes import utcnow
from hep.errors import DomainError
from hep.extensions import db
from hep.library import service as library
from hep.library.models import Exercise
from hep.library.schemas import CATEGORIES, CONDITIONS, REGIONS
from hep.programs import service as programs
from hep.programs import templates
from hep.programs.models import SIDES, WEEKDAYS, Routine
from hep.programs.schemas import RoutineInSchema
from hep.web import bp
from hep.web.auth import current_staff
from hep.web.forms import errors_from

ITEM_FIELDS = (
    "exercise",
    "sets",
    "reps",
    "hold_seconds",
    "rest_seconds",
    "side",
    "load",
    "times_per_day",
    "days_per_week",
    "notes",
)
NULLABLE = {"reps", "hold_seconds", "load", "days_per_week", "notes"}
MAX_PHASES, MAX_ITEMS = 8, 30
PICKER_LIMIT = 12
_PHASE = re.compile(r"^phases-(\d{1,2})-name$")
_ITEM = re.compile(r"^phases-(\d{1,2})-items-(\d{1,2})-exercise$")


# --- the state of the form -----------------------------------------------------------------------


def _s(value) -> str:
    return "" if value is None else str(value)


def _item_state(item) -> dict:
    get = item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d)
    state = {name: _s(get(name)) for name in ITEM_FIELDS}
    state["exercise"] = get("exercise") if isinstance(item, dict) else item.slug
    weekdays = get("weekdays")
    state["weekdays"] = list(weekdays or [])
    if weekdays:
        state["days_per_week"] = ""
    state["side"] = state["side"] or "both"
    return state


def blank_state(start: date) -> dict:
    return {
        "title": "",
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(weeks=6, days=-1)).isoformat(),
        "notes": "",
        "template": "",
        "phases": [{"name": "Phase 1", "start_date": start.isoformat(), "items": []}],
    }


def state_from_content(content) -> dict:
    """The form state of a routine body (a template's draft) or a stored version."""
    get = content.get if isinstance(content, dict) else lambda k, d=None: getattr(content, k, d)
    phases = get("phases")
    return {
        "title": _s(get("title")),
        "start_date": _s(get("start_date")),
        "end_date": _s(get("end_date")),
        "notes": _s(get("notes")),
        "template": _s(get("template") if isinstance(content, dict) else content.template_key),
        "phases": [
            {
                "name": _s(p["name"] if isinstance(p, dict) else p.name),
                "start_date": _s(p["start_date"] if isinstance(p, dict) else p.start_date),
                "items": [_item_state(i) for i in (p["items"] if isinstance(p, dict) else p.items)],
            }
            for p in phases
        ],
    }


def state_from_form(form: MultiDict) -> dict:
    """Rebuild what is being built from the posted fields (indexes may have gaps; order is kept)."""
    phase_ids = sorted({int(m.group(1)) for key in form if (m := _PHASE.match(key))})[:MAX_PHASES]
    phases = []
    for p in phase_ids:
        item_ids = sorted({int(m.group(2)) for key in form if (m := _ITEM.match(key)) and int(m.group(1)) == p})
        items = []
        for i in item_ids[:MAX_ITEMS]:
            prefix = f"phases-{p}-items-{i}-"
            item = {name: (form.get(prefix + name) or "").strip() for name in ITEM_FIELDS}
            item["weekdays"] = [d for d in WEEKDAYS if d in form.getlist(prefix + "weekdays")]
            items.append(item)
        phases.append(
            {
                "name": (form.get(f"phases-{p}-name") or "").strip(),
                "start_date": (form.get(f"phases-{p}-start_date") or "").strip(),
                "items": items,
            }
        )
    state = {name: (form.get(name) or "").strip() for name in ("title", "start_date", "end_date", "notes", "template")}
    state["phases"] = phases or [{"name": "Phase 1", "start_date": state["start_date"], "items": []}]
    return state


def body_from_state(state: dict) -> dict:
    """What RoutineInSchema loads: empty fields left out (required ones then say so) or null."""

    def put(target: dict, name: str, value: str | list | None, nullable: bool) -> None:
        if value in ("", None, []):
            if nullable:
                target[name] = None
            return
        target[name] = value

    body: dict = {"title": state["title"]}
    put(body, "start_date", state["start_date"], False)
    put(body, "end_date", state["end_date"], True)
    put(body, "notes", state["notes"], True)
    put(body, "template", state["template"], True)
    body["phases"] = []
    for p, phase in enumerate(state["phases"]):
        out = {"name": phase["name"], "items": []}
        put(out, "start_date", state["start_date"] if p == 0 else phase["start_date"], False)
        for item in phase["items"]:
            entry: dict = {}
            for name in ITEM_FIELDS:
                put(entry, name, item[name], name in NULLABLE)
            if item["weekdays"]:
                entry["weekdays"], entry["days_per_week"] = item["weekdays"], None
            out["items"].append(entry)
        body["phases"].append(out)
    return body


# --- the buttons ---------------------------------------------------------------------------------


def _dosage_from_default(exercise: Exercise) -> dict:
    d = exercise.default_dosage or {}
    return {
        "exercise": exercise.slug,
        "sets": _s(d.get("sets", 2)),
        "reps": _s(d.get("reps")),
        "hold_seconds": _s(d.get("hold_seconds")),
        "rest_seconds": _s(d.get("rest_seconds", 30)),
        "side": "both",
        "load": "",
        "times_per_day": _s(d.get("times_per_day", 1)),
        "days_per_week": _s(d.get("days_per_week", 7)),
        "weekdays": [],
        "notes": "",
    }


def _index(raw: str, size: int) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) < size else None


def apply(state: dict, action: str, form: MultiDict, actor: User) -> tuple[str | None, str | None]:
    """Do one button's change to `state` in place; return (id of the control to focus, message)."""
    phases = state["phases"]
    verb, _, arg = action.partition(":")
    if verb == "add":
        p = _index(form.get("add_phase", ""), len(phases))
        p = len(phases) - 1 if p is None else p
        try:
            exercise = library.get_exercise(actor.clinic_id, arg)
        except DomainError:
            return None, "That exercise is not in your library."
        if exercise.archived:
            return None, f"{exercise.name} is archived and cannot be prescribed."
        if len(phases[p]["items"]) >= MAX_ITEMS:
            return None, f"A phase holds at most {MAX_ITEMS} exercises."
        phases[p]["items"].append(_dosage_from_default(exercise))
        return (
            f"f-phases-{p}-items-{len(phases[p]['items']) - 1}-sets",
            f"Added {exercise.name} to {phases[p]['name']}.",
        )
    if verb in ("up", "down", "remove"):
        p_raw, _, i_raw = arg.partition(".")
        p = _index(p_raw, len(phases))
        items = phases[p]["items"] if p is not None else []
        i = _index(i_raw, len(items))
        if i is None:
            return None, None
        if verb == "remove":
            items.pop(i)
            return f"f-phases-{p}-name", None
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(items):
            items[i], items[j] = items[j], items[i]
            return f"move-{verb}-{p}-{j}", None
        return None, None
    if verb == "add-phase":
        if len(phases) >= MAX_PHASES:
            return None, f"A routine has at most {MAX_PHASES} phases."
        try:
            last = date.fromisoformat(phases[-1]["start_date"] if len(phases) > 1 else state["start_date"])
            start = (last + timedelta(weeks=2)).isoformat()
        except ValueError:
            start = ""
        phases.append({"name": f"Phase {len(phases) + 1}", "start_date": start, "items": []})
        return f"f-phases-{len(phases) - 1}-name", None
    if verb == "remove-phase":
        p = _index(arg, len(phases))
        if p is not None and len(phases) > 1:
            phases.pop(p)
            phases[0]["start_date"] = state["start_date"]
        return "f-title", None
    return None, None


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
    query = library.search_query(
        actor.clinic_id,
        q=filters["q"] or None,
        condition=[filters["condition"]] if filters["condition"] else None,
        region=[filters["region"]] if filters["region"] else None,
        category=[filters["category"]] if filters["category"] else None,
    )
    found = list(db.session.scalars(query.order_by(Exercise.name, Exercise.id).limit(PICKER_LIMIT)))
    linked = {
        row["slug"]: row
        for row in library.links(actor.clinic_id, [s for e in found for s in e.progressions + e.regressions])
    }
    return [
        {
            "exercise": e,
            "easier": [linked[s] for s in e.regressions if s in linked],
            "harder": [linked[s] for s in e.progressions if s in linked],
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
    return {row["slug"]: row["name"] for row in library.links(actor.clinic_id, slugs)}


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
