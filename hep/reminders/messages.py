"""Reminder texts: per-clinic templates with translations, always GSM-7, one segment, no health details.

A text can be read by anyone who sees the patient's phone, so it names the clinic and points to
the app: never a diagnosis, a treatment or a body part.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select

from hep.extensions import db
from hep.reminders.models import MessageTemplate
from hep.wording import health_details

# GSM 03.38 basic character set and its extension table (extension characters cost two septets).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€")
MAX_SEPTETS = 160

DEFAULTS: dict[str, dict[str, str]] = {
    "exercise": {
        "en": "{clinic}: time for today's exercises. Open the HEP app to start. Reply STOP to opt out.",
        "fr": "{clinic} : c'est l'heure de vos exercices. Ouvrez l'app HEP. STOP pour arreter.",
        "es": "{clinic}: es hora de sus ejercicios de hoy. Abra la app HEP. STOP para cancelar.",
    },
    "post_needling": {
        "en": "{clinic}: go easy today. Open the HEP app for today's plan. Reply STOP to opt out.",
        "fr": "{clinic} : allez-y doucement aujourd'hui. Ouvrez l'app HEP. STOP pour arreter.",
        "es": "{clinic}: hoy con calma. Abra la app HEP para el plan de hoy. STOP para cancelar.",
    },
    "pre_session": {
        "en": "{clinic}: reminder of your appointment {when}. Details in the HEP app. Reply STOP to opt out.",
        "fr": "{clinic} : rappel de votre rendez-vous {when}. Details dans l'app HEP. STOP pour arreter.",
        "es": "{clinic}: recordatorio de su cita {when}. Detalles en la app HEP. STOP para cancelar.",
    },
    "consent": {
        "en": "{clinic}: you will get exercise reminders by text. Reply HELP for help, STOP to opt out.",
        "fr": "{clinic} : vous recevrez des rappels par SMS. HELP pour aide, STOP pour arreter.",
        "es": "{clinic}: recibira recordatorios por SMS. HELP para ayuda, STOP para cancelar.",
    },
    "help": {
        "en": "{clinic}: questions? Call {contact}. Reply STOP to opt out, START to opt back in.",
        "fr": "{clinic} : des questions ? Appelez le {contact}. STOP pour arreter, START pour reprendre.",
        "es": "{clinic}: dudas? Llame al {contact}. STOP para cancelar, START para volver.",
    },
    "done": {
        "en": "{clinic}: well done, today's exercises are logged.",
        "fr": "{clinic} : bravo, vos exercices du jour sont notes.",
        "es": "{clinic}: bien hecho, sus ejercicios de hoy quedan registrados.",
    },
    "score": {
        "en": "{clinic}: thanks, noted for today.",
        "fr": "{clinic} : merci, c'est note pour aujourd'hui.",
        "es": "{clinic}: gracias, anotado para hoy.",
    },
    "unknown": {
        "en": "{clinic}: reply DONE when you have done today's exercises, or a number 0-10 for how you feel.",
        "fr": "{clinic} : repondez DONE apres vos exercices, ou un chiffre de 0 a 10.",
        "es": "{clinic}: responda DONE tras sus ejercicios, o un numero de 0 a 10.",
    },
    "opted_out": {
        "en": "{clinic}: you will get no more texts. Reply START to opt back in.",
        "fr": "{clinic} : vous ne recevrez plus de SMS. START pour reprendre.",
        "es": "{clinic}: no recibira mas SMS. START para volver.",
    },
    "opted_in": {
        "en": "{clinic}: texts are back on. Reply STOP to opt out.",
        "fr": "{clinic} : les SMS reprennent. STOP pour arreter.",
        "es": "{clinic}: los SMS vuelven. STOP para cancelar.",
    },
}
KINDS = tuple(DEFAULTS)


def septets(text: str) -> int | None:
    """Length in GSM-7 septets, or None when the text needs another encoding (UCS-2)."""
    count = 0
    for char in text:
        if char in GSM7_BASIC:
            count += 1
        elif char in GSM7_EXTENSION:
            count += 2
        else:
            return None
    return count


def problems(template_text: str, rendered: str) -> list[str]:
    """Why a template, and the text it renders to, may not be sent (empty when it may).

    Health words are checked in the template only: a clinic's own name may well say "physiotherapy".
    """
    found = []
    length = septets(rendered)
    if length is None:
        bad = sorted({c for c in rendered if c not in GSM7_BASIC and c not in GSM7_EXTENSION})
        found.append(f"has characters outside GSM-7: {''.join(bad)!r}")
    elif length > MAX_SEPTETS:
        found.append(f"is {length} characters; the limit is {MAX_SEPTETS}")
    found.extend(health_details(template_text))
    return found


def to_gsm7(text: str) -> str:
    """Spell a name in GSM-7: accents it lacks are dropped (Clínica -> Clinica), other symbols removed."""
    out = []
    for char in text:
        if char in GSM7_BASIC or char in GSM7_EXTENSION:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base if all(c in GSM7_BASIC for c in base) else "")
    return "".join(out)


def template(clinic_id: int, kind: str, language: str) -> str:
    """The clinic's own wording if any, else the default, in the language or its base, else English."""
    for lang in dict.fromkeys([language, language.split("-")[0], "en"]):
        own = db.session.scalar(
            select(MessageTemplate.body).where(
                MessageTemplate.clinic_id == clinic_id, MessageTemplate.kind == kind, MessageTemplate.language == lang
            )
        )
        if own:
            return own
        if lang in DEFAULTS[kind]:
            return DEFAULTS[kind][lang]
    return DEFAULTS[kind]["en"]


def render(text: str, *, clinic: str, contact: str = "", when: str = "") -> str:
    """Fill a template's placeholders (in GSM-7, so the text stays one cheap segment)."""
    return text.replace("{clinic}", to_gsm7(clinic)).replace("{contact}", to_gsm7(contact)).replace("{when}", when)
