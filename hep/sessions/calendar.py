"""The patient's sessions as an iCalendar feed. Calendars sync to third-party services, so events say
only the clinic's calendar label ("Appointment" unless it chose another, checked by hep/wording.py):
not the clinic's name, which may well say "IMS" or "physio", and no treatment or health detail."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from hep.accounts.models import Patient
from hep.sessions.models import CANCELLED, NeedlingSession
from hep.wording import CALENDAR_DEFAULT


def render(patient: Patient, sessions: list[NeedlingSession], *, now: datetime) -> bytes:
    """An RFC 5545 calendar of the sessions."""
    clinic = patient.user.clinic
    label = clinic.calendar_label or CALENDAR_DEFAULT
    calendar = Calendar()
    calendar.add("prodid", "-//HEP//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", label)
    for session in sessions:
        event = Event()
        event.add("uid", f"session-{session.id}@hep")
        event.add("dtstamp", now)
        event.add("last-modified", session.updated_at)
        event.add("sequence", session.sequence)
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("summary", label)
        event.add("status", "CANCELLED" if session.status == CANCELLED else "CONFIRMED")
        if clinic.contact_phone:
            event.add("description", f"Questions or changes: {clinic.contact_phone}")
        calendar.add_component(event)
    return calendar.to_ical()
