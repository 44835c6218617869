"""The contact solver: change a keyframe's free angles until its contacts touch their surfaces.

A keyframe that names `free` angles (free: [hips, body.pitch, shoulders.flex]) is solved for
everything it asks of the body: each resting point on its surface (floor, seat, table, step,
wall), the points that rested in keyframe 1 back where they were (hands and feet do not slide
in a press-up), and each `reach` (a hand on a knee) touching. It is a damped least-squares
(Levenberg-Marquardt) search over the free angles and the body's placement, staying as close to
the written angles as the contacts allow. Deterministic: the same figure gives the same angles.
Whether the result is good enough is not the solver's word: scene.py checks the placed body
with the same rules as any other keyframe and names the point that misses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from hep.figures import skeleton as sk
from hep.figures.anatomy import SECTIONS, SURFACE, _ring, ball
from hep.figures.kinematics import Mat, Pose, Vec, positions

ITERATIONS = 60
DONE = 0.15  # body units: every residual this small is solved
STAY = 0.05  # weight per degree that keeps the free angles near what the keyframe wrote
STEP = 0.25  # degrees, for the numeric derivatives
REACH = 12.0  # degrees: the most one iteration moves an angle, so a search stays near the pose written


GUARD = (
    "head",
    "pelvis",
    "chest",
    *(f"{p}_{s}" for p in ("hand", "fingers", "elbow", "knee", "heel", "toes") for s in sk.SIDES),
)


@dataclass(frozen=True)
class Goal:
    """What a keyframe asks of the body, in world terms."""

    floors: tuple[tuple[str, float], ...]  # (point, height of its surface, a prop under it included)
    pins: tuple[tuple[str, float, float], ...]  # (point, x, z) where it must stay
    wall: tuple[Vec, float, tuple[str, ...]] | None  # (normal, offset, points on it)
    reach: tuple[tuple[str, str], ...]
    level: tuple[str, ...] = ()  # points to rest level with each other (on a table not yet built)


def _surface(points: dict[str, Vec], frames: dict[str, Mat], name: str) -> list[Vec]:
    out = []
    for ring in SURFACE.get(name, ()):
        base, _, side = ring.rpartition("_")
        if ring in SECTIONS:
            out += _ring(points, frames, SECTIONS[ring], "")[1]
        elif base in SECTIONS and side in sk.SIDES:
            out += _ring(points, frames, SECTIONS[base], side)[1]
    return out + ball(points, name)


def _low(points, frames, name) -> float:
    pts = _surface(points, frames, name)
    return min(p[1] for p in pts) if pts else points[name][1] - sk.radius(name)


def _out(points, frames, name, normal) -> float:
    pts = _surface(points, frames, name) or [points[name]]
    return max(sum(a * b for a, b in zip(p, normal, strict=True)) for p in pts)


def _to_segment(p: Vec, a: Vec, b: Vec) -> float:
    ab = [b[i] - a[i] for i in range(3)]
    ap = [p[i] - a[i] for i in range(3)]
    size = sum(x * x for x in ab) or 1.0
    t = max(0.0, min(1.0, sum(ab[i] * ap[i] for i in range(3)) / size))
    return math.dist(p, [a[i] + ab[i] * t for i in range(3)])


def reach_gap(points: dict[str, Vec], point: str, target: str) -> float:
    """How far apart the surfaces of a point and the point or segment it reaches are (negative: into it)."""
    if target in sk.SEGMENTS:
        a, b, r = sk.SEGMENTS[target]
        return _to_segment(points[point], points[a], points[b]) - sk.reach_radius(point) - r
    return math.dist(points[point], points[target]) - sk.reach_radius(point) - sk.reach_radius(target)


def _set(angles: Pose, variables, values) -> Pose:
    out = {j: dict(d) for j, d in angles.items()}
    for var, value in zip(variables, values, strict=True):
        for joint, dof in var:
            out.setdefault(joint, {})[dof] = value
    return out


def _range(var) -> tuple[float, float]:
    lows, highs = zip(*(sk.JOINTS[j][d] for j, d in var), strict=True)
    return max(lows), min(highs)


def solve(angles: Pose, flat, variables, goal: Goal) -> Pose:
    """The angles, with `variables` changed so the body meets `goal` as nearly as it can."""
    if not variables:
        return angles
    start = [float(angles.get(var[0][0], {}).get(var[0][1], 0.0)) for var in variables]
    bounds = [_range(var) for var in variables]
    start = [min(hi, max(lo, v)) for v, (lo, hi) in zip(start, bounds, strict=True)]

    def pose(values):
        frames: dict[str, Mat] = {}
        pts = positions(_set(angles, variables, values), flat, frames)
        return pts, frames

    values = _search(pose, goal, list(start), start, bounds, STAY)
    misses = _residuals(*pose(values), goal)
    if max((abs(x) for x in misses), default=0.0) > 2 * DONE * 4:
        # still off: let the angles go further from what was written to meet the contacts
        values = _search(pose, goal, values, start, bounds, STAY / 10)
    return _set(angles, variables, [round(v, 2) for v in values])


def _search(pose, goal: Goal, values: list[float], start: list[float], bounds, stay: float) -> list[float]:
    """Levenberg-Marquardt from `values`, pulled towards `start` with weight `stay` per degree."""

    def residuals(values):
        return _residuals(*pose(values), goal) + [stay * (v - s) for v, s in zip(values, start, strict=True)]

    measure: Callable[[list[float]], float] = lambda r: sum(x * x for x in r)  # noqa: E731
    res = residuals(values)
    damping = 1.0
    for _ in range(ITERATIONS):
        if max(abs(x) for x in res[: len(res) - len(values)] or [0.0]) < DONE:
            break
        jac = []
        for k in range(len(values)):
            moved = list(values)
            moved[k] += STEP if moved[k] + STEP <= bounds[k][1] else -STEP
            delta = moved[k] - values[k]
            jac.append([(b - a) / delta for a, b in zip(res, residuals(moved), strict=True)])
        improved = False
        for _attempt in range(8):
            step = _lm_step(jac, res, damping)
            biggest = max(abs(d) for d in step) or 1.0
            if biggest > REACH:
                step = [d * REACH / biggest for d in step]
            trial = [min(hi, max(lo, v + d)) for v, d, (lo, hi) in zip(values, step, bounds, strict=True)]
            trial_res = residuals(trial)
            if measure(trial_res) < measure(res):
                values, res = trial, trial_res
                damping = max(damping / 3, 1e-4)
                improved = True
                break
            damping *= 4
        if not improved:
            break
    return values


def _residuals(pts: dict[str, Vec], frames: dict[str, Mat], goal: Goal) -> list[float]:
    """Each wish's miss, with the body moved to where the misses balance (its placement is free)."""
    out: list[float] = []
    if goal.floors:
        lows = [_low(pts, frames, p) - h for p, h in goal.floors]
        dy = -sum(lows) / len(lows)
        out += [low + dy for low in lows]
        resting = {p for p, _ in goal.floors}
        # the rest of the body stays out of the floor (a miss only when it goes in)
        out += [min(0.0, _low(pts, frames, p) + dy) for p in GUARD if p not in resting]
    else:
        dy = 0.0
    if goal.pins:
        dx = sum(x - pts[p][0] for p, x, _ in goal.pins) / len(goal.pins)
        dz = sum(z - pts[p][2] for p, _, z in goal.pins) / len(goal.pins)
        for p, x, z in goal.pins:
            out += [pts[p][0] + dx - x, pts[p][2] + dz - z]
    else:
        dx = dz = 0.0
    if goal.wall:
        normal, offset, on_wall = goal.wall
        shift = dx * normal[0] + dy * normal[1] + dz * normal[2]
        outs = [_out(pts, frames, p, normal) + shift for p in on_wall]
        if math.isnan(offset):  # keyframe 1 places the wall: its points need only be level with each other
            mean = sum(outs) / len(outs)
            out += [o - mean for o in outs]
        else:
            out += [o - offset for o in outs]
    for point, target in goal.reach:
        out.append(reach_gap(pts, point, target))
    if len(goal.level) > 1:
        lows = [_low(pts, frames, p) for p in goal.level]
        mean = sum(lows) / len(lows)
        out += [low - mean for low in lows]
    return out


def _lm_step(jac: list[list[float]], res: list[float], damping: float) -> list[float]:
    """Solve (JᵀJ + λ·diag(JᵀJ)) δ = -Jᵀr (J given as columns) by Gaussian elimination."""
    n = len(jac)
    a = [[sum(x * y for x, y in zip(jac[i], jac[j], strict=True)) for j in range(n)] for i in range(n)]
    g = [-sum(x * y for x, y in zip(jac[i], res, strict=True)) for i in range(n)]
    for i in range(n):
        a[i][i] += damping * (a[i][i] + 1e-3)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        g[col], g[pivot] = g[pivot], g[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            for c in range(col, n):
                a[r][c] -= f * a[col][c]
            g[r] -= f * g[col]
    x = [0.0] * n
    for i in reversed(range(n)):
        if abs(a[i][i]) < 1e-12:
            continue
        x[i] = (g[i] - sum(a[i][c] * x[c] for c in range(i + 1, n))) / a[i][i]
    return x
