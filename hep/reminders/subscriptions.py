"""What the reminders area does when other areas announce a change (hep/signals.py): re-plan.

A re-plan that fails is logged and left to the scheduler's next plan run (every 10 minutes); the
dispatcher checks every reminder against the rules in force before sending, so a late or failed
re-plan never sends a wrong text.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from hep import signals
from hep.extensions import db
from hep.reminders import consent, planner

log = logging.getLogger(__name__)


def on_patient_changed(_sender=None, *, patient_id: int, now: datetime) -> None:
    """A routine, session, time zone, phone, activity or reminder-time change: follow it."""

    def follow() -> None:
        consent.follow_phone(patient_id, now=now)
        planner.replan([patient_id], now)

    _guarded(f"patient {patient_id}", follow)


def on_consent_changed(_sender=None, *, patient_id: int, now: datetime) -> None:
    """Consent given, withdrawn, lost or regained: plan (or withdraw) at once, not at the next plan run."""
    _guarded(f"patient {patient_id}", lambda: planner.replan([patient_id], now))


def on_clinic_rules_changed(_sender=None, *, clinic_id: int, now: datetime) -> None:
    """The clinic's window, times, caps or needling-day rule changed: re-plan its patients."""
    _guarded(f"clinic {clinic_id}", lambda: planner.replan_clinic(clinic_id, now))


def _guarded(what: str, work) -> None:
    try:
        work()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("re-planning reminders for %s failed; the scheduler's next plan run catches up", what)


def connect() -> None:
    """Subscribe to the announcements (idempotent: a receiver is connected once however often this runs)."""
    signals.patient_changed.connect(on_patient_changed)
    signals.consent_changed.connect(on_consent_changed)
    signals.clinic_rules_changed.connect(on_clinic_rules_changed)
