"""What a push notification says: like a text, the clinic's name and a pointer to the app, nothing clinical.

A notification shows on a lock screen, so it never names an exercise, a body part, pain or treatment;
the texts come from the shared catalogues (hep/i18n), in the patient's language.
"""

from __future__ import annotations

from hep.i18n import translate

# kind -> (catalogue key of the body, the app screen a tap opens)
KINDS = {
    "exercise": ("push.exercise", "/app/today"),
    "post_needling": ("push.post_needling", "/app/today"),
    "pre_session": ("push.pre_session", "/app/progress"),
    "test": ("push.test", "/app/settings"),
}


def payload(kind: str, *, language: str | None, clinic: str, tag: str | None = None, **params: str) -> dict:
    """The JSON a push carries for a reminder of `kind` (the service worker shows it as a notification)."""
    key, url = KINDS[kind]
    return {
        "kind": kind,
        "title": clinic,
        "body": translate(language, key, clinic=clinic, **params),
        "url": url,
        "tag": tag or f"hep-{kind}",
    }
