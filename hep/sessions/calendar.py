"""The patient's sessions as an iCalendar feed. Titles say only "Appointment at <clinic>":
calendars sync to third-party services, so no treatment or health detail goes into them."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from hep.accounts.models import Patient
from hep.sessions.models import CANCELLED, NeedlingSession


def render(patient: Patient, sessions: list[NeedlingSession], *, now: datetime) -> bytes:
    """An RFC 5545 calendar of the sessions."""
    clinic = patient.user.clinic
    calendar = Calendar()
    calendar.add("prodid", "-//HEP//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{clinic.name} appointments")
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.id}@hep")
        event.add("dtstamp", now)
        event.add("last-modified", session.updated_at)
        event.add("sequence", session.sequence)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", f"Appointment at {clinic.name}")
        event.add("status", "CANCELLED" if session.status == CANCELLED else "CONFIRMED")
        if clinic.contact_phone:
            event.add("description", f"Questions or changes: {clinic.contact_phone}")
        calendar.add_component(event)
    return calendar.to_ical()
