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


# --- safety, kept once and attached by region (see exercises/safety/) ---------------------------

PASTED = (
    "New loss of bladder or bowel control",
    "blurred or double vision, ringing in your ears",
    "sudden, severe headache that is unlike your usual",
    "Uncontrolled high blood pressure",
)


def texts(data: dict) -> list[str]:
    """Everything a patient reads in a file, summary first."""
    lists = ("steps", "cues", "common_mistakes", "precautions", "contraindications")
    return [data["summary"], *(t for k in lists for t in data[k])]


@pytest.mark.parametrize(
    ("block", "slugs"),
    [
        ("low-back", [s for s in LIBRARY if s.startswith("core-") and LIBRARY[s]["body_regions"] != ["whole-body"]]),
        ("temple-jaw", ["head-jaw-temple-self-massage"]),
        (
            "long-holds",
            ["knee-wall-sit-isometric", "knee-spanish-squat-isometric", "calf-raise-isometric-hold-single-leg"],
        ),
        ("headache", [s for s, d in LIBRARY.items() if "tension-headache" in d["conditions"]]),
    ],
)
def test_the_blocks_the_review_found_missing_are_attached(block, slugs):
    assert slugs and [s for s in slugs if block not in LIBRARY[s]["safety"]] == []


def test_every_exercise_carries_the_one_after_needling_message():
    assert all(
        data["safety"][-1:] == ["after-needling"] or "after-needling" in data["safety"] for data in LIBRARY.values()
    )


def test_warnings_kept_in_a_block_are_no_longer_pasted_into_files():
    pasted = [(slug, p) for slug, data in LIBRARY.items() for t in texts(data) for p in PASTED if p in t]
    assert pasted == []


def test_no_exercise_gives_its_own_pain_scale_or_needling_advice():
    """One pain rule (the clinic's) and one after-needling message: files do not carry their own."""
    import re

    found = [
        (slug, t)
        for slug, data in LIBRARY.items()
        for t in texts(data)[1:]
        if "out of 10" in t or re.search(r"\bneedl(ed|ing)\b", t.replace("pins and needles", ""))
    ]
    assert found == []


# --- the review's corrections ---------------------------------------------------------------------


def test_the_prayer_stretch_is_not_a_carpal_tunnel_exercise():
    assert "carpal-tunnel" not in LIBRARY["wrist-prayer-stretch"]["conditions"]
    assert "carpal-tunnel" not in LIBRARY["wrist-flexor-stretch"]["conditions"]


@pytest.mark.parametrize(
    ("slug", "progressions"),
    [
        ("neck-chin-tuck-lying", ["neck-chin-nod-endurance-lying"]),
        ("neck-chin-nod-endurance-lying", ["neck-chin-tuck-head-lift"]),
        ("lb-pelvic-tilt-lying", ["core-glute-bridge"]),
        ("lb-sit-to-stand", ["knee-squat-goblet"]),
    ],
)
def test_chains_progress_the_same_movement(slug, progressions):
    assert LIBRARY[slug]["progressions"] == progressions


def test_the_tyler_twist_is_done_with_straight_elbows_at_shoulder_height():
    steps = " ".join(LIBRARY["elbow-towel-twist"]["steps"])
    assert "shoulder height with your elbows straight" in steps


def test_progressive_relaxation_is_dosed_as_a_session_of_muscle_groups():
    dosage = LIBRARY["head-progressive-muscle-relaxation"]["default_dosage"]
    assert (dosage["reps"], dosage["hold_seconds"], dosage["rest_seconds"]) == (10, 5, 20)


def test_patient_wording_has_no_angles_or_jargon():
    jargon = ("degree", "flex the foot", "snag", "dorsiflex the", "six weeks unless")
    found = [
        (slug, j)
        for slug, data in LIBRARY.items()
        for t in [data["name"], *texts(data)]
        for j in jargon
        if j in t.lower()
    ]
    assert found == []


def test_back_surgery_waits_agree():
    waits = {t for data in LIBRARY.values() for t in data["contraindications"] if "abdominal surgery" in t}
    assert waits == {
        "Back or abdominal surgery in the last three months, unless your surgeon or physiotherapist has cleared you."
    }


MERGED = {
    "trunk-open-book": "tb-open-book",
    "trunk-seated-rotation": "tb-seated-rotation",
    "trunk-thread-the-needle": "tb-thread-the-needle",
    "trunk-thoracic-extension-chair": "tb-seated-extension-chair",
    "trunk-thoracic-extension-foam-roller": "tb-extension-foam-roller",
    "tb-prone-t-raise": "shoulder-prone-t",
    "tb-prone-y-raise": "shoulder-prone-y",
    "posture-band-row": "shoulder-band-row",
    "posture-scapular-setting": "shoulder-scapular-setting",
    "shoulder-doorway-chest-stretch": "posture-doorway-pec-stretch",
    "trunk-hip-flexor-stretch-standing": "hip-flexor-stretch-standing",
    "trunk-hip-flexor-stretch-half-kneeling": "hip-flexor-stretch-half-kneeling",
    "trunk-hip-flexor-stretch-reach": "hip-flexor-stretch-half-kneeling-reach",
    "hip-figure-4-stretch-lying": "lb-piriformis-stretch-lying",
    "hip-figure-4-stretch-seated": "lb-piriformis-stretch-sitting",
    "hip-knee-to-chest-lying": "lb-knee-to-chest-single",
    "lb-wall-sit": "knee-wall-sit-isometric",
    "head-belly-breathing-lying": "core-diaphragmatic-breathing",
}


def test_merged_duplicates_live_on_as_aliases_of_one_exercise():
    aliases = {alias: slug for slug, data in LIBRARY.items() for alias in data["aliases"]}
    assert aliases == MERGED
    assert not set(MERGED) & set(LIBRARY)


NEW = (
    "neck-chin-nod-endurance-lying",
    "shoulder-shrug-dumbbell",
    "shoulder-lateral-raise-dumbbell",
    "shoulder-overhead-press-dumbbell",
    "knee-squat-goblet",
    "calf-raise-standing-weighted",
    "knee-jump-landing-double-leg",
    "knee-hop-landing-single-leg",
    "wrist-night-splint",
    "head-headache-diary",
)


@pytest.mark.parametrize("slug", NEW)
def test_each_added_exercise_names_its_evidence(slug):
    assert LIBRARY[slug]["sources"] and all(s["follows"] for s in LIBRARY[slug]["sources"])


def test_heavy_loading_is_given_as_a_repetition_maximum_with_a_progression_rule():
    for slug in ("knee-squat-goblet", "calf-raise-standing-weighted", "shoulder-shrug-dumbbell"):
        dosage = LIBRARY[slug]["default_dosage"]
        assert dosage["rep_max"] and dosage["reps"] <= dosage["rep_max"] and dosage["progression"]
