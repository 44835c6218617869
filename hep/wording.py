"""Wording that leaves HEP (text messages, calendar events) must not reveal health information: a lock
screen or a third-party calendar can be read by anyone."""

from __future__ import annotations

# Words that would reveal health information on a lock screen.
HEALTH_WORDS = (
    "needl",
    "ims",
    "pain",
    "injur",
    "diagnos",
    "treatment",
    "therap",
    "tendin",
    "backache",
    "spine",
    "lumbar",
    "neck",
    "shoulder",
    "headache",
    "tunnel",
    "plantar",
    "achilles",
    "elbow",
    "knee",
    "dolor",
    "douleur",
)

# A calendar event has no clinic name to excuse them, so it may not name health care at all.
CARE_WORDS = (
    "physio",
    "rehab",
    "clinic",
    "health",
    "medic",
    "hospital",
    "doctor",
    "osteo",
    "chiro",
    "massage",
    "acupunct",
)
CALENDAR_DEFAULT = "Appointment"


def health_details(text: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Why `text` reveals health information: one reason per health word it uses (empty when none)."""
    words = [w.strip(".,:;!?'\"()-") for w in text.lower().split()]
    return [
        f"mentions health details ({stem!r})"
        for stem in (*HEALTH_WORDS, *extra)
        if any(w.startswith(stem) for w in words)
    ]


def calendar_label_problems(label: str) -> list[str]:
    """Why a clinic's calendar label may not appear in patients' calendars (empty when it may)."""
    return health_details(label, CARE_WORDS)
