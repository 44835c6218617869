"""Draw a placed figure as SVG: animated between its keyframes, one keyframe, or all of them side
by side (for print). Deterministic (the same figure gives the same bytes), no text in the picture,
one style; `mirror` swaps left and right so the prescribed side is the one drawn working.

The animation is SMIL (`<animate>` on path data), which every current browser plays, also in an
<img>; under prefers-reduced-motion a still of the main keyframe shows instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from hep.figures import skeleton as sk
from hep.figures.kinematics import Vec
from hep.figures.scene import RIGID, Scene, State, below, between, largest_change

SCALE = 2.0  # SVG units per body unit
BODY, FAR, GLOW, PROP, BAND, SUPPORT, LINE, ARROW, HALO = (
    "#2f4858", "#7f9bb0", "#f2994a", "#b07d48", "#c44536", "#eef0f2", "#b4bcc4", "#d9480f", "#fff",
)  # fmt: skip
HOLD, MOVE = 0.7, 1.3  # seconds at each keyframe, and per transition
STEP_DEGREES = 30  # one in-between state per this many degrees of the largest joint change
FOCUS_SIZE = 46  # body units: the least a close-up (focus) shows across and down
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

    def xy(self, state: State, name: str) -> tuple[float, float]:
        x, y, _ = self.cam.project(state.points[name])
        return (x, y)

    def depth(self, state: State, names) -> float:
        return sum(self.cam.project(state.points[n])[2] for n in names) / len(names)

    # --- the body ---------------------------------------------------------------------------------

    def parts(self, ref: State) -> list[tuple[str, list[str]]]:
        """Body parts far to near (in the reference state), each with its drawing points."""
        core = ["pelvis", "waist", "chest", "neck_base", "head"]
        parts = {"core": core}
        for s in sk.SIDES:
            parts[f"leg_{s}"] = [f"hip_{s}", f"knee_{s}", f"ankle_{s}", f"toes_{s}"]
            parts[f"arm_{s}"] = [f"shoulder_{s}", f"elbow_{s}", f"wrist_{s}", f"hand_{s}"]
        order = ["leg_l", "leg_r", "core", "arm_l", "arm_r"]
        return sorted(((name, parts[name]) for name in order), key=lambda kv: self.depth(ref, kv[1]))

    def body(self, states: list[State], ref: State) -> list[Shape]:
        shapes: list[Shape] = []
        core_depth = self.depth(ref, ["pelvis", "chest"])
        for name, pts in self.parts(ref):
            colour = BODY if name == "core" or self.depth(ref, pts) >= core_depth - 3 else FAR
            if name == "core":
                shapes += self._core(states)
                continue
            s = name[-1]
            if name.startswith("leg"):
                chain = [f"hip_{s}", f"knee_{s}", f"ankle_{s}"]
                foot = [f"ankle_{s}", f"heel_{s}", f"toes_{s}"]
                shapes.append(self._line(states, chain, colour, sk.WIDTH["leg"], halo=True))
                shapes.append(self._line(states, foot, colour, sk.WIDTH["foot"], close=True))
            else:
                chain = [f"shoulder_{s}", f"elbow_{s}", f"wrist_{s}"]
                shapes.append(self._line(states, chain, colour, sk.WIDTH["arm"], halo=True))
                shapes.append(self._hand(states, s, colour))
        return shapes

    def _line(self, states, names, colour, width, close=False, halo=False) -> Shape:
        style = f'stroke="{colour}" stroke-width="{_n(width * SCALE)}"'
        if close:
            style += f' fill="{colour}"'
        geometry = [{"d": _path([self.xy(st, n) for n in names], close)} for st in states]
        return Shape("path", style, geometry, halo=(width + 1.2) * SCALE if halo else 0.0)

    def _hand(self, states, s, colour) -> Shape:
        geometry = []
        for st in states:
            fingers = [self.xy(st, n) for n in (f"wrist_{s}", f"hand_{s}", f"finger_mid_{s}", f"fingers_{s}")]
            thumb = [self.xy(st, f"hand_{s}"), self.xy(st, f"thumb_{s}")]
            geometry.append({"d": _path(fingers) + _path(thumb)})
        return Shape("path", f'stroke="{colour}" stroke-width="{_n(sk.WIDTH["hand"] * SCALE)}"', geometry)

    def _core(self, states) -> list[Shape]:
        trunk = ["shoulder_l", "waist_l", "hip_l", "hip_r", "waist_r", "shoulder_r"]
        spine = ["pelvis", "waist", "chest", "neck_base"]
        torso = Shape("path", f'stroke="{BODY}" fill="{BODY}" stroke-width="{_n(sk.WIDTH["trunk"] * SCALE)}"', [])
        neck = Shape("path", f'stroke="{BODY}" stroke-width="{_n(sk.WIDTH["neck"] * SCALE)}"', [])
        head = Shape("circle", f'r="{_n(sk.HEAD_R * SCALE)}" fill="{BODY}"', [])
        nose = Shape("path", f'fill="{BODY}"', [])
        for st in states:
            torso.geometry.append(
                {"d": _path([self.xy(st, n) for n in trunk], True) + _path([self.xy(st, n) for n in spine])}
            )
            neck.geometry.append({"d": _path([self.xy(st, "neck_base"), self.xy(st, "neck_top")])})
            hx, hy = self.xy(st, "head")
            head.geometry.append({"cx": _n(hx), "cy": _n(hy)})
            nx, ny = self.xy(st, "nose")
            dx, dy = nx - hx, ny - hy
            length = math.hypot(dx, dy) or 1.0
            px, py = -dy / length * 3.6 * SCALE, dx / length * 3.6 * SCALE
            nose.geometry.append({"d": _path([(hx + px, hy + py), (nx, ny), (hx - px, hy - py)], True)})
        return [torso, neck, head, nose]

    def glow(self, states: list[State]) -> list[Shape]:
        shapes = []
        for region in self.scene.figure.highlight:
            for chain in sk.REGIONS[region]:
                width = 13 if len(chain) == 1 else 7 + max(sk.radius(p) for p in chain) * 1.2
                geometry = []
                for st in states:
                    pts = [self.xy(st, n) for n in chain]
                    if len(pts) == 1:
                        pts = pts * 2
                    geometry.append({"d": _path(pts)})
                style = f'stroke="{GLOW}" stroke-width="{_n(width * SCALE)}" stroke-opacity=".6"'
                shapes.append(Shape("path", style, geometry))
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
        for st in states:
            low = min(pts, key=lambda p: st.points[p][1] - sk.radius(p))
            px, py, pz = st.points[low]
            floor = below(self.scene, st.points[low])
            top = py - sk.radius(low)
            if prop.kind in RIGID:
                r = RIGID[prop.kind][prop.size]
                centre = (px, floor + r, pz)
            elif prop.kind == "rolled-towel":
                r = max(1.0, min(4.0, (top - floor) / 2))
                centre = (px, floor + r, pz)
            else:  # pillow: fills the gap
                r = max(1.0, (top - floor) / 2)
                centre = (px, floor + r, pz)
            cx, cy, _ = self.cam.project(centre)
            if prop.kind == "pillow":
                geometry.append({"d": _oval(cx, cy, 9 * SCALE, r * SCALE)})
            else:
                geometry.append({"d": _circle(cx, cy, r * SCALE)})
        colour = PROP if prop.kind != "ball" else BAND
        return Shape("path", f'stroke="{colour}" stroke-width="3" fill="{SUPPORT}"', geometry)

    def _held(self, states, prop) -> Shape:
        s = prop.at[-1] if prop.at[-2:] in ("_l", "_r") else "r"
        geometry = []
        for st in states:
            if prop.kind == "ball" or not prop.at.startswith("hand_"):
                cx, cy = self.xy(st, f"palm_{s}" if prop.at.startswith("hand_") else prop.at)
                r = RIGID["ball"][prop.size]
                geometry.append({"d": _circle(cx, cy, r * SCALE)})
                continue
            palm, grip = st.points[f"palm_{s}"], st.points[f"grip_{s}"]
            axis = tuple(g - p for g, p in zip(grip, palm, strict=True))
            half = 5.0 if prop.kind == "dumbbell" else 4.0
            ends = [
                self.cam.project(tuple(p + a * k for p, a in zip(palm, axis, strict=True)))[:2] for k in (-half, half)
            ]
            d = _path(ends)
            if prop.kind == "dumbbell":
                d += "".join(f"M{_n(x)} {_n(y)}h0" for x, y in ends)
            geometry.append({"d": d})
        if prop.kind == "ball":
            return Shape("path", f'stroke="{BAND}" stroke-width="2" fill="{BAND}" fill-opacity=".35"', geometry)
        width = 4 if prop.kind == "dumbbell" else 6
        return Shape("path", f'stroke="{PROP}" stroke-width="{width}"', geometry)

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
            d = _path([(x0, y0), (x1, y1)])
            if b == "anchor":
                d += f"M{_n(x1)} {_n(y1)}h0"
            geometry.append({"d": d})
        width = {"band": 2.5, "towel": 5, "stick": 4}[prop.kind]
        colour = BAND if prop.kind == "band" else PROP
        return Shape("path", f'stroke="{colour}" stroke-width="{width}"', geometry)

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
            if face_on and max(c[2] for c in corners) > body_depth:
                continue
            out.append(f'<path d="{_path(hull, True)}"/>')
        group = "".join(out)
        floor = ""
        if self.scene.figure.view != "above" or self.scene.figure.tilt:
            y = self.cam.project((0.0, 0.0, 0.0))[1] if self.scene.figure.view != "above" else None
            if y is not None:
                floor = f'<path d="M{_n(box[0])} {_n(y)}H{_n(box[0] + box[2])}" stroke="{LINE}" stroke-width="3"/>'
        if not group:
            return floor
        return f'<g fill="{SUPPORT}" stroke="{LINE}" stroke-width="2">{group}</g>{floor}'

    def arrows(self, end: int | None = None) -> str:
        out = []
        centre = self.xy(self.scene.keyframes[0], "pelvis")
        for arrow in self.scene.figure.arrows:
            if end is not None and arrow.end != end:
                continue
            pts = [self.xy(between(self.scene, arrow.start, arrow.end, k / 8), arrow.point) for k in range(1, 8)]
            out.append(_arrow(pts, centre))
        if not out:
            return ""
        return f'<g stroke="{ARROW}" stroke-width="3" fill="{ARROW}">{"".join(out)}</g>'


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


def _arrow(pts: list[tuple[float, float]], centre: tuple[float, float]) -> str:
    """A curved arrow along a point's path, set off from the body by a little."""
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
    off = 7 * SCALE
    shifted = [(x + nx * off, y + ny * off) for x, y in pts]
    (ax, ay), (bx, by) = shifted[-2], shifted[-1]
    seg = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / seg, (by - ay) / seg
    tip = (bx + ux * 3 * SCALE, by + uy * 3 * SCALE)
    wing = 2.6 * SCALE
    head = [tip, (bx - uy * wing, by + ux * wing), (bx + uy * wing, by - ux * wing)]
    return f'<path d="{_path(shifted)}" fill="none"/><path d="{_path(head, True)}" stroke="none"/>'


# --- assembling the SVG ----------------------------------------------------------------------------


def _schedule(scene: Scene) -> tuple[list[State], list[float]]:
    """States and key times (0..1) of one loop: hold each keyframe, move to the next, back to the first."""
    fig = scene.figure
    n = len(fig.frames)
    states: list[State] = []
    times: list[float] = []
    total = n * (HOLD + MOVE)
    clock = 0.0
    for i in range(n):
        j = (i + 1) % n
        states += [scene.keyframes[i], scene.keyframes[i]]
        times += [clock, clock + HOLD]
        clock += HOLD
        steps = max(1, math.ceil(largest_change(fig.frames[i], fig.frames[j]) / STEP_DEGREES))
        for k in range(1, steps):
            t = k / steps  # even steps of angle, timed along an ease-in-out curve
            states.append(between(scene, i, j, t))
            times.append(clock + MOVE * math.acos(1 - 2 * t) / math.pi)
        clock += MOVE
    states.append(scene.keyframes[0])
    times.append(clock)
    return states, [t / total for t in times]


def _bounds(drawing: Drawing, states: list[State]) -> tuple[float, float, float, float]:
    fig = drawing.scene.figure
    pad = 8 * SCALE
    if fig.focus:
        names = [p for chain in sk.REGIONS[fig.focus] for p in chain]
        pad = 14 * SCALE
    else:
        names = [n for n in states[0].points if not n.startswith(("grip", "palm"))]
    xs, ys = [], []
    for st in states:
        for n in names:
            x, y, _ = drawing.cam.project(st.points[n])
            r = (sk.HEAD_R if n == "head" else 3) * SCALE
            xs += [x - r, x + r]
            ys += [y - r, y + r]
    if not fig.focus:
        upright = drawing.scene.support.kind in ("wall", "door-frame")
        for b in drawing.scene.support.boxes:
            corners = [drawing.cam.project(c) for c in _box_corners(b)]
            bx = [c[0] for c in corners]
            if not upright or max(bx) - min(bx) < 30 * SCALE:  # a wall counts only seen edge-on
                xs += bx
            if not upright:  # a wall is as tall as the picture, not taller
                ys += [c[1] for c in corners]
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    if fig.view != "above" and not fig.focus:
        y1 = max(y1, drawing.cam.project((0.0, 0.0, 0.0))[1] + 4 * SCALE)
    w, h = x1 - x0, y1 - y0
    if fig.focus:  # a close-up still shows enough around the region to read the posture
        least = FOCUS_SIZE * SCALE
        if w < least:
            x0, w = x0 - (least - w) / 2, least
        if h < least:
            y0, h = y0 - (least - h) / 2, least
    if w < h * 0.8:  # not too narrow: a standing figure gets room for its support and arrows
        x0 -= (h * 0.8 - w) / 2
        w = h * 0.8
    return (round(x0), round(y0), round(w), round(h))


def _static_shapes(shapes: list[Shape], index: int) -> str:
    out = []
    for shape in shapes:
        geometry = shape.geometry[index]
        attrs = "".join(f' {k}="{v}"' for k, v in geometry.items())
        if shape.halo:
            out.append(f'<{shape.tag} stroke="{HALO}" stroke-width="{_n(shape.halo)}"{attrs}/>')
        out.append(f"<{shape.tag} {shape.style}{attrs}/>")
    return "".join(out)


def _animated_shapes(shapes: list[Shape], key_times: str, dur: str) -> str:
    out = []
    for i, shape in enumerate(shapes):
        attrs = "".join(f' {k}="{v}"' for k, v in shape.geometry[0].items())
        if shape.halo:  # the outline follows the animated limb through <use>, without a second copy of its data
            out.append(f'<use href="#m{i}" stroke="{HALO}" stroke-width="{_n(shape.halo)}"/>')
            out.append(f"<g {shape.style}>")
            attrs = f' id="m{i}"' + attrs
        anims = []
        for key in shape.geometry[0]:
            values = [g[key] for g in shape.geometry]
            if len(set(values)) == 1:
                continue
            anims.append(
                f'<animate attributeName="{key}" dur="{dur}" repeatCount="indefinite" '
                f'keyTimes="{key_times}" values="{";".join(values)}"/>'
            )
        inner = "".join(anims)
        style = "" if shape.halo else f" {shape.style}"
        out.append(f"<{shape.tag}{style}{attrs}>{inner}</{shape.tag}>" if inner else f"<{shape.tag}{style}{attrs}/>")
        if shape.halo:
            out.append("</g>")
    return "".join(out)


def _layers(drawing: Drawing, states: list[State], ref: State) -> list[Shape]:
    back, front = drawing.props(states)
    return drawing.glow(states) + back + drawing.body(states, ref) + front


def _svg(box, title: str, desc: str, body: str, style: str = "") -> str:
    x, y, w, h = box
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x} {y} {w} {h}" width="{w}" height="{h}" role="img">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{style}"
        f'<g fill="none" stroke-linecap="round" stroke-linejoin="round">{body}</g></svg>'
    )


def _fmt_time(t: float) -> str:
    text = f"{t:.3f}".rstrip("0").rstrip(".")
    return text[1:] if text.startswith("0.") else text


def animated(scene: Scene, title: str, desc: str, *, mirror: bool = False) -> str:
    """The figure moving through its keyframes in a loop; a still of the main one under reduced motion."""
    drawing = Drawing(scene, mirror)
    fig = scene.figure
    still = scene.keyframes[fig.still]
    if len(fig.frames) == 1:
        return single(scene, title, desc, frame=0, mirror=mirror)
    states, times = _schedule(scene)
    box = _bounds(drawing, states)
    shapes = _layers(drawing, states, scene.keyframes[0])
    dur = f"{_fmt_time(len(fig.frames) * (HOLD + MOVE))}s"
    moving = _animated_shapes(shapes, ";".join(_fmt_time(t) for t in times), dur)
    still_shapes = _layers(drawing, [still], scene.keyframes[0])
    body = (
        drawing.support(scene.keyframes[0], box)
        + f'<g class="a">{moving}</g><g class="s" display="none">{_static_shapes(still_shapes, 0)}</g>'
        + drawing.arrows()
    )
    style = "<style>@media (prefers-reduced-motion:reduce){.a{display:none}.s{display:inline}}</style>"
    return _svg(box, title, desc, body, style)


def single(scene: Scene, title: str, desc: str, *, frame: int, mirror: bool = False) -> str:
    """One keyframe, still."""
    drawing = Drawing(scene, mirror)
    state = scene.keyframes[frame]
    states = list(scene.keyframes)
    box = _bounds(drawing, states)
    shapes = _layers(drawing, [state], scene.keyframes[0])
    body = drawing.support(scene.keyframes[0], box) + _static_shapes(shapes, 0) + drawing.arrows(end=frame)
    return _svg(box, title, desc, body)


def strip(scene: Scene, title: str, desc: str, *, mirror: bool = False) -> str:
    """Every keyframe side by side, left to right, for print."""
    drawing = Drawing(scene, mirror)
    states = list(scene.keyframes)
    x, y, w, h = _bounds(drawing, states)
    gap = 12 * SCALE
    panels = []
    for i, state in enumerate(states):
        shapes = _layers(drawing, [state], scene.keyframes[0])
        inner = drawing.support(scene.keyframes[0], (x, y, w, h)) + _static_shapes(shapes, 0) + drawing.arrows(end=i)
        dx = i * (w + gap)
        # A nested <svg> per panel clips it, so a close-up does not spill into its neighbour.
        panels.append(f'<svg x="{_n(x + dx)}" y="{y}" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}">{inner}</svg>')
        if i:
            cx, cy = x + dx - gap / 2, y + h / 2
            panels.append(
                f'<path d="M{_n(cx - 4)} {_n(cy - 8)}L{_n(cx + 4)} {_n(cy)}L{_n(cx - 4)} {_n(cy + 8)}" '
                f'stroke="{LINE}" stroke-width="3"/>'
            )
    total = w * len(states) + gap * (len(states) - 1)
    return _svg((x, y, round(total), h), title, desc, "".join(panels))
