"""Needling sessions: schedule, reschedule, cancel, complete (through the sessions service, which
re-plans the patient's reminders after every change)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for

from hep.accounts import reads as people
from hep.accounts import service as accounts
from hep.dbtypes import utcnow
from hep.errors import DomainError, Invalid
from hep.sessions import service as sessions
from hep.sessions.models import CANCELLED, COMPLETED, NO_SHOW
from hep.web import bp
from hep.web.auth import current_staff
from hep.web.patients import chosen_physio

DURATIONS = (15, 20, 30, 45, 60, 90)


def _starts_at(form, timezone: str) -> datetime:
    """The start the form names, as an aware datetime in the clinic's time zone."""
    try:
        day = date.fromisoformat(form.get("date", ""))
    except ValueError:
        raise Invalid("date", "choose a date") from None
    try:
        clock = time.fromisoformat(form.get("time", ""))
    except ValueError:
        raise Invalid("time", "choose a time") from None
    return datetime.combine(day, clock, ZoneInfo(timezone))


def _duration(form) -> int:
    value = form.get("duration_minutes", type=int)
    if value is None or not 5 <= value <= 240:
        raise Invalid("duration_minutes", "must be between 5 and 240 minutes")
    return value


def _notes(form, name: str = "notes", limit: int = 2000) -> str | None:
    notes = (form.get(name) or "").strip()
    if len(notes) > limit:
        raise Invalid(name, f"is longer than {limit} characters")
    return notes or None


@bp.post("/patients/<id:patient_id>/sessions")
def schedule(patient_id: int):
    """Book a needling session; the patient's reminders are re-planned."""
    actor = current_staff()
    accounts.get_patient(actor, patient_id)
    try:
        data = {
            "starts_at": _starts_at(request.form, actor.clinic.timezone),
            "duration_minutes": _duration(request.form),
            "notes": _notes(request.form),
            "patient_note": _notes(request.form, "patient_note", 500),
        }
        booked = sessions.schedule(actor, patient_id, data, now=utcnow())
    except DomainError as exc:
        flash(f"Session not booked: {exc.detail}", "error")
    else:
        when = booked.starts_at.astimezone(ZoneInfo(actor.clinic.timezone)).strftime("%a %d %b %Y, %H:%M")
        flash(f"Session booked for {when}.", "success")
    return redirect(url_for("web.patient", patient_id=patient_id, _anchor="sessions"))


@bp.route("/sessions/<id:session_id>", methods=["GET", "POST"])
def session_page(session_id: int):
    """One session: reschedule it, cancel it, or record how it went."""
    actor = current_staff()
    if request.method == "GET":
        session = sessions.read_session(actor, session_id, now=utcnow())
    else:
        session = sessions.get_session(actor, session_id)  # the change it makes is audited
    patient = accounts.get_patient(actor, session.patient_id)
    zone = actor.clinic.timezone
    error = None
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "reschedule":
                changes = {
                    "starts_at": _starts_at(request.form, zone),
                    "duration_minutes": _duration(request.form),
                    "notes": _notes(request.form),
                    "patient_note": _notes(request.form, "patient_note", 500),
                }
            elif action in (CANCELLED, COMPLETED, NO_SHOW):
                changes = {"status": action}
            else:
                raise Invalid("action", "choose what to do with the session")
            sessions.change(actor, session_id, changes, now=utcnow())
        except DomainError as exc:  # the service changed nothing
            error = exc.detail
        else:
            flash(
                {
                    "reschedule": "Session moved; reminders follow.",
                    CANCELLED: "Session cancelled; its reminder is withdrawn.",
                    COMPLETED: "Session marked as done.",
                    NO_SHOW: "Session marked as missed.",
                }[action],
                "success",
            )
            return redirect(url_for("web.patient", patient_id=session.patient_id, _anchor="sessions"))
    local = session.starts_at.astimezone(ZoneInfo(zone))
    return (
        render_template(
            "web/session.html",
            session=session,
            patient=patient,
            local=local,
            zone=zone,
            durations=DURATIONS,
            error=error,
        ),
        422 if error else 200,
    )


@bp.get("/sessions")
def sessions_list():
    """A physiotherapist's upcoming sessions (the caller's own by default)."""
    actor, now = current_staff(), utcnow()
    physios = people.physiotherapists(actor)
    physio_id = chosen_physio(actor, physios)
    rows = []
    if physio_id is not None:
        rows = sessions.upcoming_sessions(actor, physio_id, now=now, limit=100)
    names = people.patient_names(actor, {s.patient_id for s in rows})
    return render_template(
        "web/sessions.html",
        rows=rows,
        names=names,
        physios=physios,
        physio_id=physio_id,
        zone=actor.clinic.timezone,
        durations=DURATIONS,
    )
