"""The body's volume: rings (cross-sections) hung on the skeleton's segments, joined into tubes.

The renderer draws each tube's silhouette (trunk with neck, head, each arm with its hand, each leg,
each foot), and the scene rests the body on its surfaces by the same rings, so what touches the
floor in the picture is what touches it in the checks. Sizes are adult proportions of a stature
of 100 (after Drillis and Contini, and anthropometric tables of breadths and depths).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hep.figures.kinematics import Mat, Vec, add, apply

RING = 12  # points a ring is sampled at
_ANGLES = [(math.cos(2 * math.pi * k / RING), math.sin(2 * math.pi * k / RING)) for k in range(RING)]


@dataclass(frozen=True)
class Section:
    frame: str  # the segment whose orientation it follows (kinematics frames; "{s}" for the side)
    anchor: str  # the point it hangs from
    offset: Vec  # from the anchor, in the segment's axes (x forwards, y up, z to the right)
    front: float  # radius forwards (for a foot: upwards)
    back: float
    side: float
    axis: int = 1  # the segment's long axis: 1 (y) for the trunk and limbs, 0 (x) for a foot


S = Section
SECTIONS: dict[str, Section] = {
    # trunk, from the seat to the top of the neck
    "seat": S("pelvis", "pelvis", (0.0, -6.0, 0.0), 3.2, 5.4, 4.6),
    "hips": S("pelvis", "pelvis", (0.0, -1.5, 0.0), 5.8, 7.1, 9.3),
    "iliac": S("pelvis", "pelvis", (0.3, 4.5, 0.0), 5.9, 5.3, 8.4),
    "waist": S("lumbar", "waist", (0.5, 0.0, 0.0), 5.6, 4.5, 7.1),
    "ribs": S("thorax", "waist", (0.6, 5.0, 0.0), 6.3, 5.3, 8.2),
    "chest": S("thorax", "waist", (0.8, 10.0, 0.0), 7.0, 5.8, 9.0),
    "armpits": S("thorax", "waist", (0.5, 13.5, 0.0), 6.5, 5.8, 9.8),
    "neck_low": S("neck", "neck_base", (0.3, 0.9, 0.0), 3.0, 3.0, 3.3),
    "neck_high": S("neck", "neck_top", (0.3, -0.6, 0.0), 2.8, 2.8, 3.1),
    # head, chin to crown (the jaw's sections turn with it)
    "chin": S("jaw", "neck_top", (3.16, -2.88, 0.0), 1.21, 1.49, 1.49),
    "mouth": S("jaw", "neck_top", (2.14, -1.30, 0.0), 3.35, 2.70, 3.07),
    "cheeks": S("head", "neck_top", (0.93, 1.30, 0.0), 4.93, 4.84, 3.72),
    "eyes": S("head", "neck_top", (0.84, 3.72, 0.0), 5.02, 5.02, 4.00),
    "brow": S("head", "neck_top", (0.74, 5.95, 0.0), 4.56, 4.74, 3.81),
    "skull_top": S("head", "neck_top", (0.84, 7.91, 0.0), 3.16, 3.44, 2.79),
    # arm and hand
    "deltoid": S("upper_{s}", "shoulder_{s}", (0.2, 0.3, 0.0), 3.4, 3.4, 3.6),
    "biceps": S("upper_{s}", "shoulder_{s}", (0.3, -7.5, 0.0), 3.0, 2.9, 2.7),
    "elbow": S("upper_{s}", "elbow_{s}", (0.0, 0.0, 0.0), 2.1, 2.3, 2.2),
    "forearm": S("fore_{s}", "elbow_{s}", (0.0, -4.0, 0.0), 2.5, 2.4, 2.5),
    "wrist": S("hand_{s}", "wrist_{s}", (0.0, 0.0, 0.0), 1.8, 1.8, 1.2),
    "palm": S("hand_{s}", "wrist_{s}", (0.0, -2.6, 0.0), 2.3, 2.3, 1.2),
    "knuckles": S("finger_{s}", "hand_{s}", (0.0, 0.0, 0.0), 2.2, 2.0, 1.0),
    "finger_mid": S("tip_{s}", "finger_mid_{s}", (0.0, 0.0, 0.0), 1.9, 1.9, 0.8),
    "tips": S("tip_{s}", "fingers_{s}", (0.0, 0.4, 0.0), 1.6, 1.6, 0.7),
    "thumb_root": S("hand_{s}", "thumb_base_{s}", (0.0, 0.0, 0.0), 1.0, 1.0, 1.0),
    "thumb_tip": S("hand_{s}", "thumb_{s}", (0.0, 0.0, 0.0), 0.8, 0.8, 0.8),
    # leg
    "hip": S("thigh_{s}", "hip_{s}", (0.3, 0.5, 0.0), 4.8, 4.9, 4.9),
    "thigh": S("thigh_{s}", "hip_{s}", (0.4, -9.0, 0.0), 4.3, 4.3, 4.1),
    "above_knee": S("thigh_{s}", "hip_{s}", (0.2, -19.0, 0.0), 3.4, 3.3, 3.4),
    "knee": S("thigh_{s}", "knee_{s}", (0.2, 0.0, 0.0), 3.0, 2.8, 3.0),
    "calf": S("shank_{s}", "knee_{s}", (0.0, -7.5, 0.0), 2.3, 3.6, 2.9),
    "shin": S("shank_{s}", "knee_{s}", (0.0, -16.0, 0.0), 2.0, 2.5, 2.3),
    "ankle": S("shank_{s}", "ankle_{s}", (0.0, 0.5, 0.0), 1.8, 1.9, 2.1),
    # foot, heel to toes (front is its top)
    "heel": S("foot_{s}", "sole_{s}", (-2.2, 1.5, 0.0), 1.8, 1.5, 1.5, axis=0),
    "instep": S("foot_{s}", "sole_{s}", (2.0, 1.8, 0.0), 2.3, 1.8, 2.2, axis=0),
    "ball": S("foot_{s}", "sole_{s}", (8.2, 0.9, 0.0), 1.1, 0.9, 2.5, axis=0),
    "toe_tips": S("foot_{s}", "sole_{s}", (10.2, 0.6, 0.0), 0.7, 0.6, 2.2, axis=0),
}


@dataclass(frozen=True)
class Tube:
    sections: tuple[str, ...]
    start_cap: float = 0.0  # how far the rounded end reaches past the first ring, along the tube
    end_cap: float = 0.0


TRUNK = Tube(("seat", "hips", "iliac", "waist", "ribs", "chest", "armpits", "shoulders", "neck_low", "neck_high"), 1.5)
HEAD = Tube(("chin", "mouth", "cheeks", "eyes", "brow", "skull_top"), 0.2, 1.1)
ARM = Tube(("deltoid", "biceps", "elbow", "forearm", "wrist", "palm", "knuckles", "finger_mid", "tips"), 1.2, 0.4)
THUMB = Tube(("thumb_root", "thumb_tip"), 0.0, 0.6)
LEG = Tube(("hip", "thigh", "above_knee", "knee", "calf", "shin", "ankle"), 0.0, 1.2)
FOOT = Tube(("heel", "instep", "ball", "toe_tips"), 1.3, 0.8)

# Which rings make each named point's surface (what rests on the floor when that point does).
SURFACE = {
    "pelvis": ("seat", "hips", "iliac"),
    "waist": ("waist",),
    "chest": ("ribs", "chest", "armpits"),
    "neck_base": ("neck_low",),
    "head": ("cheeks", "eyes", "brow", "skull_top"),
    "crown": ("skull_top", "brow"),
    "chin": ("chin",),
    **{
        f"{name}_{s}": tuple(r.format(s=s) for r in rings)
        for s in ("l", "r")
        for name, rings in {
            "shoulder": ("deltoid_{s}", "shoulders"),
            "elbow": ("elbow_{s}",),
            "wrist": ("wrist_{s}",),
            "hand": ("palm_{s}", "knuckles_{s}"),
            "fingers": ("finger_mid_{s}", "tips_{s}"),
            "hip": ("hip_{s}", "hips"),
            "knee": ("knee_{s}",),
            "ankle": ("ankle_{s}",),
            "heel": ("heel_{s}",),
            "toes": ("ball_{s}", "toe_tips_{s}"),
        }.items()
    },
}


# Joints that also rest as a ball (a knee kneeling, an elbow propped): point -> radius.
BALLS = {"knee": 3.0, "elbow": 2.2, "shoulder": 3.4, "heel": 1.5, "wrist": 1.5, "head": 5.0, "crown": 5.0}
_AXES = ((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0))


def ball(points: dict[str, Vec], name: str) -> list[Vec]:
    """Six points round a joint that rests as a ball (none for other points)."""
    base = name[:-2] if name[-2:] in ("_l", "_r") else name
    r = BALLS.get(base)
    if r is None:
        return []
    centre = points["head"] if base == "crown" else points[name]
    return [add(centre, axis, r) for axis in _AXES]


def _ring(points: dict[str, Vec], frames: dict[str, Mat], section: Section, side: str) -> tuple[Vec, list[Vec]]:
    frame = frames[section.frame.format(s=side)]
    centre = add(points[section.anchor.format(s=side)], apply(frame, section.offset))
    long = section.axis
    across = 1 if long == 0 else 0  # the forward (for a foot: upward) axis of the ring
    fwd = tuple(row[across] for row in frame)
    lat = tuple(row[2] for row in frame)
    ring = []
    for c, s in _ANGLES:
        a = (section.front if c >= 0 else section.back) * c
        b = section.side * s
        ring.append(
            (
                centre[0] + a * fwd[0] + b * lat[0],
                centre[1] + a * fwd[1] + b * lat[1],
                centre[2] + a * fwd[2] + b * lat[2],
            )
        )
    return centre, ring


def _shoulders(points: dict[str, Vec], frames: dict[str, Mat]) -> tuple[Vec, list[Vec]]:
    """The ring across the top of the shoulders: it follows the shoulder joints (a shrug lifts it)."""
    thorax = frames["thorax"]
    up = tuple(row[1] for row in thorax)
    fwd = tuple(row[0] for row in thorax)
    sides = {k: add(points[f"shoulder_{k}"], up, 1.3) for k in ("l", "r")}
    centre = add(points["neck_base"], up, -1.4)
    ring = []
    for c, s in _ANGLES:
        out = sides["r"] if s >= 0 else sides["l"]
        a = (3.8 if c >= 0 else 4.4) * c
        k = abs(s)
        ring.append(tuple(centre[i] + a * fwd[i] + k * (out[i] - centre[i]) * 0.92 for i in range(3)))
    return centre, ring  # type: ignore[return-value]


@dataclass(frozen=True)
class Volume:
    """Every ring of a posed body: name (with side) -> (centre, ring points)."""

    rings: dict[str, tuple[Vec, list[Vec]]]

    def tube(self, tube: Tube, side: str | None = None) -> list[tuple[Vec, list[Vec]]]:
        return [self.rings[name if side is None or name == "shoulders" else f"{name}_{side}"] for name in tube.sections]

    def surface(self, point: str, points: dict[str, Vec] | None = None) -> list[Vec]:
        """The body's outline points around a named point (for resting, walls and the floor)."""
        out = [p for name in SURFACE.get(point, ()) for p in self.rings[name][1]]
        return out + (ball(points, point) if points is not None else [])


SIDED = {name for name, s in SECTIONS.items() if "{s}" in s.frame}


def volume(points: dict[str, Vec], frames: dict[str, Mat]) -> Volume:
    """The rings of a posed body (points and frames from kinematics.positions)."""
    rings = {}
    for name, section in SECTIONS.items():
        if name in SIDED:
            for side in ("l", "r"):
                rings[f"{name}_{side}"] = _ring(points, frames, section, side)
        else:
            rings[name] = _ring(points, frames, section, "")
    rings["shoulders"] = _shoulders(points, frames)
    return Volume(rings)


def lowest(vol: Volume) -> float:
    """The lowest height the body's outline reaches."""
    return min(p[1] for _, ring in vol.rings.values() for p in ring)


def tube_axis(vol: Volume, tube: Tube, side: str | None = None) -> list[Vec]:
    return [c for c, _ in vol.tube(tube, side)]


def length(v: Vec) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
