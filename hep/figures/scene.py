"""Place a figure's keyframes in the world: the body resting on its support, the support and the
props where they belong, and in-between states for animation. Also the checks that need the
placed body: contacts touch their surface, nothing goes below the floor, props are attached.

World axes as the body's (skeleton.py): y up, the floor at y = 0.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from hep.figures import skeleton as sk
from hep.figures.anatomy import Volume, volume
from hep.figures.kinematics import Mat, Pose, Vec, add, apply, positions, rot_y
from hep.figures.solver import Goal, reach_gap, solve
from hep.figures.spec import Figure, FigureError, Frame

TOUCH = 2.6  # how far a resting point may be from its surface (about 4 cm)
BELOW = 1.5  # how far the body's outline may dip below the floor (the drawn stroke's roundness)
HEIGHTS = {"chair": 25.0, "table": 44.0, "step": 10.0}
VERTICAL = ("wall", "door-frame")
RIGID = {"ball": {"small": 2.0, "large": 12.0}, "foam-roller": {"small": 4.5, "large": 4.5}}  # radii: a tennis ball
MAT = 1.6  # a mat's thickness: the body lies on its top, the floor is under it


@dataclass(frozen=True)
class State:
    """One drawn moment: world positions of every point, segment orientations, the body's rings."""

    points: dict[str, Vec]
    frames: dict[str, Mat]
    volume: Volume


def pose_state(angles: Pose, flat) -> State:
    """A body posed by its angles, pelvis at the origin (not yet placed)."""
    frames: dict[str, Mat] = {}
    points = positions(angles, flat, frames)
    return State(points, frames, volume(points, frames))


def shifted(state: State, d: Vec) -> State:
    """The same body moved by d."""
    rings = {k: (add(c, d), [add(p, d) for p in ring]) for k, (c, ring) in state.volume.rings.items()}
    return State({k: add(v, d) for k, v in state.points.items()}, state.frames, Volume(rings))


def surface_low(state: State, name: str) -> float:
    """How low the body's surface reaches around a named point."""
    pts = state.volume.surface(name, state.points)
    if pts:
        return min(p[1] for p in pts)
    return state.points[name][1] - sk.radius(name)


def surface_out(state: State, name: str, normal: Vec) -> float:
    """How far along `normal` the body's surface reaches around a named point."""
    pts = state.volume.surface(name, state.points) or [add(state.points[name], normal, sk.radius(name))]
    return max(sum(a * b for a, b in zip(p, normal, strict=True)) for p in pts)


@dataclass(frozen=True)
class Support:
    kind: str
    height: float  # seat, table or step top; 0 for floor and mat
    boxes: tuple[tuple[Vec, Vec], ...]  # axis-aligned boxes (low corner, high corner) to draw
    plane: tuple[Vec, float] | None = None  # wall: (normal, offset) with p·normal == offset on the wall
    table: float | None = None  # the top of a table beside the seat


@dataclass(frozen=True)
class Scene:
    figure: Figure
    keyframes: tuple[State, ...]
    support: Support
    anchors: dict[int, Vec]  # band anchor points by prop index
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # in-between states drawn so far


def _mean_xz(points: dict[str, Vec], names) -> tuple[float, float]:
    names = list(names)
    return (sum(points[n][0] for n in names) / len(names), sum(points[n][2] for n in names) / len(names))


def _horizontal(contacts) -> list:
    return [c for c in contacts if c[0] in ("floor", "support", "table")]


THICK = {"pillow": 4.0, "rolled-towel": 3.5, "towel": 1.0, "foam-roller": 9.0}


def prop_thickness(prop) -> float:
    """How far a prop lifts a point that rests on it."""
    if prop.kind == "ball":
        return 2 * RIGID["ball"][prop.size]
    return THICK.get(prop.kind, 0.0)


class _Placer:
    """Places frames one after another against frame 1's surfaces and pinned points."""

    def __init__(self, figure: Figure):
        self.figure = figure
        self.kind = figure.support
        # A point resting on a prop (a foot on a pillow, heels on a rolled towel) rests that much higher.
        self.lift = {p: prop_thickness(prop) for prop in figure.props if prop.under for p in sk.point_names(prop.under)}
        self.first: State | None = None
        self.first_groups: dict[str, tuple[str, ...]] = {}
        self.support_height: float | None = None if self.kind in ("chair", "table") else HEIGHTS.get(self.kind, 0.0)
        self.table_height: float | None = None  # a table beside the seat, as high as keyframe 1's forearm

    def surface(self, surface: str) -> float | None:
        if surface == "floor":
            return 0.0
        if surface == "table":
            return self.table_height
        if self.kind in VERTICAL:
            return None  # a wall is checked, not stood on
        return self.support_height

    def kept(self, contacts, slide=frozenset()) -> tuple[str, ...]:
        """Resting points that rested in keyframe 1 too: they stay where they were (no sliding)."""
        if self.first is None:
            return ()
        out = []
        for surface, group, pts in contacts:
            height = self.surface(surface)
            for p in pts:
                if p in slide:
                    continue
                named = group in self.first_groups
                touching = height is not None and self.bottom(self.first, p) - height < TOUCH
                if named or touching:
                    out.append(p)
        return tuple(dict.fromkeys(out))

    def bottom(self, state: State, name: str) -> float:
        return surface_low(state, name) - self.lift.get(name, 0.0)

    def place(self, angles: Pose, flat, contacts, where, slide=frozenset()) -> State:
        raw = pose_state(angles, flat)
        if self.first is None and self.support_height is None:
            # Frame 1 fixes a chair's or table's height: the floor contacts place the body, the seat fits under.
            on_floor = [c for c in contacts if c[0] == "floor"]
            if on_floor:
                dy = max(-self.bottom(raw, p) for _, _, pts in on_floor for p in pts)
                seated = [p for s, _, pts in contacts if s == "support" for p in pts]
                self.support_height = min((self.bottom(raw, p) + dy for p in seated), default=HEIGHTS[self.kind])
            else:
                self.support_height = HEIGHTS[self.kind]
        resting = [(s, g, pts) for s, g, pts in _horizontal(contacts) if self.surface(s) is not None]
        if not resting:
            raise FigureError(where, "rests on nothing: give contacts on the floor or the support")
        dy = max(self.surface(s) - self.bottom(raw, p) for s, _, pts in resting for p in pts)
        pin = None
        if self.first is None:
            pin = resting[0][2]
            target = (0.0, 0.0)
        else:
            kept = self.kept(contacts, slide)
            if kept:
                pin, target = kept, _mean_xz(self.first.points, kept)
            else:
                pin, target = ("pelvis",), _mean_xz(self.first.points, ("pelvis",))
        x, z = _mean_xz(raw.points, pin)
        placed = shifted(raw, (target[0] - x, dy, target[1] - z))
        if self.first is None:
            on_table = [p for s, _, pts in contacts if s == "table" for p in pts]
            if on_table:
                self.table_height = min(self.bottom(placed, p) for p in on_table)
            self.first = placed
            self.first_groups = {g: pts for _, g, pts in contacts}
        return placed


def _facing(angles: Pose) -> Vec:
    return apply(rot_y(-angles.get("body", {}).get("yaw", 0.0)), (1.0, 0.0, 0.0))


def _support(figure: Figure, first_state: State, frame: Frame, height: float | None) -> Support:
    first = first_state.points
    kind = figure.support
    on_it = [p for s, _, pts in frame.contacts if s == "support" for p in pts]
    if kind in ("floor", "mat"):
        if kind == "floor":
            return Support(kind, 0.0, ())
        # the mat lies under whatever of the body is near the floor
        low = [p for _, ring in first_state.volume.rings.values() for p in ring if p[1] < 4]
        xs = [p[0] for p in low] or [first["pelvis"][0]]
        zs = [p[2] for p in low] or [first["pelvis"][2]]
        cz = (min(zs) + max(zs)) / 2
        return Support(kind, 0.0, (((min(xs) - 6, -MAT, cz - 16.0), (max(xs) + 6, 0.0, cz + 16.0)),))
    if kind in VERTICAL:
        if not on_it:
            raise FigureError(("support",), f"a {kind} needs points resting on it: contacts: {{support: [...]}}")
        cx, cz = _mean_xz(first, on_it)
        px, _, pz = first["pelvis"]
        dx, dz = cx - px, cz - pz
        normal = (math.copysign(1.0, dx), 0.0, 0.0) if abs(dx) >= abs(dz) else (0.0, 0.0, math.copysign(1.0, dz))
        lift = {p: prop_thickness(prop) for prop in figure.props if prop.under for p in sk.point_names(prop.under)}
        offset = max(surface_out(first_state, p, normal) + lift.get(p, 0.0) for p in on_it)
        if kind == "wall":
            boxes = (_slab(normal, offset, first, 2.0),)
        else:
            boxes = tuple(_post(first[p], normal, offset) for p in dict.fromkeys(on_it))
        return Support(kind, 0.0, boxes, plane=(normal, offset))
    if not on_it:
        raise FigureError(("support",), f"a {kind} needs points resting on it: contacts: {{support: [...]}}")
    h = height if height is not None else HEIGHTS[kind]
    facing = _facing(figure.frames[0].angles)
    along = [_along(first[p], facing) for p in on_it]
    across = sum(_across(first[p], facing) for p in on_it) / len(on_it)
    if kind == "chair" and not any(p in ("pelvis", "hip_l", "hip_r") for p in on_it):
        # Standing, holding the top of the chair's back: the chair stands beside or in front, back to the hand.
        a = sum(along) / len(along)
        seat_h = min(HEIGHTS["chair"], h - 18)
        backrest = _box(facing, a - 1.2, a + 1.2, across, 22, seat_h, h)
        seat = _box(facing, a - 1.2, a + 21, across, 22, seat_h - 2.5, seat_h)
        legs = tuple(
            _box(facing, x - 1, x + 1, across + y, 2, 0, seat_h - 2.5) for x in (a, a + 20) for y in (-9.5, 9.5)
        )
        return Support(kind, h, (backrest, seat, *legs))
    if kind == "chair":
        a = sum(along) / len(along)
        seat = _box(facing, a - 10, a + 12, across, 22, h - 2.5, h)
        backrest = _box(facing, a - 12.5, a - 10, across, 22, h, h + 27)
        legs = tuple(
            _box(facing, x - 1, x + 1, across + y, 2, 0, h - 2.5) for x in (a - 11, a + 10) for y in (-9.5, 9.5)
        )
        return Support(kind, h, (seat, backrest, *legs))
    if kind == "step":
        return Support(kind, h, (_box(facing, min(along) - 3, max(along) + 18, across, 30, 0, h),))
    cx, cz = _mean_xz(first, on_it)
    # table: under the points resting on it, reaching away from the body
    lying = any(p in ("pelvis", "chest", "waist") for p in on_it)
    if lying:
        xs = [first[p][0] for p in first]
        top = ((min(xs) - 4, h - 3, cz - 18), (max(xs) + 4, h, cz + 18))
    else:
        px, _, pz = first["pelvis"]
        dx, dz = cx - px, cz - pz
        if abs(dx) >= abs(dz):
            sx = math.copysign(1.0, dx)
            top = ((min(cx - 6 * sx, cx + 34 * sx), h - 3, cz - 24), (max(cx - 6 * sx, cx + 34 * sx), h, cz + 24))
        else:
            sz = math.copysign(1.0, dz)
            top = ((cx - 24, h - 3, min(cz - 6 * sz, cz + 34 * sz)), (cx + 24, h, max(cz - 6 * sz, cz + 34 * sz)))
    (x0, _, z0), (x1, _, z1) = top
    legs = tuple(((x - 1, 0.0, z - 1), (x + 1, h - 3, z + 1)) for x in (x0 + 2, x1 - 2) for z in (z0 + 2, z1 - 2))
    return Support(kind, h, (top, *legs))


def _along(p: Vec, facing: Vec) -> float:
    return p[0] * facing[0] + p[2] * facing[2]


def _across(p: Vec, facing: Vec) -> float:
    return -p[0] * facing[2] + p[2] * facing[0]


def _box(facing: Vec, a0: float, a1: float, centre: float, width: float, y0: float, y1: float):
    """An upright box spanning a0..a1 along the facing direction and `width` across it around `centre`."""
    fx, _, fz = facing
    corners = [(a * fx - c * fz, a * fz + c * fx) for a in (a0, a1) for c in (centre - width / 2, centre + width / 2)]
    xs, zs = [c[0] for c in corners], [c[1] for c in corners]
    return ((min(xs), y0, min(zs)), (max(xs), y1, max(zs)))


def _slab(normal: Vec, offset: float, first: dict[str, Vec], thick: float):
    xs = [v[0] for v in first.values()]
    zs = [v[2] for v in first.values()]
    if normal[0]:
        x = offset * normal[0]
        return (
            (min(x, x + thick * normal[0]), 0.0, min(zs) - 20),
            (max(x, x + thick * normal[0]), 115.0, max(zs) + 20),
        )
    z = offset * normal[2]
    return ((min(xs) - 20, 0.0, min(z, z + thick * normal[2])), (max(xs) + 20, 115.0, max(z, z + thick * normal[2])))


def _post(point: Vec, normal: Vec, offset: float):
    x, _, z = point
    if normal[0]:
        x = offset * normal[0] + 1.5 * normal[0]
    else:
        z = offset * normal[2] + 1.5 * normal[2]
    return ((x - 1.5, 0.0, z - 1.5), (x + 1.5, 118.0, z + 1.5))


def build(figure: Figure) -> Scene:
    """Place every keyframe and the support; check contacts, the floor and the props (FigureError).

    Keyframes with free angles are solved first (solver.py); a later keyframe keeps the solved
    angles it does not set itself.
    """
    placer = _Placer(figure)
    keyframes: list[State] = []
    frames: list[Frame] = []
    support = None
    solved: dict[tuple[str, str], float] = {}  # angles the solver set, kept until a keyframe sets them itself
    for i, frame in enumerate(figure.frames):
        if ("*", "*") in frame.written:
            solved = {}
        frame = _inherit(frame, solved)
        if frame.free:
            goal = _goal(placer, frame, support, figure)
            frame = dataclasses.replace(frame, angles=solve(frame.angles, frame.flat, frame.free, goal))
            solved.update({jd: frame.angles[jd[0]][jd[1]] for var in frame.free for jd in var})
        frames.append(frame)
        keyframes.append(placer.place(frame.angles, frame.flat, frame.contacts, ("frames", i), frame.slide))
        if i == 0:
            support = _support(figure, keyframes[0], frame, placer.support_height)
            if placer.table_height is not None:
                support = _with_table(support, keyframes[0], frame, placer.table_height)
    figure = dataclasses.replace(figure, frames=tuple(frames))
    first = keyframes[0].points
    anchors = {}
    for i, prop in enumerate(figure.props):
        if prop.anchor is not None:
            fx, _, fz = _facing(figure.frames[0].angles)
            base = first[prop.between[0]]
            ahead, up, right = prop.anchor  # right of a body facing (fx, fz) is (-fz, fx)
            anchors[i] = (base[0] + ahead * fx - right * fz, base[1] + up, base[2] + ahead * fz + right * fx)
    scene = Scene(figure, tuple(keyframes), support, anchors)
    for i, (frame, state) in enumerate(zip(figure.frames, keyframes, strict=True)):
        _check(scene, frame, state, placer, ("frames", i))
    for i, arrow in enumerate(figure.arrows):
        a, b = keyframes[arrow.start].points[arrow.point], keyframes[arrow.end].points[arrow.point]
        if math.dist(a, b) < 2:
            raise FigureError(("arrows", i), f"{arrow.point} hardly moves between those keyframes: no arrow needed")
    return scene


def _inherit(frame: Frame, solved: dict[tuple[str, str], float]) -> Frame:
    """Earlier keyframes' solved angles, where this keyframe does not set them itself."""
    carried = {jd: v for jd, v in solved.items() if jd not in frame.written}
    if not carried:
        return frame
    angles = {j: dict(d) for j, d in frame.angles.items()}
    for (joint, dof), value in carried.items():
        angles.setdefault(joint, {})[dof] = value
    return dataclasses.replace(frame, angles=angles)


def _goal(placer: _Placer, frame: Frame, support: Support | None, figure: Figure, contacts=None) -> Goal:
    """What the solver must meet for a keyframe: its resting points, pinned points, wall and reaches."""
    contacts = frame.contacts if contacts is None else contacts
    floors = []
    for surface, _, pts in contacts:
        height = placer.surface(surface)
        if height is not None:
            floors += [(p, height + placer.lift.get(p, 0.0)) for p in pts]
    floors += [(p, placer.lift.get(p, 0.0)) for p in frame.settle]
    pins = [(p, placer.first.points[p][0], placer.first.points[p][2]) for p in placer.kept(contacts, frame.slide)]
    wall = None
    on_wall = tuple(p for s, _, pts in contacts if s == "support" for p in pts)
    if figure.support in VERTICAL and on_wall:
        if support is not None and support.plane is not None:
            wall = (support.plane[0], support.plane[1], on_wall)
        else:  # keyframe 1: the wall stands where its points are, on the side they are on
            raw = pose_state(frame.angles, frame.flat).points
            cx, cz = _mean_xz(raw, on_wall)
            dx, dz = cx - raw["pelvis"][0], cz - raw["pelvis"][2]
            normal = (math.copysign(1.0, dx), 0.0, 0.0) if abs(dx) >= abs(dz) else (0.0, 0.0, math.copysign(1.0, dz))
            wall = (normal, math.nan, on_wall)
    level = tuple(p for s, _, pts in contacts if s == "table" and placer.surface("table") is None for p in pts)
    return Goal(tuple(floors), tuple(pins), wall, frame.reach, level)


def _check(scene: Scene, frame: Frame, state: State, placer: _Placer, where) -> None:
    for surface, group, pts in frame.contacts:
        for p in pts:
            height = placer.surface(surface)
            if height is None:  # a wall or door frame
                normal, offset = scene.support.plane
                gap = offset - surface_out(state, p, normal) - placer.lift.get(p, 0.0)
                if abs(gap) > TOUCH:
                    raise FigureError((*where, p), f"is {abs(gap):.1f} away from the {scene.support.kind} it rests on")
                continue
            gap = placer.bottom(state, p) - height
            if gap > TOUCH:
                name = surface if surface in ("floor", "table") else scene.support.kind
                raise FigureError((*where, p), f"is {gap:.1f} above the {name} it rests on ({group} in contacts)")
    name, low = min(((k, min(p[1] for p in ring)) for k, (_, ring) in state.volume.rings.items()), key=lambda kv: kv[1])
    if low < -BELOW:
        raise FigureError((*where, name), f"is {-low:.1f} below the floor")
    for i, prop in enumerate(scene.figure.props):
        _check_prop(scene, i, prop, state, (*where, "props", i))
    for point, target in frame.reach:
        gap = reach_gap(state.points, point, target)
        if gap > TOUCH:
            how = f" with the free angles {_free_words(frame)}" if frame.free else " (give it free angles to solve)"
            raise FigureError((*where, point), f"does not reach {target}: {gap:.1f} apart{how}")
        if gap < -2 * TOUCH:
            raise FigureError((*where, point), f"goes {-gap:.1f} into {target}")


def _free_words(frame: Frame) -> str:
    return ", ".join(".".join(var[0]) + (" (both sides)" if len(var) > 1 else "") for var in frame.free)


def below(scene: Scene, point: Vec) -> float:
    """Height of the surface under a point: the top of a seat, table or step when over one, else the floor."""
    s = scene.support
    tops = [0.0]
    if s.kind in ("chair", "table", "step") or s.table is not None:
        for (x0, _, z0), (x1, y1, z1) in s.boxes:
            if x0 <= point[0] <= x1 and z0 <= point[2] <= z1 and point[1] >= y1 - 1:
                tops.append(y1)
    return max(tops)


def _with_table(support: Support, first: State, frame: Frame, height: float) -> Support:
    """A table beside the seat, under the points resting on it, reaching away from the body."""
    on = [p for s, _, pts in frame.contacts if s == "table" for p in pts]
    cx, cz = _mean_xz(first.points, on)
    px, _, pz = first.points["pelvis"]
    dx, dz = cx - px, cz - pz
    if abs(dx) >= abs(dz):
        sx = math.copysign(1.0, dx)
        top = ((min(cx - 8 * sx, cx + 30 * sx), height - 3, cz - 20), (max(cx - 8 * sx, cx + 30 * sx), height, cz + 20))
    else:
        sz = math.copysign(1.0, dz)
        top = ((cx - 20, height - 3, min(cz - 8 * sz, cz + 30 * sz)), (cx + 20, height, max(cz - 8 * sz, cz + 30 * sz)))
    (x0, _, z0), (x1, _, z1) = top
    legs = tuple(((x - 1, 0.0, z - 1), (x + 1, height - 3, z + 1)) for x in (x0 + 2, x1 - 2) for z in (z0 + 2, z1 - 2))
    return dataclasses.replace(support, boxes=(*support.boxes, top, *legs), table=height)


def _check_prop(scene: Scene, i: int, prop, state: State, where) -> None:
    points = state.points
    if (
        prop.under
        and scene.support.plane is not None
        and any(
            p in on
            for p in sk.point_names(prop.under)
            for on in [{q for s, _, qs in scene.figure.frames[0].contacts if s == "support" for q in qs}]
        )
    ):
        return  # a ball or pillow between the body and a wall: placed with the contact, drawn there
    if prop.under:
        pts = sk.point_names(prop.under)
        low = min(pts, key=lambda p: surface_low(state, p))
        gap = surface_low(state, low) - below(scene, points[low])
        if prop.kind in RIGID:
            size = 2 * RIGID[prop.kind][prop.size]
            if abs(gap - size) > TOUCH:
                raise FigureError(
                    (*where, prop.under),
                    f"must rest on the {prop.kind}: it is {gap:.1f} above the surface, the {prop.kind} {size:.0f} high",
                )
        elif not 0.5 <= gap <= 12:
            raise FigureError(
                (*where, prop.under), f"is {gap:.1f} above the surface: a {prop.kind} under it needs 0.5 to 12"
            )
    if prop.between and prop.between[1] in sk.POINTS:
        a, b = points[prop.between[0]], points[prop.between[1]]
        if math.dist(a, b) > 90:
            raise FigureError(
                (*where, "between"), f"its ends are {math.dist(a, b):.0f} apart: too far for a {prop.kind}"
            )


def interpolate(a: Frame, b: Frame, t: float) -> tuple[Pose, frozenset[str]]:
    """The angles a fraction t of the way from keyframe a to keyframe b."""
    joints = set(a.angles) | set(b.angles)
    out: Pose = {}
    for joint in joints:
        da, db = a.angles.get(joint, {}), b.angles.get(joint, {})
        out[joint] = {dof: da.get(dof, 0.0) + (db.get(dof, 0.0) - da.get(dof, 0.0)) * t for dof in set(da) | set(db)}
    return out, (a.flat & b.flat) if t < 1 else b.flat


def largest_change(a: Frame, b: Frame) -> float:
    """The largest angle change between two keyframes, in degrees."""
    joints = set(a.angles) | set(b.angles)
    return max(
        (abs(a.angles.get(j, {}).get(d, 0.0) - b.angles.get(j, {}).get(d, 0.0))
         for j in joints for d in set(a.angles.get(j, {})) | set(b.angles.get(j, {}))),
        default=0.0,
    )  # fmt: skip


def _misses(state: State, contacts, placer: _Placer) -> bool:
    """Whether a placed in-between state floats off a resting point or dips into the floor."""
    for surface, _, pts in contacts:
        height = placer.surface(surface)
        if height is not None and any(placer.bottom(state, p) - height > TOUCH / 2 for p in pts):
            return True
    return min(p[1] for _, ring in state.volume.rings.values() for p in ring) < -BELOW


def between(scene: Scene, ia: int, ib: int, t: float) -> State:
    """A state a fraction t of the way from keyframe ia to keyframe ib, resting as both agree."""
    fig = scene.figure
    a, b = fig.frames[ia], fig.frames[ib]
    if t <= 0:
        return scene.keyframes[ia]
    if t >= 1:
        return scene.keyframes[ib]
    key = (ia, ib, round(t, 4))
    if key in scene.cache:
        return scene.cache[key]
    angles, flat = interpolate(a, b, t)
    points_b = {p for _, _, pts in b.contacts for p in pts}
    contacts = tuple((s, g, tuple(p for p in pts if p in points_b)) for s, g, pts in a.contacts)
    contacts = tuple(c for c in contacts if c[2]) or a.contacts
    placer = _Placer(fig)
    placer.first = scene.keyframes[0]
    placer.first_groups = {g: pts for _, g, pts in fig.frames[0].contacts}
    placer.support_height = (
        scene.support.height if scene.support.kind in ("chair", "table", "step") else placer.support_height
    )
    placer.table_height = scene.support.table
    free = b.free or a.free
    state = placer.place(angles, flat, contacts, ("frames", ia), a.slide | b.slide)
    if free and _misses(state, contacts, placer):  # on the way between solved keyframes, the contacts stay met
        middle = dataclasses.replace(b, contacts=contacts, reach=tuple(r for r in b.reach if r in a.reach))
        angles = solve(angles, flat, free, _goal(placer, middle, scene.support, fig, contacts))
        state = placer.place(angles, flat, contacts, ("frames", ia), a.slide | b.slide)
    scene.cache[key] = state
    return state
