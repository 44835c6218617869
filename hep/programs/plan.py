"""The patient's day: what is due today, what is already logged, and the routine with instructions."""

from __future__ import annotations

from datetime import datetime

from hep.accounts.models import User
from hep.accounts.service import get_patient
from hep.adherence.metrics import day_logs
from hep.library import safety
from hep.programs import schedule
from hep.programs.compiled import exercise_cards, live_routines
from hep.programs.service import local_today, routines_for
from hep.sessions.service import next_session


def today_plan(actor: User, patient_id: int, *, now: datetime) -> dict:
    """Items due today in the patient's time zone (hep/programs/schedule.py's due_on), with what is logged so far."""
    patient = get_patient(actor, patient_id)
    today = local_today(patient, now)
    routines = live_routines([patient_id], today)[patient_id]
    pain_rule = safety.clinic_pain_rule(patient.user.clinic)
    if not schedule.items_on(routines, today):
        return {
            "date": today,
            "timezone": patient.timezone,
            "items": [],
            "next_session": next_session(patient_id, now),
            "safety": [],
            "pain_rule": pain_rule,
        }
    logs = day_logs([patient_id], schedule.week_start(today), today)
    credit = {day: v.credit for (_pid, day), v in logs.items()}
    due = schedule.due_on(routines, today, credit)
    cards = exercise_cards({item.exercise_id for _routine, item in due})
    todays = credit.get(today, {})
    items = [
        {
            "routine_id": routine.id,
            "item_id": item.id,
            "exercise": cards[item.exercise_id].summary,
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
            "done_today": round(min(todays.get(schedule.key_of(item), 0.0), item.times_per_day), 3),
            "days_done_this_week": schedule.days_done(item, today, credit),
            "safety": list(cards[item.exercise_id].safety),
        }
        for routine, item in due
    ]
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
        version = schedule.version_on(routine, today)
        phase = schedule.phase_on(version, today)
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
