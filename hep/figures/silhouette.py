"""Outlines on the screen: each tube of the body's volume (anatomy.py) seen by a camera, and the
highlighted regions as stretches of those tubes (the calf is the back of the leg from below the
knee to the ankle, the lower back the back half of the trunk from the hips to the waist).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hep.figures.anatomy import ARM, FOOT, HEAD, LEG, THUMB, TRUNK, Tube, Volume
from hep.figures.kinematics import Vec

Point2 = tuple[float, float]
Project = Callable[[Vec], tuple[float, float, float]]

# The drawn parts: name -> (tube, side)
PARTS: dict[str, tuple[Tube, str | None]] = {
    "trunk": (TRUNK, None),
    "head": (HEAD, None),
    **{
        f"{kind}_{s}": (tube, s)
        for s in ("l", "r")
        for kind, tube in (("arm", ARM), ("leg", LEG), ("foot", FOOT), ("thumb", THUMB))
    },
}

# Which ring indices of a ring of anatomy.RING points a sector keeps (0 forwards, 3 right, 6 back, 9 left).
SECTORS = {
    None: range(12),
    "back": range(3, 10),
    "front": [9, 10, 11, 0, 1, 2, 3],
    "spine": range(5, 8),
    "back_r": range(3, 7),
    "back_l": range(6, 10),
    "side_r": range(1, 6),
    "side_l": range(7, 12),
}

# Region -> stretches: (part, first ring, last ring (fractions between rings), sector)
_BOTH = {
    "head": [("head", 0, 5, None)],
    "jaw": [("head", 0, 1.6, None)],
    "neck": [("trunk", 7.9, 9, None)],
    "upper-back": [("trunk", 4, 7.4, "back")],
    "chest": [("trunk", 4.5, 7.2, "front")],
    "lower-back": [("trunk", 1.2, 4, "back")],
    "core": [("trunk", 1.5, 5, "front")],
    "spine": [("trunk", 1, 8, "spine")],
    "buttocks": [("trunk", 0, 2.2, "back")],
}
_SIDED = {
    "shoulder": [("arm_{s}", 0, 1.3, None)],
    "shoulder-blade": [("trunk", 5, 7.4, "back_{s}")],
    "upper-arm": [("arm_{s}", 0, 2, None)],
    "elbow": [("arm_{s}", 1.5, 3.2, None)],
    "forearm": [("arm_{s}", 2, 4, None)],
    "wrist": [("arm_{s}", 3.4, 5.4, None)],
    "hand": [("arm_{s}", 4, 8, None), ("thumb_{s}", 0, 1, None)],
    "arm": [("arm_{s}", 0, 8, None), ("thumb_{s}", 0, 1, None)],
    "hip": [("trunk", 0.4, 2.6, "side_{s}"), ("leg_{s}", 0, 1.3, None)],
    "glute": [("trunk", 0, 2.4, "back_{s}")],
    "thigh": [("leg_{s}", 0, 3, None)],
    "knee": [("leg_{s}", 2.3, 4.3, None)],
    "calf": [("leg_{s}", 3.3, 6, "back")],
    "leg": [("leg_{s}", 0, 6, None), ("foot_{s}", 0, 3, None)],
    "ankle": [("leg_{s}", 5.2, 6, None), ("foot_{s}", 0, 1.4, None)],
    "foot": [("foot_{s}", 0, 3, None)],
}
REGION_STRETCHES: dict[str, list[tuple[str, float, float, str | None]]] = dict(_BOTH)
for _name, _stretches in _SIDED.items():
    for _s in ("l", "r"):
        REGION_STRETCHES[f"{_name}_{_s}"] = [
            (part.format(s=_s), a, b, None if sector is None else sector.format(s=_s))
            for part, a, b, sector in _stretches
        ]


def _lerp(a: Vec, b: Vec, t: float) -> Vec:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _rings(vol: Volume, part: str, first: float = 0, last: float | None = None):
    tube, side = PARTS[part]
    rings = vol.tube(tube, side)
    last = len(rings) - 1 if last is None else last
    out = []

    def at(x: float):
        i = min(int(x), len(rings) - 2)
        t = x - i
        if t == 0:
            return rings[i]
        (ca, ra), (cb, rb) = rings[i], rings[i + 1]
        return (_lerp(ca, cb, t), [_lerp(p, q, t) for p, q in zip(ra, rb, strict=True)])

    out.append(at(first))
    for i in range(math.floor(first) + 1, math.ceil(last)):
        out.append(rings[i])
    out.append(at(last) if last < len(rings) - 1 else rings[-1])
    caps = (tube.start_cap if first == 0 else 0.0, tube.end_cap if last >= len(rings) - 1 else 0.0)
    return out, caps


def outline(project: Project, rings, caps=(0.0, 0.0), sector=None, toward: Vec | None = None) -> list[Point2]:
    """A tube's silhouette: per ring its two extreme points across the tube, and rounded ends.

    Where the tube points at the camera (a thigh seen from the front when sitting), its rings
    take the direction of the nearest stretch that is seen from the side.
    """
    keep = list(SECTORS[sector])
    if sector is not None and toward is not None:  # a region on the far side of the body is not seen
        seen = []
        for c, ring in rings:
            facing = [
                k for k in keep if sum((ring[k][i] - c[i]) * toward[i] for i in range(3)) > -0.15 * _size(ring[k], c)
            ]
            seen.append(facing)
        front = [
            any(sum((ring[k][i] - c[i]) * toward[i] for i in range(3)) > 0.2 * _size(ring[k], c) for k in facing)
            for (c, ring), facing in zip(rings, seen, strict=True)
        ]
        if not any(front):
            return []
        rings = [(c, ring) for (c, ring), facing in zip(rings, seen, strict=True) if len(facing) >= 2]
        if len(rings) < 2:
            return []
        keep = sorted(set.intersection(*(set(f) for f in seen if len(f) >= 2)), key=keep.index)
        if len(keep) < 2:
            return []
    centres3 = [c for c, _ in rings]
    centres = [project(c)[:2] for c in centres3]
    points = [[project(ring[k])[:2] for k in keep] for _, ring in rings]
    n = len(rings)
    size = [max(math.dist(centres[i], p) for p in points[i]) for i in range(n)]
    dirs: list[Point2 | None] = []
    for i in range(n):
        a, b = centres[max(i - 1, 0)], centres[min(i + 1, n - 1)]
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = math.hypot(dx, dy)
        dirs.append((dx / length, dy / length) if length > 0.5 * size[i] + 1e-6 else None)
    if all(d is None for d in dirs):  # seen end-on: the outline of all its rings
        return _hull([p for ring in points for p in ring])
    for i in range(n):  # nearest known direction
        if dirs[i] is None:
            dirs[i] = min((d for d in dirs if d), key=lambda d, i=i: min(abs(j - i) for j in range(n) if dirs[j] == d))
    left, right = [], []
    for i in range(n):
        dx, dy = dirs[i]
        left.append(max(points[i], key=lambda p: -dy * p[0] + dx * p[1]))
        right.append(min(points[i], key=lambda p: -dy * p[0] + dx * p[1]))
    ends = []
    for i, sign, cap in ((0, -1, caps[0]), (n - 1, 1, caps[1])):
        ux, uy = dirs[i]
        dx, dy = ux * sign, uy * sign
        c = centres[i]
        # the ring's half that faces away from the tube: the start cap runs from the right side
        # round to the left, the end cap from the left round to the right
        arc = [p for p in points[i] if dx * (p[0] - c[0]) + dy * (p[1] - c[1]) > 0.35 * size[i]]
        arc.sort(key=lambda p: -uy * (p[0] - c[0]) + ux * (p[1] - c[1]), reverse=sign > 0)
        if cap and n > 1:
            j = 1 if i == 0 else n - 2
            axis = tuple(centres3[i][k] - centres3[j][k] for k in range(3))
            length = math.sqrt(sum(a * a for a in axis)) or 1.0
            tip = project(tuple(centres3[i][k] + axis[k] / length * cap for k in range(3)))[:2]
            reach = max((dx * (p[0] - c[0]) + dy * (p[1] - c[1]) for p in arc), default=0.0)
            if dx * (tip[0] - c[0]) + dy * (tip[1] - c[1]) > reach + 0.3:
                arc = [tip]
        ends.append(arc)
    return [*ends[0], *left, *ends[1], *reversed(right)]


def _size(p: Vec, c: Vec) -> float:
    return math.dist(p, c)


def _hull(pts: list[Point2]) -> list[Point2]:
    pts = sorted(set(pts))
    if len(pts) <= 2:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point2] = []
    upper: list[Point2] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def part_outline(project: Project, vol: Volume, part: str) -> list[Point2]:
    rings, caps = _rings(vol, part)
    return outline(project, rings, caps)


def stretch_outline(
    project: Project, vol: Volume, part: str, first: float, last: float, sector, toward: Vec | None = None
) -> list[Point2]:
    rings, caps = _rings(vol, part, first, last)
    return outline(project, rings, caps, sector, toward)


def depth(project: Project, vol: Volume, part: str) -> float:
    """How near the camera a part is (larger is nearer)."""
    tube, side = PARTS[part]
    rings = vol.tube(tube, side)
    return sum(project(c)[2] for c, _ in rings) / len(rings)
