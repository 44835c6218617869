"""Read a figure description (exercises/figures/<slug>.yaml, or a clinic's `figure` body) and
check it: known words, joints within human ranges. scene.py then checks the placed body.

A problem raises FigureError naming the keyframe, the joint (or field) and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hep.figures import skeleton as sk
from hep.figures.kinematics import Pose
from hep.figures.poses import FLAT, POSTURES

VIEWS = ("side", "front", "above")
SUPPORTS = ("floor", "mat", "chair", "table", "wall", "step", "door-frame")
SURFACES = ("floor", "support", "table")  # table: a table beside the seat (a forearm resting on it)
# Props and how they attach: held in a hand, lying under a point, or spanning two points.
PROPS = {
    "towel": ("at", "between", "under"),
    "band": ("between",),
    "dumbbell": ("at",),
    "ball": ("at", "under"),
    "foam-roller": ("under",),
    "pillow": ("under",),
    "stick": ("between",),
    "rolled-towel": ("under", "at"),
}
# The exercise vocabulary's word for each prop (hep/library/schemas.EQUIPMENT).
PROP_EQUIPMENT = {"band": "resistance-band"}
FIGURE_KEYS = {
    "view", "turn", "tilt", "support", "side", "focus", "props", "highlight", "pose", "contacts", "frames",
    "arrows", "still",
}  # fmt: skip
MAX_FRAMES = 4


class FigureError(ValueError):
    """A figure description is wrong: where (keyframe, joint or field) and what."""

    def __init__(self, path: tuple[str | int, ...], problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"{self.where}: {problem}" if path else problem)

    @property
    def where(self) -> str:
        """Human wording: "keyframe 2: knee_r" (keyframes counted from 1)."""
        words, parts = [], list(self.path)
        while parts:
            part = parts.pop(0)
            if part in ("frames", "props", "arrows") and parts and isinstance(parts[0], int):
                noun = {"frames": "keyframe", "props": "prop", "arrows": "arrow"}[part]
                words.append(f"{noun} {parts.pop(0) + 1}")
            else:
                words.append(str(part))
        return ": ".join(words)

    @property
    def field(self) -> str:
        """Dotted field name (list indices from 0), as the API's invalid_params name it."""
        return ".".join(str(p) for p in self.path)


@dataclass(frozen=True)
class Prop:
    kind: str
    at: str | None = None  # a point: held (dumbbell, ball, towel) or resting on
    under: str | None = None  # a point group resting on the prop
    between: tuple[str, str] | None = None  # two points, or a point and "floor" / "anchor"
    anchor: tuple[float, float, float] | None = None  # between [x, anchor]: forward, up, right of x in keyframe 1
    size: str = "small"


@dataclass(frozen=True)
class Arrow:
    point: str
    start: int  # keyframe indices from 0
    end: int


@dataclass(frozen=True)
class Frame:
    angles: Pose
    flat: frozenset[str]  # ankles and wrists levelled (the foot or hand flat on a surface)
    contacts: tuple[tuple[str, str, tuple[str, ...]], ...]  # (surface, group as written, its points)
    # Angles the contact solver may change so the contacts and reaches are met: each variable is
    # one or more (joint, movement) that move together ("knees" is both knees, one angle).
    free: tuple[tuple[tuple[str, str], ...], ...] = ()
    reach: tuple[tuple[str, str], ...] = ()  # (body point, the point or segment it touches)
    settle: tuple[str, ...] = ()  # points the solver lays on the floor without making them contacts
    slide: frozenset[str] = frozenset()  # resting points free to move along their surface (a heel slide)
    written: frozenset[tuple[str, str]] = frozenset()  # (joint, movement) this keyframe sets; ("*", "*"): a posture


@dataclass(frozen=True)
class Figure:
    view: str
    support: str
    frames: tuple[Frame, ...]
    side: str | None = None
    turn: float = 0.0
    tilt: float = 0.0
    focus: str | None = None
    props: tuple[Prop, ...] = ()
    highlight: tuple[str, ...] = ()
    arrows: tuple[Arrow, ...] = ()
    still: int = -1  # the keyframe a still (reduced motion) shows; -1 the last
    raw: dict = field(default_factory=dict, compare=False, repr=False)


def _number(value, path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FigureError(path, f"must be a number of degrees, not {value!r}")
    return float(value)


def _names(value, path, allowed, what: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise FigureError(path, f"must be a {what} or a list of them")
    for name in values:
        if not isinstance(name, str) or not allowed(name):
            raise FigureError(path, f"{name!r} is not a known {what}")
    return tuple(values)


def _is_point(name: str) -> bool:
    return bool(sk.point_names(name))


def _set_joint(angles: Pose, flat: set[str], joint: str, value, path) -> None:
    """Apply one joint override ("knee_r: 90", "shoulder_r: {flex: 90, abd: 20}") with range checks."""
    dofs = sk.JOINTS[joint]
    if value == FLAT:
        if not joint.startswith(("ankle_", "wrist_")):
            raise FigureError(path, "only an ankle or a wrist can be 'flat' (its foot or hand levelled)")
        flat.add(joint)
        return
    if not isinstance(value, dict):
        value = {next(iter(dofs)): value}
    for dof, degrees in value.items():
        if dof not in dofs:
            raise FigureError(path, f"has no movement {dof!r} (it has {', '.join(dofs)})")
        if (joint.startswith("ankle_") and dof == "dorsi") or (joint.startswith("wrist_") and dof == "ext"):
            flat.discard(joint)
        low, high = dofs[dof]
        number = _number(degrees, path)
        if not low <= number <= high:
            raise FigureError(path, f"{dof} {number:g} is outside the human range {low:g} to {high:g}")
        angles.setdefault(joint, {})[dof] = number


def _apply_overrides(angles: Pose, flat: set[str], overrides: dict, path) -> None:
    for key, value in overrides.items():
        if key in sk.PLURALS:
            for side in sk.SIDES:
                _set_joint(angles, flat, f"{sk.PLURALS[key]}_{side}", value, (*path, key))
        elif key in sk.JOINTS:
            _set_joint(angles, flat, key, value, (*path, key))
        else:
            raise FigureError(
                (*path, key),
                "is not a joint (see skeleton.JOINTS), 'pose', 'contacts', 'lift', 'land', 'slide', 'free' or 'reach'",
            )


def _posture(name, path) -> tuple[Pose, set[str], tuple, tuple]:
    if not isinstance(name, str) or name not in POSTURES:
        raise FigureError(path, f"{name!r} is not a base posture ({', '.join(POSTURES)})")
    base = POSTURES[name]
    angles: Pose = {}
    flat: set[str] = set()
    _apply_overrides(angles, flat, base["angles"], path)
    free = _free(base["free"], path) if base.get("free") else ()
    reach = _reach(base["reach"], path) if base.get("reach") else ()
    settle = tuple(p for n in base.get("settle", ()) for p in sk.point_names(n))
    return angles, flat, _contacts(base["contacts"], path), (free, reach, settle)


def _contacts(value, path) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    if not isinstance(value, dict) or not value:
        raise FigureError(path, "must map a surface (floor, support) to the points resting on it")
    out = []
    for surface, groups in value.items():
        if not isinstance(surface, str) or surface not in SURFACES:
            raise FigureError((*path, surface), f"is not a surface ({', '.join(SURFACES)})")
        for group in _names(groups, (*path, surface), _is_point, "body point"):
            out.append((surface, group, sk.point_names(group)))
    return tuple(out)


def _frames(raw: dict) -> tuple[Frame, ...]:
    frames_raw = raw.get("frames")
    if not isinstance(frames_raw, list) or not 1 <= len(frames_raw) <= MAX_FRAMES:
        raise FigureError(("frames",), f"must be a list of 1 to {MAX_FRAMES} keyframes")
    angles, flat, contacts, posture_free = _posture(raw.get("pose"), ("pose",))
    if "contacts" in raw:
        contacts = _contacts(raw["contacts"], ("contacts",))
    frames = []
    lifted: set[str] = set()
    carried_free: tuple = ()
    carried_reach: tuple = ()
    for i, overrides in enumerate(frames_raw):
        path = ("frames", i)
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise FigureError(path, "must be a mapping of joints to angles")
        overrides = dict(overrides)
        posed = "pose" in overrides
        if posed:
            angles, flat, contacts, posture_free = _posture(overrides.pop("pose"), (*path, "pose"))
        else:
            angles = {joint: dict(dofs) for joint, dofs in angles.items()}
            flat = set(flat)
        if posed:
            lifted = set()
        if "contacts" in overrides:
            contacts = _contacts(overrides.pop("contacts"), (*path, "contacts"))
            lifted = set()
        # points off their surface from this keyframe on, until one puts them down (land) or sets contacts
        for key, add in (("lift", True), ("land", False)):
            if key in overrides:
                names = _names(overrides.pop(key), (*path, key), _is_point, "body point")
                points = {p for n in names for p in sk.point_names(n)}
                lifted = lifted | points if add else lifted - points
        resting = tuple((s, g, tuple(p for p in pts if p not in lifted)) for s, g, pts in contacts)
        resting = tuple(c for c in resting if c[2])
        # a base posture settles itself on its contacts in the keyframe that takes it up
        free, reach, settle = posture_free if i == 0 or posed else ((), (), ())
        # a posture's reach (hands resting on the thighs) gives way where the keyframe moves that limb,
        # and its free angles to the keyframe's own values
        reach = tuple(r for r in reach if not _moves_limb(overrides, r[0]))
        settle = tuple(p for p in settle if not _moves_limb(overrides, p))
        # a keyframe's own free angles and reaches carry on to the next keyframes until one gives its
        # own (or takes up a posture); a carried reach gives way where the keyframe moves that limb
        if posed:
            carried_free, carried_reach = (), ()
        if "free" in overrides:
            own = carried_free = _free(overrides.pop("free"), (*path, "free"))
        else:
            own = tuple(
                v for v in (tuple(jd for jd in var if jd not in _written(overrides)) for var in carried_free) if v
            )
        if "reach" in overrides:
            reach = carried_reach = _reach(overrides.pop("reach"), (*path, "reach"))
        elif carried_reach:
            reach = tuple(r for r in carried_reach if not _moves_limb(overrides, r[0]))
        settle = tuple(p for p in settle if p not in {point for point, _ in reach})
        slide = frozenset()
        if "slide" in overrides:
            slide = frozenset(
                p
                for n in _names(overrides.pop("slide"), (*path, "slide"), _is_point, "body point")
                for p in sk.point_names(n)
            )
        before = {(j, d): v for j, dofs in angles.items() for d, v in dofs.items()}
        _apply_overrides(angles, flat, overrides, path)
        written = frozenset(_written(overrides) | ({("*", "*")} if posed else set()))
        changed = {(j, d) for j, dofs in angles.items() for d, v in dofs.items() if before.get((j, d)) != v}
        # a posture's free angle the keyframe sets stays as written (a plural keeps its other side free);
        # the keyframe's own free angles start from whatever it writes for them
        free = tuple(v for v in (tuple(jd for jd in var if jd not in written) for var in free) if v)
        taken = {jd for var in own for jd in var}
        free = tuple(var for var in free if not taken & set(var)) + own
        frames.append(
            Frame(
                angles=angles,
                flat=frozenset(flat),
                contacts=resting,
                free=free,
                reach=reach,
                settle=settle,
                slide=slide,
                written=written | changed,
            )
        )
    return tuple(frames)


_ARM = ("clavicle", "shoulder", "elbow", "forearm", "wrist")
_LEG = ("hip", "knee", "ankle")
_LIMB = {"hand": _ARM, "fingers": _ARM, "wrist": _ARM, "foot": _LEG, "heel": _LEG, "toes": _LEG, "ankle": _LEG}


def _moves_limb(overrides: dict, point: str) -> bool:
    base, _, side = point.rpartition("_")
    joints = {f"{j}_{side}" for j in _LIMB.get(base, ())} | {sk.PLURALS_OF.get(j) for j in _LIMB.get(base, ())}
    return any(key in joints for key in overrides)


def _written(overrides: dict) -> set[tuple[str, str]]:
    out = set()
    for key, value in overrides.items():
        if key not in sk.PLURALS and key not in sk.JOINTS:
            continue
        joints = [f"{sk.PLURALS[key]}_{side}" for side in sk.SIDES] if key in sk.PLURALS else [key]
        for joint in joints:
            dofs = sk.JOINTS[joint]
            if value == FLAT:
                out.add((joint, next(iter(dofs))))
            elif isinstance(value, dict):
                out |= {(joint, d) for d in value}
            else:
                out.add((joint, next(iter(dofs))))
    return out


def _free(value, path) -> tuple[tuple[tuple[str, str], ...], ...]:
    """free: [hips, knee_r, body.pitch, shoulders.flex]: the angles the solver may change ([]: none)."""
    if value == []:
        return ()
    names = _names(value, path, lambda n: True, "joint")
    out = []
    for name in names:
        joint, _, dof = name.partition(".")
        joints = [f"{sk.PLURALS[joint]}_{side}" for side in sk.SIDES] if joint in sk.PLURALS else [joint]
        if joints[0] not in sk.JOINTS:
            raise FigureError((*path, name), "is not a joint (hips, knee_r, body.pitch, shoulders.flex...)")
        dofs = sk.JOINTS[joints[0]]
        dof = dof or next(iter(dofs))
        if dof not in dofs or dof == "hinge":
            raise FigureError(
                (*path, name), f"has no movement {dof!r} the solver can change (it has {', '.join(dofs)})"
            )
        out.append(tuple((j, dof) for j in joints))
    return tuple(out)


def _reach(value, path) -> tuple[tuple[str, str], ...]:
    """reach: {hand_r: knee_r, hand_l: shin_l}: a body point touching another point or a segment."""
    if not isinstance(value, dict) or not value:
        raise FigureError(path, "must map a body point to the point or segment it touches")
    out = []
    for point, target in value.items():
        if point not in sk.POINTS:
            raise FigureError((*path, str(point)), "is not a body point")
        if not isinstance(target, str) or (target not in sk.POINTS and target not in sk.SEGMENTS):
            raise FigureError((*path, point), f"{target!r} is not a body point or segment ({', '.join(sk.SEGMENTS)})")
        out.append((point, target))
    return tuple(out)


def _prop(raw, path, equipment: set[str] | None) -> Prop:
    if not isinstance(raw, dict) or "prop" not in raw:
        raise FigureError(path, "must be a mapping with 'prop' and where it is ('at', 'under' or 'between')")
    kind = raw["prop"]
    if not isinstance(kind, str) or kind not in PROPS:
        raise FigureError((*path, "prop"), f"{kind!r} is not a prop ({', '.join(PROPS)})")
    if equipment is not None and PROP_EQUIPMENT.get(kind, kind) not in equipment:
        raise FigureError((*path, "prop"), f"{kind!r} is drawn but the exercise's equipment does not list it")
    unknown = set(raw) - {"prop", "at", "under", "between", "anchor", "size"}
    if unknown:
        raise FigureError((*path, sorted(unknown)[0]), "is not a prop field")
    modes = [m for m in ("at", "under", "between") if m in raw]
    if len(modes) != 1 or modes[0] not in PROPS[kind]:
        raise FigureError(path, f"a {kind} needs exactly one of: {', '.join(PROPS[kind])}")
    mode = modes[0]
    size = raw.get("size", "small")
    if size not in ("small", "large"):
        raise FigureError((*path, "size"), "must be small or large")
    if mode == "between":
        ends = raw["between"]
        if not isinstance(ends, list) or len(ends) != 2:
            raise FigureError((*path, "between"), "must be two points")
        first = _names(ends[0], (*path, "between"), lambda n: n in sk.POINTS, "body point")[0]
        second = ends[1]
        if not isinstance(second, str) or (second not in ("floor", "anchor") and second not in sk.POINTS):
            raise FigureError((*path, "between"), f"{second!r} is not a body point, 'floor' or 'anchor'")
        anchor = None
        if second == "anchor":
            offset = raw.get("anchor")
            if not isinstance(offset, list) or len(offset) not in (2, 3):
                raise FigureError((*path, "anchor"), "must be [forward, up] or [forward, up, right]: where it is tied")
            anchor = tuple(_number(v, (*path, "anchor")) for v in [*offset, 0][:3])
        return Prop(kind, between=(first, second), anchor=anchor, size=size)
    target = raw[mode]
    if mode == "at":
        if target not in sk.POINTS:
            raise FigureError((*path, "at"), f"{target!r} is not a body point")
        if kind == "dumbbell" and not target.startswith("hand_"):
            raise FigureError((*path, "at"), "a dumbbell is held in a hand (hand_l or hand_r)")
        return Prop(kind, at=target, size=size)
    if not _is_point(target):
        raise FigureError((*path, "under"), f"{target!r} is not a body point")
    return Prop(kind, under=target, size=size)


def load_figure(raw, *, equipment: set[str] | None = None) -> Figure:
    """Check a figure description's words and ranges and resolve its keyframes; FigureError if wrong.

    `equipment`, when given, is the exercise's: every drawn prop must be in it.
    """
    if not isinstance(raw, dict):
        raise FigureError((), "a figure must be a mapping of fields")
    unknown = sorted(set(raw) - FIGURE_KEYS)
    if unknown:
        raise FigureError((unknown[0],), f"is not a figure field ({', '.join(sorted(FIGURE_KEYS))})")
    view = raw.get("view", "side")
    if not isinstance(view, str) or view not in VIEWS:
        raise FigureError(("view",), f"must be one of {', '.join(VIEWS)}")
    support = raw.get("support", "floor")
    if not isinstance(support, str) or support not in SUPPORTS:
        raise FigureError(("support",), f"must be one of {', '.join(SUPPORTS)}")
    side = raw.get("side")
    if side is not None and side not in ("left", "right"):
        raise FigureError(("side",), "must be left or right (the side drawn working), or left out")
    turn = _number(raw.get("turn", 0), ("turn",))
    tilt = _number(raw.get("tilt", 0), ("tilt",))
    if not -90 <= turn <= 90 or not -60 <= tilt <= 60:
        raise FigureError(("turn",) if abs(turn) > 90 else ("tilt",), "turns the view too far (turn ±90, tilt ±60)")
    focus = raw.get("focus")
    if focus is not None and (not isinstance(focus, str) or focus not in sk.REGIONS):
        raise FigureError(("focus",), f"{focus!r} is not a body region")
    highlight = ()
    if raw.get("highlight") is not None:
        highlight = _names(raw["highlight"], ("highlight",), lambda n: n in sk.REGIONS, "body region")
    props_raw = raw.get("props") or []
    if not isinstance(props_raw, list):
        raise FigureError(("props",), "must be a list")
    props = tuple(_prop(p, ("props", i), equipment) for i, p in enumerate(props_raw))
    frames = _frames(raw)
    arrows = []
    for i, arrow in enumerate(raw.get("arrows") or []):
        path = ("arrows", i)
        if not isinstance(arrow, dict) or arrow.get("point") not in sk.POINTS:
            raise FigureError(path, "must name a body 'point' (and optionally 'from' and 'to' keyframes)")
        start, end = arrow.get("from", 1), arrow.get("to", len(frames))
        for name, number in (("from", start), ("to", end)):
            if not isinstance(number, int) or not 1 <= number <= len(frames):
                raise FigureError((*path, name), f"must be a keyframe number from 1 to {len(frames)}")
        if start == end:
            raise FigureError(path, "must go from one keyframe to another")
        arrows.append(Arrow(arrow["point"], start - 1, end - 1))
    still = raw.get("still", len(frames))
    if not isinstance(still, int) or not 1 <= still <= len(frames):
        raise FigureError(("still",), f"must be a keyframe number from 1 to {len(frames)}")
    return Figure(
        view=view, support=support, frames=frames, side=side, turn=turn, tilt=tilt, focus=focus, props=props,
        highlight=highlight, arrows=tuple(arrows), still=still - 1, raw=raw,
    )  # fmt: skip
