"""The contact solver: a keyframe's free angles settle the body on its contacts and reaches."""

from __future__ import annotations

import pytest

from hep.figures import draw
from hep.figures.scene import TOUCH, build, surface_low
from hep.figures.solver import reach_gap
from hep.figures.spec import FigureError, load_figure

PLANK = {"shoulders": {"flex": 75, "abd": 10}, "elbows": 0, "wrists": "flat", "ankles": 20, "body": {"pitch": 70}}


def press_up(**first) -> dict:
    return {
        "view": "side",
        "support": "mat",
        "pose": "lying-on-front",
        "contacts": {"floor": ["hands", "toes"]},
        "frames": [
            {**PLANK, **first},
            {"elbows": 80, "shoulders": {"flex": 40}, "free": ["body.pitch", "shoulders.flex", "ankles"]},
        ],
    }


def knee_hug(**second) -> dict:
    hug = {"hip_r": 120, "knee_r": 125, "lift": "foot_r", "reach": {"hand_r": "shin_r", "hand_l": "shin_r"}}
    return {"view": "side", "support": "mat", "pose": "hook-lying", "frames": [{}, {**hug, **second}]}


def test_free_angles_rest_a_plank_on_hands_and_toes():
    scene = build(load_figure(press_up(free=["body.pitch", "ankles"])))
    plank = scene.keyframes[0]
    for point in ("hand_l", "hand_r", "toes_l", "toes_r"):
        assert abs(surface_low(plank, point)) < TOUCH
    assert scene.figure.frames[0].angles["body"]["pitch"] != 70  # the solver moved it


def test_without_free_angles_the_same_plank_is_refused_naming_the_point():
    with pytest.raises(FigureError) as caught:
        draw.check(press_up())
    assert caught.value.path[:2] == ("frames", 0) and "above the floor it rests on" in caught.value.problem


def test_a_later_keyframe_keeps_the_hands_and_feet_where_they_were():
    scene = build(load_figure(press_up(free=["body.pitch", "ankles"])))
    plank, low = (state.points for state in scene.keyframes)
    for point in ("hand_r", "toes_r"):  # no sliding along the floor
        assert abs(plank[point][0] - low[point][0]) < 0.5
    assert low["chest"][1] < plank["chest"][1] - 5  # the chest went down towards the floor


def test_reach_brings_the_hands_to_the_shin_with_free_arms():
    scene = build(load_figure(knee_hug(free=["shoulders.flex", "elbows", "shoulders.horiz"])))
    hugged = scene.keyframes[1].points
    assert reach_gap(hugged, "hand_r", "shin_r") <= TOUCH
    assert reach_gap(hugged, "hand_l", "shin_r") <= TOUCH


def test_a_reach_without_free_angles_names_what_it_misses():
    with pytest.raises(FigureError) as caught:
        draw.check(knee_hug())
    assert str(caught.value).startswith("keyframe 2: hand_r: does not reach shin_r:")
    assert caught.value.problem.endswith("(give it free angles to solve)")


def test_solving_is_deterministic():
    first = build(load_figure(press_up(free=["body.pitch", "ankles"]))).figure.frames
    again = build(load_figure(press_up(free=["body.pitch", "ankles"]))).figure.frames
    assert [f.angles for f in first] == [f.angles for f in again]


def test_free_and_reach_name_real_joints_and_points():
    with pytest.raises(FigureError) as caught:
        draw.check(knee_hug(free=["hipz"]))
    assert str(caught.value).startswith("keyframe 2: free: hipz: is not a joint")
    with pytest.raises(FigureError) as caught:
        draw.check(knee_hug(reach={"hand_r": "tail"}))
    assert "'tail' is not a body point or segment" in str(caught.value)
