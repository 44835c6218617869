"""Draw a placed figure as SVG: animated between its keyframes, one keyframe, or all of them side
by side (for print). Deterministic (the same figure gives the same bytes), no text in the picture,
one style; `mirror` swaps left and right so the prescribed side is the one drawn working.

The animation is SMIL (`<animate>` on path data), which every current browser plays, also in an
<img>; under prefers-reduced-motion a still of the main keyframe shows instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from html import escape

from hep.figures import silhouette
from hep.figures import skeleton as sk
from hep.figures.kinematics import Vec
from hep.figures.scene import MAT, RIGID, Scene, State, below, between, largest_change, surface_low

SCALE = 2.0  # SVG units per body unit
# The body: an ink outline over a light fill; limbs on the far side a shade darker behind it.
BODY, SKIN, FAR, FAR_SKIN, GLOW, GLOW_FAR, PROP, BAND, SUPPORT, LINE, ARROW, HALO = (
    "#243447", "#e6ecf1", "#5d6f80", "#c2ccd5", "#fd7e14", "#f8b37a", "#b07d48", "#c44536", "#f1f3f5", "#98a4b0",
    "#1971c2", "#fff",
)  # fmt: skip
MAT_FILL, MAT_LINE = "#cfe0ea", "#86a7bb"
# Props: (fill, line), each its own colour so a patient tells a towel from a band at a glance.
PROP_COLOURS = {
    "pillow": ("#f1e8da", "#a3865f"), "rolled-towel": ("#cde9df", "#3f8f76"), "towel": ("#cde9df", "#3f8f76"),
    "ball-small": ("#ffe27a", "#c99a00"), "ball-large": ("#bfe0fb", "#3b8fd6"), "foam-roller": ("#dccffd", "#7352e0"),
    "dumbbell": ("none", "#454d55"), "band": ("none", "#e03131"), "stick": ("none", "#9c6b3c"),
}  # fmt: skip
STROKE = 0.9  # body units: the outline
GAP = 0.9  # body units: the white gap around a limb in front of the body
ARROW_WIDTH, ARROW_OFFSET, SHORT = (
    1.6,
    6.0,
    7.0,
)  # body units: an arrow's line, and how far it runs from the path it shows
HOLD, MOVE = 0.7, 1.3  # seconds at each keyframe, and per transition
STEP_DEGREES = 30  # one in-between state per this many degrees of the largest joint change
FOCUS_SIZE = 40  # body units: the least a close-up (focus) shows across and down
FOCUS_LEAST = {"hand": 22, "wrist": 26, "jaw": 20, "head": 20}  # closer for small parts
BUDGET = 8192  # bytes: the most any figure may take (tests check every shipped one)


@dataclass(frozen=True)
class Camera:
    right: Vec
    up: Vec
    toward: Vec
    mirror: bool

    def project(self, p: Vec) -> tuple[float, float, float]:
        x = sum(a * b for a, b in zip(p, self.right, strict=True)) * SCALE
        y = -sum(a * b for a, b in zip(p, self.up, strict=True)) * SCALE
        depth = sum(a * b for a, b in zip(p, self.toward, strict=True))
        return (-x if self.mirror else x, y, depth)


def camera(view: str, turn: float, tilt: float, mirror: bool) -> Camera:
    """The view's screen axes in the world: side (from the body's right), front, or above."""
    right, up, toward = {
        "side": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)),
        "front": ((0.0, 0.0, -1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
        "above": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0)),
    }[view]
    c, s = math.cos(math.radians(turn)), math.sin(math.radians(turn))

    def yaw(v: Vec) -> Vec:  # the camera walks round the body towards its front
        return (c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2])

    right, up, toward = yaw(right), yaw(up), yaw(toward)
    c, s = math.cos(math.radians(tilt)), math.sin(math.radians(tilt))
    up, toward = (
        tuple(c * a - s * b for a, b in zip(up, toward, strict=True)),
        tuple(c * b + s * a for a, b in zip(up, toward, strict=True)),
    )
    return Camera(right, up, toward, mirror)  # type: ignore[arg-type]


def _n(v: float) -> str:
    return str(round(v))


def _num(v: int) -> str:
    return str(v)


def _rel(points: list[tuple[float, float]], close: bool = False) -> str:
    """A path in relative steps between rounded points: short, and exact where it ends."""
    pts = [(round(x), round(y)) for x, y in points]
    out = [f"M{pts[0][0]} {pts[0][1]}l"]
    prev = pts[0]
    first = True
    for x, y in pts[1:]:
        dx, dy = x - prev[0], y - prev[1]
        prev = (x, y)
        if not dx and not dy:
            continue
        out.append(("" if first or dx < 0 else " ") + str(dx) + ("" if dy < 0 else " ") + str(dy))
        first = False
    if first:
        out.append("0 0")
    return "".join(out) + ("z" if close else "")


def _smooth(points: list[tuple[float, float]]) -> str:
    """A closed outline through the midpoints of its sides, each corner a quadratic curve."""
    pts = [(round(x), round(y)) for x, y in points]
    pts = [p for i, p in enumerate(pts) if p != pts[i - 1]] or pts[:1]
    n = len(pts)
    if n < 3:
        return _rel(pts, True)
    mids = [
        (round((pts[i][0] + pts[(i + 1) % n][0]) / 2), round((pts[i][1] + pts[(i + 1) % n][1]) / 2)) for i in range(n)
    ]
    cur = mids[-1]
    out = [f"M{cur[0]} {cur[1]}q"]
    for i in range(n):
        values = (pts[i][0] - cur[0], pts[i][1] - cur[1], mids[i][0] - cur[0], mids[i][1] - cur[1])
        out.append("".join(("" if (k == 0 and i == 0) or v < 0 else " ") + str(v) for k, v in enumerate(values)))
        cur = mids[i]
    return "".join(out) + "z"


SIMPLIFY = 0.7  # SVG units: an outline point closer than this to the line through its neighbours goes
STEADY = 1.2  # SVG units: a part that moves less than this between states is drawn as not moving
# An animation too big for the budget is drawn again with fewer in-between states, then with plain
# (not eased) moves, then with small movements (under 1.5 body units) held still, then with plainer outlines.
LADDER = (
    (30, True, STEADY, SIMPLIFY), (60, True, STEADY, SIMPLIFY), (180, True, STEADY, SIMPLIFY),
    (180, False, STEADY, SIMPLIFY), (180, False, 3.0, SIMPLIFY), (180, False, 3.0, 2 * SIMPLIFY),
)  # fmt: skip


def _significant(points: list[tuple[float, float]], tolerance: float) -> set[int]:
    """Indices a closed outline needs to stay within `tolerance` of itself (Douglas-Peucker)."""
    n = len(points)
    if n <= 4:
        return set(range(n))
    far = max(range(n), key=lambda i: math.dist(points[0], points[i]))
    keep = {0, far}

    def split(i: int, j: int) -> None:  # the points strictly between i and j (going round)
        span = [(i + k) % n for k in range(1, (j - i) % n)]
        if not span:
            return
        (ax, ay), (bx, by) = points[i], points[j]
        length = math.hypot(bx - ax, by - ay) or 1e-9

        def off(k: int) -> float:
            px, py = points[k]
            return abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length

        k = max(span, key=off)
        if off(k) > tolerance:
            keep.add(k)
            split(i, k)
            split(k, j)

    split(0, far)
    split(far, 0)
    return keep


def _simplify(outlines, tolerance: float = SIMPLIFY):
    """The same outline points dropped in every state of a part (so its animation still lines up)."""
    if not outlines:
        return outlines
    count = len(outlines[0][0])
    if any(len(shapes) != count for shapes, _ in outlines):
        return outlines
    masks = []
    for j in range(count):
        sizes = {len(shapes[j]) for shapes, _ in outlines}
        if len(sizes) != 1:
            masks.append(None)
            continue
        keep: set[int] = set()
        for shapes, _ in outlines:
            keep |= _significant(shapes[j], tolerance)
        masks.append(sorted(keep))
    return [
        ([shape if mask is None else [shape[i] for i in mask] for shape, mask in zip(shapes, masks, strict=True)], line)
        for shapes, line in outlines
    ]


def _steady(outlines, steady: float = STEADY, tolerance: float = SIMPLIFY) -> list[dict[str, str]]:
    """Path data per state; a state whose outlines are all within STEADY of an earlier one's reuses
    that one's data, so a part that only trembles (a rounding, a counter-rotation) does not animate."""
    outlines = _simplify(outlines, tolerance)
    out: list[dict[str, str]] = []
    seen: list[tuple] = []
    for shapes, open_line in outlines:
        flat = [p for shape in shapes for p in shape] + list(open_line)
        sizes = tuple(len(shape) for shape in shapes)
        for (other_sizes, other), data in zip(seen, out, strict=True):
            if other_sizes == sizes and all(
                abs(a[0] - b[0]) <= steady and abs(a[1] - b[1]) <= steady for a, b in zip(flat, other, strict=True)
            ):
                out.append(data)
                break
        else:
            d = "".join(_smooth(shape) for shape in shapes if shape) + (_rel(open_line) if open_line else "")
            out.append({"d": d})
        seen.append((sizes, flat))
    return out


def _fill(ink: str, fill: str) -> str:
    return f'fill="{fill}"' + (f' stroke="{ink}"' if ink != BODY else "")


def _path(points: list[tuple[float, float]], close: bool = False) -> str:
    head, *rest = points
    d = f"M{_n(head[0])} {_n(head[1])}" + "".join(f"L{_n(x)} {_n(y)}" for x, y in rest)
    return d + ("Z" if close else "")


@dataclass
class Shape:
    """One drawn element whose geometry changes from state to state."""

    tag: str  # path or circle
    style: str  # fixed attributes
    geometry: list[dict[str, str]]  # per state: attribute -> value (d, or cx/cy)
    halo: float = 0.0  # a white outline this wide under it, so a limb reads in front of the trunk


def _hull(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    pts = sorted(set(pts))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def _box_corners(box) -> list[Vec]:
    (x0, y0, z0), (x1, y1, z1) = box
    return [(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)]


class Drawing:
    """Projects a scene's states and builds the SVG elements."""

    def __init__(self, scene: Scene, mirror: bool):
        self.scene = scene
        fig = scene.figure
        self.cam = camera(fig.view, fig.turn, fig.tilt, mirror)
        self._arrows: list | None = None
        self.steady = STEADY
        # lines and arrows are drawn finer in a close-up, so a hand is not all outline
        least = FOCUS_LEAST.get(fig.focus.rsplit("_", 1)[0], FOCUS_SIZE) if fig.focus else 100
        self.ink = max(0.45, min(1.0, least / 50))
        self.tolerance = SIMPLIFY

    def xy(self, state: State, name: str) -> tuple[float, float]:
        x, y, _ = self.cam.project(state.points[name])
        return (x, y)

    def depth(self, state: State, names) -> float:
        return sum(self.cam.project(state.points[n])[2] for n in names) / len(names)

    # --- the body ---------------------------------------------------------------------------------

    def parts(self, ref: State) -> list[tuple[str, list[str]]]:
        """Body parts far to near (in the reference state): (name, the silhouette parts drawn in it)."""
        vol, project = ref.volume, self.cam.project
        hands = self.scene.figure.focus is not None and self.scene.figure.focus.startswith(("hand", "wrist"))
        parts = {"trunk": ["trunk"], "head": ["head"]}
        for s in sk.SIDES:
            parts[f"leg_{s}"] = [f"leg_{s}", f"foot_{s}"]
            parts[f"arm_{s}"] = [f"arm_{s}", f"thumb_{s}"] if hands else [f"arm_{s}"]
        depth = {name: silhouette.depth(project, vol, name) for name in ("trunk", "leg_l", "leg_r", "arm_l", "arm_r")}
        depth["head"] = depth["trunk"] + 0.01
        order = sorted(parts, key=lambda name: (depth[name], name))
        return [(name, parts[name]) for name in order]

    def body(self, states: list[State], ref: State) -> list[Shape]:
        shapes: list[Shape] = []
        project = self.cam.project
        trunk_depth = silhouette.depth(project, ref.volume, "trunk")
        regions = self.scene.figure.highlight
        for name, pieces in self.parts(ref):
            far = name not in ("trunk", "head") and silhouette.depth(project, ref.volume, name) < trunk_depth - 3
            ink, skin = (FAR, FAR_SKIN) if far else (BODY, SKIN)
            nose = ("nose_bridge", "nose", "nose_base") if name == "head" else ()
            outlines = [
                (
                    [silhouette.part_outline(project, st.volume, piece) for piece in pieces],
                    [self.xy(st, n) for n in nose],
                )
                for st in states
            ]
            shapes.append(Shape("path", _fill(ink, skin), _steady(outlines, self.steady, self.tolerance)))
            for region in regions:
                stretches = [st for st in silhouette.REGION_STRETCHES[region] if st[0] in pieces]
                if not stretches:
                    continue
                outlines = [
                    (
                        [
                            silhouette.stretch_outline(project, st.volume, *stretch, self.cam.toward)
                            for stretch in stretches
                        ],
                        [],
                    )
                    for st in states
                ]
                geometry = _steady(outlines, self.steady, self.tolerance)
                if not any(g["d"] for g in geometry):
                    continue
                shapes.append(Shape("path", _fill(ink, GLOW_FAR if far else GLOW), geometry))
        return shapes

    # --- props and support ------------------------------------------------------------------------

    def props(self, states: list[State]) -> tuple[list[Shape], list[Shape]]:
        """(drawn behind the body, drawn in front of it)."""
        back, front = [], []
        for i, prop in enumerate(self.scene.figure.props):
            if prop.under:
                back.append(self._under(states, prop))
            elif prop.at:
                front.append(self._held(states, prop))
            else:
                front.append(self._span(states, i, prop))
        return back, front

    def _under(self, states, prop) -> Shape:
        pts = sk.point_names(prop.under)
        geometry = []
        plane = self.scene.support.plane
        on_wall = plane is not None and any(
            p in q for s, _, q in self.scene.figure.frames[0].contacts if s == "support" for p in pts
        )
        for st in states:
            if on_wall:  # between the body and the wall
                normal, offset = plane
                p = st.points[pts[0]]
                r = RIGID[prop.kind][prop.size] if prop.kind in RIGID else 2.0
                depth = offset - sum(a * b for a, b in zip(p, normal, strict=True))  # to the wall
                cx, cy, _ = self.cam.project(tuple(p[i] + normal[i] * (depth - r) for i in range(3)))
                geometry.append({"d": _circle(cx, cy, r * SCALE)})
                continue
            low = min(pts, key=lambda p: surface_low(st, p))
            px, _, pz = st.points[low]
            floor = below(self.scene, st.points[low])
            top = surface_low(st, low)
            if prop.kind in RIGID:
                r = RIGID[prop.kind][prop.size]
            elif prop.kind == "rolled-towel":
                r = max(1.0, min(4.0, (top - floor) / 2))
            elif prop.kind == "towel":
                r = 0.7
            else:  # pillow: fills the gap
                r = max(1.0, (top - floor) / 2)
            cx, cy, _ = self.cam.project((px, floor + r, pz))
            if prop.kind == "pillow":
                geometry.append({"d": _oval(cx, cy, 8 * SCALE, r * SCALE)})
            elif prop.kind == "towel":  # a folded towel lying flat
                geometry.append({"d": _oval(cx, cy, 5 * SCALE, 0.7 * SCALE)})
            else:
                geometry.append({"d": _circle(cx, cy, r * SCALE)})
        fill, line = PROP_COLOURS[prop.kind if prop.kind != "ball" else f"ball-{prop.size}"]
        return Shape("path", f'stroke="{line}" stroke-width="2" fill="{fill}"', geometry)

    def _held(self, states, prop) -> Shape:
        s = prop.at[-1] if prop.at[-2:] in ("_l", "_r") else "r"
        fill, line = PROP_COLOURS[prop.kind if prop.kind != "ball" else f"ball-{prop.size}"]
        geometry = []
        for st in states:
            if prop.kind == "ball" or not prop.at.startswith("hand_"):
                cx, cy = self.xy(st, f"palm_{s}" if prop.at.startswith("hand_") else prop.at)
                r = RIGID["ball"][prop.size]
                geometry.append({"d": _circle(cx, cy, r * SCALE)})
                continue
            palm, grip = st.points[f"palm_{s}"], st.points[f"grip_{s}"]
            axis = tuple(g - p for g, p in zip(grip, palm, strict=True))

            def at(k: float, palm=palm, axis=axis) -> tuple[float, float]:
                return self.cam.project(tuple(p + a * k for p, a in zip(palm, axis, strict=True)))[:2]

            if prop.kind == "dumbbell":  # a bar, and a weight at each end across it
                (x0, y0), (x1, y1) = at(-1), at(1)
                u = (x1 - x0, y1 - y0)
                size = math.hypot(*u) or 1.0
                if size < 0.6 * SCALE:  # seen nearly end-on: a round weight
                    cx, cy = at(3.8)
                    geometry.append({"d": _circle(cx, cy, 2.4 * SCALE)})
                    continue
                u = (u[0] / size, u[1] / size)
                v = (-u[1], u[0])
                d = _rel([at(-3.6), at(3.6)])
                for k in (-3.8, 3.8):
                    cx, cy = at(k)
                    corners = ((-1, -1), (1, -1), (1, 1), (-1, 1))
                    d += _rel([(cx + (a * u[0] * 0.9 + b * v[0] * 2.4) * SCALE,
                                cy + (a * u[1] * 0.9 + b * v[1] * 2.4) * SCALE) for a, b in corners], True)  # fmt: skip
                geometry.append({"d": d})
            else:  # a rolled towel in the hand
                geometry.append({"d": _rel([at(-3.5), at(3.5)])})
        if prop.kind == "ball":
            return Shape("path", f'stroke="{line}" stroke-width="2" fill="{fill}"', geometry)
        if prop.kind == "dumbbell":
            return Shape("path", f'stroke="{line}" stroke-width="{_n(1.4 * SCALE)}" fill="{line}"', geometry)
        return Shape("path", f'stroke="{line}" stroke-width="{_n(3.0 * SCALE)}"', geometry)

    def _span(self, states, i, prop) -> Shape:
        a, b = prop.between
        geometry = []
        for st in states:
            pa = st.points[a if not a.startswith("hand_") else f"palm_{a[-1]}"]
            if b == "floor":
                pb = (pa[0], 0.0, pa[2])
            elif b == "anchor":
                pb = self.scene.anchors[i]
            else:
                pb = st.points[b if not b.startswith("hand_") else f"palm_{b[-1]}"]
            (x0, y0, _), (x1, y1, _) = self.cam.project(pa), self.cam.project(pb)
            if prop.kind == "stick":
                length = math.hypot(x1 - x0, y1 - y0) or 1.0
                ux, uy = (x1 - x0) / length, (y1 - y0) / length
                extra = 0 if b == "floor" else 8 * SCALE
                x0, y0, x1, y1 = x0 - ux * 8 * SCALE, y0 - uy * 8 * SCALE, x1 + ux * extra, y1 + uy * extra
            d = _rel([(x0, y0), (x1, y1)])
            if b == "anchor":
                d += f"M{_n(x1)} {_n(y1)}l0 0"
            geometry.append({"d": d})
        width = {"band": 1.3, "towel": 2.2, "stick": 1.6}[prop.kind]
        line = PROP_COLOURS[prop.kind][1]
        return Shape("path", f'stroke="{line}" stroke-width="{_n(width * SCALE)}"', geometry)

    def support(self, ref: State, box: tuple[float, float, float, float]) -> str:
        """The support, fixed for the whole animation (drawn before the body)."""
        sup = self.scene.support
        out = []
        body_depth = self.depth(ref, ["pelvis"])
        view_area = box[2] * box[3]
        for b in sup.boxes:
            corners = [self.cam.project(c) for c in _box_corners(b)]
            hull = _hull([(x, y) for x, y, _ in corners])
            area = _area(hull)
            face_on = area > 0.25 * view_area  # a wall or table top seen face on: only when behind the body
            if face_on and sup.kind != "mat" and max(c[2] for c in corners) > body_depth:
                continue
            out.append(f'<path d="{_rel(hull, True)}"/>')
        group = "".join(out)
        floor = ""
        if self.scene.figure.view != "above" and abs(self.scene.figure.tilt) < 10:
            level = -MAT if sup.kind == "mat" else 0.0
            y = self.cam.project((0.0, level, 0.0))[1]
            floor = f'<path d="M{_n(box[0])} {_n(y)}H{_n(box[0] + box[2])}" stroke="{LINE}" stroke-width="3"/>'
        if not group:
            return floor
        fill, line = (MAT_FILL, MAT_LINE) if sup.kind == "mat" else (SUPPORT, LINE)
        return f'<g fill="{fill}" stroke="{line}" stroke-width="2">{group}</g>{floor}'

    def arrow_paths(self, end: int | None = None) -> list[list[tuple[float, float]]]:
        """Each arrow's line (screen points, set off from the body), and its head's three points last."""
        if self._arrows is None:
            centre = self.xy(self.scene.keyframes[0], "pelvis")
            self._arrows = []
            for arrow in self.scene.figure.arrows:
                pts = [self.xy(between(self.scene, arrow.start, arrow.end, k / 6), arrow.point) for k in range(1, 6)]
                self._arrows.append((arrow.end, _arrow(pts, centre, self.ink)))
        return [pts for e, pts in self._arrows if end is None or e == end]

    def arrows(self, end: int | None = None) -> str:
        out = []
        for pts in self.arrow_paths(end):
            line, head = pts[:-3], pts[-3:]
            out.append(f'<path d="{_rel(line)}" fill="none"/><path d="{_rel(head, True)}"/>')
        if not out:
            return ""
        width = f"{ARROW_WIDTH * SCALE * self.ink:.1f}".rstrip("0").rstrip(".")
        return f'<g stroke="{ARROW}" stroke-width="{width}" fill="{ARROW}">{"".join(out)}</g>'


def _circle(cx: float, cy: float, r: float) -> str:
    return f"M{_n(cx - r)} {_n(cy)}a{_n(r)} {_n(r)} 0 1 0 {_n(2 * r)} 0a{_n(r)} {_n(r)} 0 1 0 {_n(-2 * r)} 0"


def _oval(cx: float, cy: float, w: float, h: float) -> str:
    return (
        f"M{_n(cx - w)} {_n(cy)}Q{_n(cx - w)} {_n(cy - h)} {_n(cx)} {_n(cy - h)}"
        f"Q{_n(cx + w)} {_n(cy - h)} {_n(cx + w)} {_n(cy)}Q{_n(cx + w)} {_n(cy + h)} {_n(cx)} {_n(cy + h)}"
        f"Q{_n(cx - w)} {_n(cy + h)} {_n(cx - w)} {_n(cy)}Z"
    )


def _area(hull) -> float:
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(hull, hull[1:] + hull[:1], strict=True))) / 2


def _arrow(pts: list[tuple[float, float]], centre: tuple[float, float], ink: float = 1.0) -> list[tuple[float, float]]:
    """A curved arrow along a point's path, set off from the body: its line, then its head's 3 points."""
    (x0, y0), (x1, y1) = pts[0], pts[-1]
    mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
    dx, dy = x1 - x0, y1 - y0
    length = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / length, dx / length
    bulge = (mx - (x0 + x1) / 2) * nx + (my - (y0 + y1) / 2) * ny
    # A curved path: the arrow goes round its outside; a straight one: on the side away from the body.
    side = bulge if abs(bulge) > 2 * SCALE else (mx - centre[0]) * nx + (my - centre[1]) * ny
    if side < 0:
        nx, ny = -nx, -ny
    off = ARROW_OFFSET * SCALE * ink
    if length < SHORT * SCALE * ink:
        # a small movement (a chin tuck): a longer arrow leading into it, ahead of the point, not across the body
        ux, uy = dx / length, dy / length
        reach = SHORT * SCALE * ink
        return _arrow_line(
            ink,
            [
                (x0 - ux * (reach + off * 0.6), y0 - uy * (reach + off * 0.6)),
                (x0 - ux * off * 0.6, y0 - uy * off * 0.6),
            ],
        )
    shifted = [(x + nx * off, y + ny * off) for x, y in pts]
    return _arrow_line(ink, shifted)


def _arrow_line(ink: float, shifted: list[tuple[float, float]]) -> list[tuple[float, float]]:
    (ax, ay), (bx, by) = shifted[-2], shifted[-1]
    seg = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / seg, (by - ay) / seg
    tip = (bx + ux * 3.5 * SCALE * ink, by + uy * 3.5 * SCALE * ink)
    wing = 2.8 * SCALE * ink
    return [*shifted, tip, (bx - uy * wing, by + ux * wing), (bx + uy * wing, by - ux * wing)]


# --- assembling the SVG ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    states: tuple[int, ...]  # indices into the states list: keyframe, in-betweens, next keyframe
    times: tuple[float, ...]  # key times 0..1 within the move, along an ease-in-out curve


def _schedule(scene: Scene, step_degrees: float = 30) -> tuple[list[State], list[Transition]]:
    """The keyframes (first in the list), the in-between states, and each move to the next keyframe."""
    fig = scene.figure
    n = len(fig.frames)
    states: list[State] = list(scene.keyframes)
    moves = []
    for i in range(n):
        j = (i + 1) % n
        steps = max(1, math.ceil(largest_change(fig.frames[i], fig.frames[j]) / step_degrees))
        path, times = [i], [0.0]
        for k in range(1, steps):
            t = k / steps  # even steps of angle, timed along an ease-in-out curve
            states.append(between(scene, i, j, t))
            path.append(len(states) - 1)
            times.append(math.acos(1 - 2 * t) / math.pi)
        moves.append(Transition((*path, j), (*times, 1.0)))
    return states, moves


# A close-up (focus) frames these rings of the body: enough around the region to read the posture.
_UPPER = ("chin", "mouth", "cheeks", "eyes", "brow", "skull_top", "neck_low", "neck_high", "shoulders", "armpits",
          "chest", "ribs", "waist", "iliac", "deltoid_l", "deltoid_r", "biceps_l", "biceps_r")  # fmt: skip
_HAND = ("wrist", "palm", "knuckles", "finger_mid", "tips", "thumb_root", "thumb_tip")
_FOREARM = ("elbow", "forearm", *_HAND)
_FOOT = ("calf", "shin", "ankle", "heel", "instep", "ball", "toe_tips")
_HEAD = ("chin", "mouth", "cheeks", "eyes", "brow", "skull_top", "neck_high", "neck_low")
FOCUS_RINGS = {
    **dict.fromkeys(("head", "jaw"), _HEAD),
    **dict.fromkeys(("neck", "upper-back", "chest"), _UPPER),
    **{f"{r}_{s}": _UPPER for r in ("shoulder", "shoulder-blade") for s in sk.SIDES},
    **{f"{r}_{s}": tuple(f"{n}_{s}" for n in _HAND) for r in ("hand", "wrist") for s in sk.SIDES},
    **{f"forearm_{s}": tuple(f"{n}_{s}" for n in _FOREARM) for s in sk.SIDES},
    **{f"{r}_{s}": tuple(f"{n}_{s}" for n in _FOOT) for r in ("foot", "ankle", "calf") for s in sk.SIDES},
}
PAD = 3.0  # body units around the figure


def _bounds(drawing: Drawing, states: list[State], arrows_end: int | None = None) -> tuple[int, int, int, int]:
    """The picture's box: tight around the body (every state), its support and its arrows."""
    fig = drawing.scene.figure
    project = drawing.cam.project
    names = FOCUS_RINGS.get(fig.focus) if fig.focus else None
    xs, ys = [], []
    for st in states:
        rings = st.volume.rings
        for name in names or rings:
            for p in rings[name][1]:
                x, y, _ = project(p)
                xs.append(x)
                ys.append(y)
    if fig.focus:
        pad = 4 * SCALE
    else:
        pad = PAD * SCALE
        upright = drawing.scene.support.kind in ("wall", "door-frame")
        for b in drawing.scene.support.boxes:
            corners = [project(c) for c in _box_corners(b)]
            bx = [c[0] for c in corners]
            if not upright or max(bx) - min(bx) < 30 * SCALE:  # a wall counts only seen edge-on
                xs += bx
            if not upright:  # a wall is as tall as the picture, not taller
                ys += [c[1] for c in corners]
    for pts in drawing.arrow_paths(arrows_end):
        xs += [x for x, _ in pts]
        ys += [y for _, y in pts]
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    if fig.view != "above" and not fig.focus:
        y1 = max(y1, project((0.0, 0.0, 0.0))[1] + 2 * SCALE)
    w, h = x1 - x0, y1 - y0
    if fig.focus:  # a close-up still shows enough round the region to read the posture
        least = FOCUS_LEAST.get(fig.focus.rsplit("_", 1)[0], FOCUS_SIZE) * SCALE
        if w < least:
            x0, w = x0 - (least - w) / 2, least
        if h < least:
            y0, h = y0 - (least - h) / 2, least
    if w < h * 0.42:  # a standing figure from the side still leaves room to read its arrows
        x0 -= (h * 0.42 - w) / 2
        w = h * 0.42
    return (math.floor(x0), math.floor(y0), math.ceil(w), math.ceil(h))


def _element(shape: Shape, index: int, extra: str = "") -> str:
    attrs = "".join(f' {k}="{v}"' for k, v in shape.geometry[index].items())
    style = f" {shape.style}" if shape.style else ""
    return f"<{shape.tag}{style}{extra}{attrs}/>"


def _static_shapes(shapes: list[Shape], index: int) -> str:
    return "".join(_element(shape, index) for shape in shapes)


def _moves(shape: Shape) -> bool:
    return any(g != shape.geometry[0] for g in shape.geometry)


def _animated_shapes(shapes: list[Shape], moves: list[Transition], still: int, clock: str, ease: bool = True) -> str:
    """Each moving part with one animation per move it makes, all started from one looping clock and
    held at their end (so each keyframe's outline is written once), and its still copy beside it
    (shown instead under reduced motion); a part that does not move is written once, for both."""
    out = []
    for shape in shapes:
        if not _moves(shape):
            out.append(_element(shape, 0))
            continue
        anims = []
        for j, move in enumerate(moves):
            start = _fmt_time(j * (HOLD + MOVE) + HOLD)
            for key in shape.geometry[0]:
                values = [shape.geometry[k][key] for k in move.states]
                if len(set(values)) == 1:
                    continue
                if len(values) == 2:  # from wherever the part is to the next keyframe
                    what = f'to="{values[1]}"' + (
                        ' calcMode="spline" keyTimes="0;1" keySplines=".4 0 .6 1"' if ease else ""
                    )
                else:
                    what = f'values="{";".join(values)}" keyTimes="{";".join(_fmt_time(t) for t in move.times)}"'
                anims.append(
                    f'<animate attributeName="{key}" begin="{clock}.begin+{start}s" dur="{_fmt_time(MOVE)}s" '
                    f'fill="freeze" {what}/>'
                )
        attrs = "".join(f' {k}="{v}"' for k, v in shape.geometry[0].items())
        still_attrs = "".join(f' {k}="{v}"' for k, v in shape.geometry[still].items())
        style = f" {shape.style}" if shape.style else ""
        out.append(
            f'<g{style}><{shape.tag} class="a"{attrs}>{"".join(anims)}</{shape.tag}>'
            f'<{shape.tag} class="s" display="none"{still_attrs}/></g>'
        )
    return "".join(out)


def _layers(drawing: Drawing, states: list[State], ref: State) -> list[Shape]:
    back, front = drawing.props(states)
    return back + drawing.body(states, ref) + front


def _svg(box, title: str, desc: str, body: str, style: str = "", ink: float = 1.0) -> str:
    x, y, w, h = box
    stroke = f"{STROKE * SCALE * ink:.1f}".rstrip("0").rstrip(".")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x} {y} {w} {h}" width="{w}" height="{h}" role="img">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{style}"
        f'<g fill="none" stroke="{BODY}" stroke-width="{stroke}" stroke-linecap="round" '
        f'stroke-linejoin="round">{body}</g></svg>'
    )


def _fmt_time(t: float) -> str:
    text = f"{t:.3f}".rstrip("0").rstrip(".")
    return text[1:] if text.startswith("0.") else text


def animated(scene: Scene, title: str, desc: str, *, mirror: bool = False) -> str:
    """The figure moving through its keyframes in a loop; a still of the main one under reduced motion."""
    drawing = Drawing(scene, mirror)
    fig = scene.figure
    if len(fig.frames) == 1:
        return single(scene, title, desc, frame=0, mirror=mirror)
    tag = _tag(scene, title)
    # a drawing too big for the budget gets fewer in-between states, then plain (not eased) moves
    for step, ease, steady, tolerance in LADDER:
        drawing.steady, drawing.tolerance = steady, tolerance
        states, moves = _schedule(scene, step)
        box = _bounds(drawing, states)
        shapes = _layers(drawing, states, scene.keyframes[0])
        dur = _fmt_time(len(fig.frames) * (HOLD + MOVE))
        # the clock: restarts itself at its end, and every move starts a set time after it
        clock = f'<set id="{tag}" attributeName="opacity" to="1" begin="0s;{tag}.end" dur="{dur}s"/>'
        moving = _animated_shapes(shapes, moves, fig.still, tag, ease)
        body = clock + drawing.support(scene.keyframes[0], box) + moving + drawing.arrows()
        style = "<style>@media (prefers-reduced-motion:reduce){.a{display:none}.s{display:inline}}</style>"
        svg = _svg(box, title, desc, body, style, drawing.ink)
        if len(svg.encode()) <= BUDGET:
            break
    return svg


def single(scene: Scene, title: str, desc: str, *, frame: int, mirror: bool = False) -> str:
    """One keyframe, still."""
    drawing = Drawing(scene, mirror)
    state = scene.keyframes[frame]
    states = list(scene.keyframes)
    box = _bounds(drawing, states)
    shapes = _layers(drawing, [state], scene.keyframes[0])
    body = drawing.support(scene.keyframes[0], box) + _static_shapes(shapes, 0) + drawing.arrows(end=frame)
    if scene.figure.focus:
        # a close-up crops the body: clip each part too, for renderers that ignore the viewBox's edge (fpdf2)
        x, y, w, h = box
        body = (
            f'<defs><clipPath id="k"><rect x="{x}" y="{y}" width="{w}" height="{h}"/></clipPath></defs>'
            + body.replace("<path ", '<path clip-path="url(#k)" ')
        )
    return _svg(box, title, desc, body, ink=drawing.ink)


def strip(scene: Scene, title: str, desc: str, *, mirror: bool = False) -> str:
    """Every keyframe side by side, left to right, for print; parts that do not move are drawn once
    (in <defs>) and used in each panel."""
    drawing = Drawing(scene, mirror)
    states = list(scene.keyframes)
    x, y, w, h = _bounds(drawing, states)
    shapes = _layers(drawing, states, scene.keyframes[0])
    tag = _tag(scene, title)
    defs = [f'<g id="{tag}">{drawing.support(states[0], (x, y, w, h))}</g>']
    for k, shape in enumerate(shapes):
        if not _moves(shape):
            defs.append(_element(shape, 0, f' id="{tag}{k}"'))
    gap = 10 * SCALE
    panels = [f"<defs>{''.join(defs)}</defs>"]
    dx = 0.0
    for i in range(len(states)):
        px, pw = _panel_x(drawing, states[i], i, (x, y, w, h))
        inner = f'<use href="#{tag}"/>' + "".join(
            _element(shape, i) if _moves(shape) else f'<use href="#{tag}{k}"/>' for k, shape in enumerate(shapes)
        )
        inner += drawing.arrows(end=i)
        if i:
            cx, cy = x + dx - gap / 2, y + h / 2
            panels.append(f'<path d="M{_n(cx - 4)} {_n(cy - 8)}l8 8-8 8" stroke="{LINE}" stroke-width="3"/>')
        # A nested <svg> per panel clips it, so a close-up does not spill into its neighbour.
        panels.append(
            f'<svg x="{_n(x + dx)}" y="{y}" width="{pw}" height="{h}" viewBox="{px} {y} {pw} {h}">{inner}</svg>'
        )
        dx += pw + gap
    return _svg((x, y, round(dx - gap), h), title, desc, "".join(panels), ink=drawing.ink)


def _tag(scene: Scene, title: str) -> str:
    """An id prefix unique to this drawing, so two drawings inlined in one page never mix their parts."""
    figure = json.dumps(scene.figure.raw, sort_keys=True, separators=(",", ":"))
    return "f" + hashlib.sha256(f"{title}\n{figure}".encode()).hexdigest()[:3]


def _panel_x(drawing: Drawing, state: State, index: int, box) -> tuple[int, int]:
    """A strip panel's left edge and width: tight round this keyframe (and the support), not all of them."""
    own = _bounds(drawing, [state], arrows_end=index)
    return own[0], own[2]
