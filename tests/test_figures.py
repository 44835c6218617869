"""Exercise figures: every shipped one is valid, small and drawable; the pose rules name what is wrong."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from hep.figures import draw, render, skeleton
from hep.figures.scene import build
from hep.figures.spec import FigureError, load_figure
from hep.library.loader import LibraryError, read_figures, read_library
from tests.factories import FIGURE

LIBRARY = Path(__file__).resolve().parent.parent / "exercises"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def shipped() -> tuple[dict, dict]:
    exercises = read_library(LIBRARY)
    return exercises, read_figures(LIBRARY, exercises)


def pending() -> set[str]:
    lines = (LIBRARY / "figures" / "PENDING").read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines} - {""}


def test_every_exercise_has_a_figure_or_is_listed_as_pending(shipped):
    exercises, figures = shipped
    assert set(figures) | pending() == set(exercises)
    assert not set(figures) & pending()


def test_every_figure_draws_as_small_svg_with_the_exercise_title(shipped):
    exercises, figures = shipped
    for slug, raw in figures.items():
        name, summary = exercises[slug]["name"], exercises[slug]["summary"]
        count = draw.frame_count(raw)
        variants = [{}, {"static": True}, {"side": "left"}, {"side": "right"}] + [
            {"frame": n} for n in range(1, count + 1)
        ]
        for options in variants:
            svg = draw.draw(raw, title=name, desc=summary, **options)
            assert len(svg.encode()) <= render.BUDGET, (slug, options, len(svg))
            root = ET.fromstring(svg)
            assert root.tag == f"{SVG}svg"
            assert root.find(f"{SVG}title").text == name
            assert root.find(f"{SVG}desc").text == summary
            assert root.find(f".//{SVG}text") is None, "no text inside the picture"


def test_drawing_is_deterministic():
    first = draw.draw(FIGURE, title="A", desc="B")
    again = render.animated(build(load_figure(copy.deepcopy(FIGURE))), "A", "B")
    assert first == again


def test_animation_moves_between_keyframes_and_stills_for_reduced_motion():
    svg = draw.draw(FIGURE, title="A", desc="B")
    root = ET.fromstring(svg)
    clock = root.find(f".//{SVG}set")  # restarts itself at its end: the loop
    assert clock.get("begin") == f"0s;{clock.get('id')}.end"
    animations = root.findall(f".//{SVG}animate")
    assert animations and all(a.get("begin").startswith(f"{clock.get('id')}.begin+") for a in animations)
    assert "prefers-reduced-motion:reduce" in root.find(f"{SVG}style").text
    still = root.findall(".//*[@class='s']")  # each moving part's still copy, hidden until motion is unwanted
    assert still and all(element.get("display") == "none" for element in still)


def test_static_strip_shows_every_keyframe_side_by_side():
    root = ET.fromstring(draw.draw(FIGURE, title="A", desc="B", static=True))
    panels = root.findall(f"{SVG}g/{SVG}svg")
    assert len(panels) == 2
    assert float(panels[1].get("x")) > float(panels[0].get("x")) + float(panels[0].get("width")) - 1
    assert root.find(f".//{SVG}animate") is None


def _raised_hand_x(mirror: bool) -> tuple[float, float]:
    raw = {"view": "front", "pose": "standing", "side": "right", "frames": [{}, {"shoulder_r": {"abd": 170}}]}
    scene = build(load_figure(raw))
    drawing = render.Drawing(scene, mirror)
    raised = scene.keyframes[1]
    return drawing.xy(raised, "hand_r")[0], drawing.xy(raised, "pelvis")[0]


def test_mirroring_draws_the_other_side_working():
    hand, pelvis = _raised_hand_x(mirror=False)
    assert hand < pelvis  # seen from the front, the right arm is on the left of the picture
    hand, pelvis = _raised_hand_x(mirror=True)
    assert hand > pelvis
    right = draw.draw(FIGURE, title="A", desc="B", side="right")
    assert draw.draw(FIGURE, title="A", desc="B", side="left") != right
    assert draw.draw(FIGURE, title="A", desc="B", side="both") == draw.draw(FIGURE, title="A", desc="B")


def test_a_figure_without_a_side_is_the_same_for_both():
    raw = {k: v for k, v in FIGURE.items() if k != "side"}
    assert draw.draw(raw, title="A", desc="B", side="left") == draw.draw(raw, title="A", desc="B", side="right")


def problem(raw: dict, **kwargs) -> str:
    with pytest.raises(FigureError) as caught:
        draw.check(raw, **kwargs)
    return str(caught.value)


def with_frames(*frames, **fields) -> dict:
    return {"view": "side", "support": "chair", "pose": "sitting", "frames": list(frames), **fields}


def test_an_angle_outside_the_human_range_names_keyframe_joint_and_range():
    message = problem(with_frames({}, {"knee_r": 200}))
    assert message == "keyframe 2: knee_r: flex 200 is outside the human range -5 to 155"


def test_an_unknown_joint_or_movement_is_named():
    assert problem(with_frames({"kneee_r": 10})).startswith("keyframe 1: kneee_r: is not a joint")
    assert problem(with_frames({"elbow_l": {"abd": 10}})) == "keyframe 1: elbow_l: has no movement 'abd' (it has flex)"


def test_a_body_below_the_floor_is_refused():
    raw = {"pose": "lying-on-back", "frames": [{}, {"hip_r": {"flex": -30}, "lift": "foot_r"}]}
    assert problem(raw).startswith("keyframe 2: ")
    assert "below the floor" in problem(raw)


def test_a_resting_point_must_touch_its_surface():
    message = problem(with_frames({}, {"knee_r": 5}))  # the foot lifts but still counts as resting
    assert message.startswith("keyframe 2: heel_r: is ") and "above the floor it rests on" in message


def test_props_must_be_in_the_equipment_and_attached_to_a_hand():
    raw = with_frames({}, props=[{"prop": "dumbbell", "at": "hand_r"}])
    assert problem(raw, equipment={"chair"}).endswith(
        "'dumbbell' is drawn but the exercise's equipment does not list it"
    )
    draw.check(raw, equipment={"chair", "dumbbell"})
    held_by_foot = with_frames({}, props=[{"prop": "dumbbell", "at": "toes_r"}])
    assert problem(held_by_foot) == "prop 1: at: a dumbbell is held in a hand (hand_l or hand_r)"


def test_a_rigid_prop_under_a_point_must_carry_it():
    raw = {
        "pose": "lying-on-back",
        "support": "mat",
        "props": [{"prop": "foam-roller", "under": "knee_r"}],
        "frames": [{}],
    }
    assert "must rest on the foam-roller" in problem(raw)


def test_highlight_and_focus_must_be_body_regions():
    assert problem(with_frames({}, highlight="spleen")) == "highlight: 'spleen' is not a known body region"
    assert problem(with_frames({}, focus="tail")) == "focus: 'tail' is not a body region"
    assert {"neck", "calf_l", "calf_r", "lower-back"} <= set(skeleton.REGIONS)


def test_an_arrow_must_show_movement():
    assert problem(with_frames({}, {"neck": {"rot": 1}}, arrows=[{"point": "knee_r"}])).startswith("arrow 1:")


def test_keyframes_are_one_to_four():
    assert problem(with_frames()) == "frames: must be a list of 1 to 4 keyframes"
    assert problem(with_frames({}, {}, {}, {}, {})) == "frames: must be a list of 1 to 4 keyframes"


def library_with(tmp_path: Path, figures: dict[str, dict], pending_slugs=()) -> Path:
    from tests.factories import exercise_data

    for slug in ("one-exercise", "two-exercise"):
        (tmp_path / f"{slug}.yaml").write_text(yaml.safe_dump(exercise_data(slug=slug)))
    (tmp_path / "figures").mkdir()
    for slug, raw in figures.items():
        (tmp_path / "figures" / f"{slug}.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "figures" / "PENDING").write_text("".join(f"{s}\n" for s in pending_slugs))
    return tmp_path


def load_error(folder: Path) -> str:
    with pytest.raises(LibraryError) as caught:
        read_figures(folder, read_library(folder))
    return str(caught.value)


def test_loader_names_the_file_keyframe_and_joint(tmp_path):
    bad = with_frames({}, {"knee_r": 200})
    folder = library_with(tmp_path, {"one-exercise": bad, "two-exercise": FIGURE})
    assert (
        load_error(folder)
        == "figures/one-exercise.yaml: keyframe 2: knee_r: flex 200 is outside the human range -5 to 155"
    )


def test_loader_refuses_a_figure_for_an_unknown_exercise(tmp_path):
    folder = library_with(tmp_path, {"one-exercise": FIGURE, "two-exercise": FIGURE, "ghost": FIGURE})
    assert load_error(folder) == "figures/ghost.yaml: (file): draws 'ghost', which is not in the library"


def test_loader_refuses_an_exercise_without_a_figure_unless_pending(tmp_path):
    folder = library_with(tmp_path, {"one-exercise": FIGURE})
    assert load_error(folder) == "figures/two-exercise.yaml: (file): is missing: every exercise needs a figure"
    (folder / "figures" / "PENDING").write_text("# not drawn yet\ntwo-exercise\n")
    assert set(read_figures(folder, read_library(folder))) == {"one-exercise"}


def test_loader_refuses_a_pending_exercise_that_has_a_figure(tmp_path):
    folder = library_with(tmp_path, {"one-exercise": FIGURE, "two-exercise": FIGURE}, pending_slugs=["two-exercise"])
    assert load_error(folder) == "figures/PENDING: two-exercise: has a figure now: take it off the list"
