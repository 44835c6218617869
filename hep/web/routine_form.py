"""The routine builder's form: what is being built, as posted fields, and what each button does to it.

Pure functions of the posted fields (and, for "add", the library), so they are easy to test and
the builder's views stay short. The body they produce is what RoutineInSchema loads, exactly as the
API's POST /patients/{id}/routines takes it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from werkzeug.datastructures import MultiDict

from hep.accounts.models import User
from hep.errors import DomainError
from hep.library import service as library
from hep.library.models import Exercise
from hep.programs.schedule import WEEKDAYS

ITEM_FIELDS = (
    "exercise",
    "sets",
    "reps",
    "hold_seconds",
    "rest_seconds",
    "side",
    "load",
    "rep_max",
    "progression",
    "times_per_day",
    "days_per_week",
    "notes",
)
NULLABLE = {"reps", "hold_seconds", "load", "rep_max", "progression", "days_per_week", "notes"}
MAX_PHASES, MAX_ITEMS = 8, 30
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
                put(entry, name, item.get(name, ""), name in NULLABLE)
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
        "rep_max": _s(d.get("rep_max")),
        "progression": _s(d.get("progression")),
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
