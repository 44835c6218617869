"""Changes that one area announces and others act on (blinker, which Flask itself uses).

Lower areas (accounts, programs, sessions) send these after their change is committed and never
import the areas that listen; the reminders area subscribes (hep/reminders/subscriptions.py) and
re-plans. Every receiver gets keyword arguments only.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# patient_id, now: a routine, session, time zone, phone, activity or reminder-time change of one patient.
patient_changed = _signals.signal("patient-changed")
# clinic_id, now: the clinic's reminder rules (window, times, caps, needling-day rule) changed.
clinic_rules_changed = _signals.signal("clinic-rules-changed")
# patient_id, now: text consent was given, withdrawn, lost or regained.
consent_changed = _signals.signal("consent-changed")
