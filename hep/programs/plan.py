"""The patient's day: what is due today, what is already logged, and the routine with instructions."""

from __future__ import annotations

from datetime import datetime

from hep.accounts.models import User
from hep.accounts.service import get_patient
from hep.adherence.metrics import day_logs, week_start
from hep.programs.service import items_on, local_today, routines_for, version_on
from hep.sessions.service import next_session


def today_plan(actor: User, patient_id: int, *, now: datetime) -> dict:
    """Items due today in the patient's time zone, with what is logged so far."""
    patient = get_patient(actor, patient_id)
    today = local_today(patient, now)
    routines = routines_for([patient_id])[patient_id]
    monday = week_start(today)
    logs = {day: v for (_pid, day), v in day_logs([patient_id], monday, today).items()}
    todays = logs.get(today)
    items = []
    for routine, item in items_on(routines, today):
        key = (item.exercise_id, item.side)
        days_done = sum(1 for day, v in logs.items() if v.credit.get(key, 0) > 0)
        done_today = todays.credit.get(key, 0.0) if todays else 0.0
        if item.flexible:
            if days_done >= item.days_per_week and done_today == 0:
                continue  # this week's days are done
        elif not item.fixed_on(today):
            continue
        items.append(
            {
                "routine_id": routine.id,
                "item_id": item.id,
                "exercise": item.exercise,
                **{
                    k: getattr(item, k)
                    for k in (
                        "sets",
                        "reps",
                        "hold_seconds",
                        "rest_seconds",
                        "side",
                        "load",
                        "notes",
                        "days_per_week",
                        "weekdays",
                    )
                },
                "flexible": item.flexible,
                "times_due": item.times_per_day,
                "done_today": round(min(done_today, item.times_per_day), 3),
                "days_done_this_week": days_done,
            }
        )
    return {"date": today, "timezone": patient.timezone, "items": items, "next_session": next_session(patient_id, now)}


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
    return {"date": today, "routines": result}
