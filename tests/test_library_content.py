"""The shipped library: big enough, covering every condition, with progression chains for each."""

from __future__ import annotations

from collections import Counter

import pytest

from hep.config import PROJECT_ROOT
from hep.library.loader import read_library
from hep.library.schemas import CONDITIONS

LIBRARY = read_library(PROJECT_ROOT / "exercises")
IMS_CONDITIONS = (
    "low-back-pain",
    "neck-pain",
    "tension-headache",
    "rotator-cuff-impingement",
    "carpal-tunnel",
    "lateral-elbow-tendinopathy",
    "achilles-tendinopathy",
    "patellar-tendinopathy",
    "plantar-fasciitis",
    "general-mobility",
    "posture",
    "balance",
    "core-stability",
)


def longest_chain(condition: str) -> int:
    """Length of the longest progression path whose every exercise treats `condition`."""
    members = {slug for slug, data in LIBRARY.items() if condition in data["conditions"]}
    memo: dict[str, int] = {}

    def depth(slug: str) -> int:
        if slug not in memo:
            nexts = [p for p in LIBRARY[slug]["progressions"] if p in members]
            memo[slug] = 1 + max((depth(p) for p in nexts), default=0)
        return memo[slug]

    return max((depth(s) for s in members), default=0)


def test_library_has_at_least_150_exercises():
    assert len(LIBRARY) >= 150


def test_every_condition_in_the_vocabulary_is_covered_with_enough_exercises():
    counts = Counter(c for data in LIBRARY.values() for c in data["conditions"])
    assert set(IMS_CONDITIONS) == set(CONDITIONS)
    assert {c: counts[c] for c in CONDITIONS if counts[c] < 8} == {}


@pytest.mark.parametrize("condition", IMS_CONDITIONS)
def test_each_condition_has_a_progression_chain_of_three_or_more(condition):
    assert longest_chain(condition) >= 3


def test_difficulty_never_drops_along_a_progression():
    drops = [
        (slug, p)
        for slug, data in LIBRARY.items()
        for p in data["progressions"]
        if LIBRARY[p]["difficulty"] < data["difficulty"]
    ]
    assert drops == []


def test_nerve_and_tendon_glides_exist_for_carpal_tunnel():
    categories = {data["category"] for data in LIBRARY.values() if "carpal-tunnel" in data["conditions"]}
    assert {"nerve-glide", "tendon-glide"} <= categories


def test_every_exercise_tells_the_patient_when_to_ease_off():
    assert all(data["precautions"] for data in LIBRARY.values())
