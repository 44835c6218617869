"""Safety blocks (exercises/safety/<key>.yaml): which exercises need them, reading them back, and the
pain rule patients are given.

A block is written once and attached to every exercise its rules match: the loader refuses a library
file that does not list a block its regions, conditions or category need; a clinic's own exercise
gets them added. Blocks that apply to everything (`all: true`, after needling) are added without
being listed. Templates, routines and handouts show the blocks of the exercises they contain.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import cache

from sqlalchemy import Select, bindparam, select

from hep.accounts.models import Clinic
from hep.extensions import db
from hep.library.models import Exercise, SafetyBlock

PAIN_RULE_DEFAULT = 5


def rule_matches(rule: dict, exercise: dict) -> bool:
    """Whether one `applies_to` rule matches an exercise (as validated from its file or the API)."""
    if rule.get("all"):
        return True
    checks = (
        ("body_regions", exercise.get("body_regions") or []),
        ("conditions", exercise.get("conditions") or []),
        ("categories", [exercise.get("category")]),
        ("exercises", [exercise.get("slug")]),
    )
    for name, values in checks:
        if name in rule and not set(rule[name]) & set(values):
            return False
    if "min_hold_seconds" in rule:
        hold = (exercise.get("default_dosage") or {}).get("hold_seconds") or 0
        if hold < rule["min_hold_seconds"]:
            return False
    return True


def applies(block: dict, exercise: dict) -> bool:
    return any(rule_matches(rule, exercise) for rule in block["applies_to"])


def universal(block: dict) -> bool:
    """A block for every exercise: added without being listed."""
    return any(rule.get("all") for rule in block["applies_to"])


def ordered(keys: Iterable[str], blocks: dict[str, dict]) -> list[str]:
    """Keys without repeats, the most urgent block first (then by key)."""
    return sorted(set(keys), key=lambda k: (blocks[k]["priority"], k) if k in blocks else (100, k))


def required(blocks: dict[str, dict], exercise: dict) -> list[str]:
    """Keys of the blocks that must be shown with this exercise, whether listed or not."""
    return ordered((key for key, block in blocks.items() if applies(block, exercise)), blocks)


def attached(blocks: dict[str, dict], exercise: dict) -> list[str]:
    """What an exercise shows: the blocks it lists, the ones its tags need, and the universal ones."""
    return ordered([*(exercise.get("safety") or []), *required(blocks, exercise)], blocks)


def missing(blocks: dict[str, dict], exercise: dict) -> list[str]:
    """Blocks an exercise's tags need that its file does not list (universal ones need no listing)."""
    listed = set(exercise.get("safety") or [])
    return [k for k in required(blocks, exercise) if k not in listed and not universal(blocks[k])]


def why(block: dict, exercise: dict) -> str:
    """What makes a block apply, for the loader's error message ("body region lower-back")."""
    for rule in block["applies_to"]:
        if not rule_matches(rule, exercise):
            continue
        parts = []
        for name, label in (("body_regions", "body region"), ("conditions", "condition")):
            if name in rule:
                parts.append(f"{label} {', '.join(sorted(set(rule[name]) & set(exercise[name])))}")
        if "categories" in rule:
            parts.append(f"category {exercise['category']}")
        if "min_hold_seconds" in rule:
            parts.append(f"a {exercise['default_dosage']['hold_seconds']} s hold")
        if "exercises" in rule:
            parts.append("its slug")
        return " and ".join(parts)
    return "its rules"


# --- reading them back --------------------------------------------------------------------------


_BLOCK_COLUMNS = (
    SafetyBlock.key,
    SafetyBlock.title,
    SafetyBlock.priority,
    SafetyBlock.lines,
    SafetyBlock.applies_to,
    SafetyBlock.sources,
)


@cache
def _blocks_statement(by_key: bool) -> Select:
    # Built once, of columns rather than ORM objects: the patient's plan reads blocks on every request.
    query = select(*_BLOCK_COLUMNS).where(SafetyBlock.archived_at.is_(None))
    return query.where(SafetyBlock.key.in_(bindparam("keys", expanding=True))) if by_key else query


def live_blocks(keys: Collection[str] | None = None) -> dict[str, dict]:
    """Every block in force (or only those with these keys), by key, as plain dicts (there are only a handful)."""
    params = {} if keys is None else {"keys": list(keys)}
    return {row.key: row._asdict() for row in db.session.execute(_blocks_statement(keys is not None), params)}


def shown(keys: Iterable[str], blocks: dict[str, dict] | None = None) -> list[dict]:
    """The blocks with these keys, most urgent first; unknown or retired keys are left out."""
    if blocks is None:
        keys = set(keys)
        if not keys:
            return []
        blocks = live_blocks(keys)
    return [blocks[k] for k in ordered(keys, blocks) if k in blocks]


def for_exercises(exercises: Iterable[Exercise]) -> list[dict]:
    """The blocks shown with a group of exercises (a routine, a template), each once."""
    return shown(key for exercise in exercises for key in exercise.safety or [])


def for_condition(condition: str, blocks: dict[str, dict] | None = None) -> list[str]:
    """Keys of the blocks whose rules name this condition (a template shows them even before it has
    an exercise that carries them)."""
    blocks = live_blocks() if blocks is None else blocks
    return [k for k, b in blocks.items() if any(condition in rule.get("conditions", []) for rule in b["applies_to"])]


# --- the pain rule ------------------------------------------------------------------------------


def pain_rule_text(max_pain: int = PAIN_RULE_DEFAULT) -> str:
    """The pain-monitoring rule in the patient's words (Silbernagel 2007; Thomeé 1997)."""
    if max_pain <= 0:
        return (
            "Your exercises should not hurt. If an exercise is painful, stop it and tell your physiotherapist. "
            "Aches that are no worse by the next morning are fine."
        )
    return (
        f"Some pain while you exercise is fine: up to {max_pain} out of 10 (0 is no pain, 10 the worst "
        "imaginable) is acceptable, as long as it has settled back to your usual level by the next morning. "
        f"If it goes above {max_pain}, or you are sorer or stiffer the next morning, do less next time "
        "(fewer repetitions or less weight) and tell your physiotherapist if it keeps happening."
    )


def clinic_pain_rule(clinic: Clinic) -> str:
    """The clinic's pain rule as patients read it (texts, the app, handouts)."""
    return pain_rule_text(clinic.pain_rule_max)
