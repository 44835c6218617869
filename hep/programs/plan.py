"""The patient's day: what is due today, what is already logged, and the routine with instructions."""

from __future__ import annotations

from datetime import datetime

from hep.accounts.models import User
from hep.accounts.service import get_patient
from hep.adherence.metrics import day_logs, week_start
from hep.library import safety
from hep.programs.compiled import exercise_summaries, governing_versions
from hep.programs.service import local_today, routines_for, version_on
from hep.sessions.service import next_session


def today_plan(actor: User, patient_id: int, *, now: datetime) -> dict:
    """Items due today in the patient's time zone, with what is logged so far."""
    patient = get_patient(actor, patient_id)
    today = local_today(patient, now)
    in_effect = []
    for version in governing_versions(patient_id, today):
        phase = version.phase_on(today)
        if phase is not None:
            in_effect.extend((version.routine_id, item) for item in phase.items)
    pain_rule = safety.clinic_pain_rule(patient.user.clinic)
    if not in_effect:
        return {
            "date": today,
            "timezone": patient.timezone,
            "items": [],
            "next_session": next_session(patient_id, now),
            "safety": [],
            "pain_rule": pain_rule,
        }
    monday = week_start(today)
    logs = {day: v for (_pid, day), v in day_logs([patient_id], monday, today).items()}
    todays = logs.get(today)
    exercises = exercise_summaries({item.exercise_id for _routine_id, item in in_effect})
    safety_keys = safety.keys_by_exercise(item.exercise_id for _routine_id, item in in_effect)
    items = []
    for routine_id, item in in_effect:
        key = (item.exercise_id, item.side)
        days_done = sum(1 for v in logs.values() if v.credit.get(key, 0) > 0)
        done_today = todays.credit.get(key, 0.0) if todays else 0.0
        if item.flexible:
            if days_done >= item.days_per_week and done_today == 0:
                continue  # this week's days are done
        elif not item.fixed_on(today):
            continue
        items.append(
            {
                "routine_id": routine_id,
                "item_id": item.id,
                "exercise": exercises[item.exercise_id],
                "sets": item.sets,
                "reps": item.reps,
                "hold_seconds": item.hold_seconds,
                "rest_seconds": item.rest_seconds,
                "side": item.side,
                "load": item.load,
                "rep_max": item.rep_max,
                "progression": item.progression,
                "notes": item.notes,
                "days_per_week": item.days_per_week,
                "weekdays": list(item.weekdays) if item.weekdays is not None else None,
                "flexible": item.flexible,
                "times_due": item.times_per_day,
                "done_today": round(min(done_today, item.times_per_day), 3),
                "days_done_this_week": days_done,
                "safety": safety_keys.get(item.exercise_id, []),
            }
        )
    return {
        "date": today,
        "timezone": patient.timezone,
        "items": items,
        "next_session": next_session(patient_id, now),
        "safety": safety.shown(key for entry in items for key in entry["safety"]),
        "pain_rule": pain_rule,
    }


def current_routines(actor: User, patient_id: int, *, now: datetime) -> dict:
    """The routines in effect now, each with its current phase and the exercises' instructions."""
    patient = get_patient(actor, patient_id)
    today = local_today(patient, now)
    result = []
    for routine in routines_for([patient_id])[patient_id]:
        version = version_on(routine, today)
        phase = version.phase_on(today)
        upcoming = [p for p in version.phases if p.start_date > today]
        if phase is None and not upcoming:
            continue
        shown = phase or upcoming[0]
        result.append(
            {
                "routine_id": routine.id,
                "title": version.title,
                "version": version.number,
                "start_date": version.start_date,
                "end_date": version.end_date,
                "notes": version.notes,
                "phase": shown.name,
                "phase_start_date": shown.start_date,
                "next_phase_date": next(
                    (p.start_date for p in version.phases if p.start_date > shown.start_date), None
                ),
                "items": shown.items,
            }
        )
    shown_exercises = [item.exercise for routine in result for item in routine["items"]]
    return {
        "date": today,
        "routines": result,
        "safety": safety.for_exercises(shown_exercises),
        "pain_rule": safety.clinic_pain_rule(patient.user.clinic),
    }
