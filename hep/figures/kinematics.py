"""Forward kinematics: joint angles to 3D positions of the figure's points.

A pose is {joint: {dof: degrees}} (see skeleton.JOINTS). Positions come out in the body's own
frame turned by its root orientation (`body` pitch, roll, yaw), with the pelvis centre at the
origin; placing the body on its support is scene.py's job.
"""

from __future__ import annotations

import math

from hep.figures import skeleton as sk

Vec = tuple[float, float, float]
Mat = tuple[Vec, Vec, Vec]
Pose = dict[str, dict[str, float]]

IDENTITY: Mat = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
DOWN: Vec = (0.0, -1.0, 0.0)
UP: Vec = (0.0, 1.0, 0.0)
FORWARD: Vec = (1.0, 0.0, 0.0)


def _rot(axis: int, degrees: float) -> Mat:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == 0:
        return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))
    if axis == 1:
        return ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


def rot_x(d: float) -> Mat:
    return _rot(0, d)


def rot_y(d: float) -> Mat:
    return _rot(1, d)


def rot_z(d: float) -> Mat:
    return _rot(2, d)


def mul(a: Mat, b: Mat) -> Mat:
    """The matrix product a·b (written out: the figures multiply many thousands of them)."""
    (a0, a1, a2), (a3, a4, a5), (a6, a7, a8) = a
    (b0, b1, b2), (b3, b4, b5), (b6, b7, b8) = b
    return (
        (a0 * b0 + a1 * b3 + a2 * b6, a0 * b1 + a1 * b4 + a2 * b7, a0 * b2 + a1 * b5 + a2 * b8),
        (a3 * b0 + a4 * b3 + a5 * b6, a3 * b1 + a4 * b4 + a5 * b7, a3 * b2 + a4 * b5 + a5 * b8),
        (a6 * b0 + a7 * b3 + a8 * b6, a6 * b1 + a7 * b4 + a8 * b7, a6 * b2 + a7 * b5 + a8 * b8),
    )


def chain(*ms: Mat) -> Mat:
    out = IDENTITY
    for m in ms:
        out = mul(out, m)
    return out


def apply(m: Mat, v: Vec) -> Vec:
    (m0, m1, m2), (m3, m4, m5), (m6, m7, m8) = m
    x, y, z = v
    return (m0 * x + m1 * y + m2 * z, m3 * x + m4 * y + m5 * z, m6 * x + m7 * y + m8 * z)


def add(a: Vec, b: Vec, k: float = 1.0) -> Vec:
    return (a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2])


def _get(pose: Pose, joint: str, dof: str) -> float:
    return float(pose.get(joint, {}).get(dof, 0.0))


def _limb(pose: Pose, joint: str, s: int) -> Mat:
    """A ball joint (shoulder, hip): horizontal swing, flexion, abduction, then axial rotation."""
    return chain(
        rot_y(s * _get(pose, joint, "horiz")),
        rot_z(_get(pose, joint, "flex")),
        rot_x(-s * _get(pose, joint, "abd")),
        rot_y(-s * _get(pose, joint, "rot")),
    )


def _spine(pose: Pose, joint: str) -> Mat:
    return chain(rot_z(-_get(pose, joint, "flex")), rot_x(_get(pose, joint, "lat")), rot_y(-_get(pose, joint, "rot")))


def root(pose: Pose) -> Mat:
    """The pelvis's orientation: pitch forward, roll to the right, yaw to the right."""
    return chain(
        rot_z(_get(pose, "body", "lean")),
        rot_y(-_get(pose, "body", "yaw")),
        rot_x(_get(pose, "body", "roll")),
        rot_z(-_get(pose, "body", "pitch")),
    )


def _unhinge(pose: Pose) -> Pose:
    hinge = _get(pose, "body", "hinge")
    if not hinge:
        return pose
    out = {**pose, "body": {**pose["body"], "pitch": _get(pose, "body", "pitch") + hinge, "hinge": 0.0}}
    for side in sk.SIDES:
        out[f"hip_{side}"] = {**pose.get(f"hip_{side}", {}), "flex": _get(pose, f"hip_{side}", "flex") + hinge}
    return out


def positions(
    pose: Pose, flat: frozenset[str] | set[str] = frozenset(), frames: dict[str, Mat] | None = None
) -> dict[str, Vec]:
    """Every named point of the figure (and the drawing-only points) for a pose.

    Ankles named in `flat` ("ankle_r") take whatever dorsiflexion levels their foot, wrists
    ("wrist_r") whatever extension levels the hand. `frames`, when
    given, receives each segment's orientation (pelvis, lumbar, thorax, neck, head, jaw, and per side
    upper, fore, hand, finger, thigh, shank, foot): anatomy.py hangs the body's outline on them.
    """
    pose = _unhinge(pose)
    f: dict[str, Mat] = {} if frames is None else frames
    p: dict[str, Vec] = {}
    f["pelvis"] = pelvis = root(pose)
    p["pelvis"] = (0.0, 0.0, 0.0)
    f["lumbar"] = lumbar = mul(pelvis, _spine(pose, "lumbar"))
    p["waist"] = apply(lumbar, (0.0, sk.LUMBAR, 0.0))
    f["thorax"] = thorax = mul(lumbar, _spine(pose, "thoracic"))
    p["neck_base"] = add(p["waist"], apply(thorax, (0.0, sk.THORACIC, 0.0)))
    p["chest"] = add(p["waist"], apply(thorax, (0.0, sk.THORACIC * 0.55, 0.0)))
    f["neck"] = neck = mul(thorax, _spine(pose, "neck"))
    pivot = add(p["neck_base"], apply(neck, (0.0, sk.NECK, 0.0)))
    p["neck_top"] = pivot
    f["head"] = head = mul(neck, chain(rot_z(-_get(pose, "head", "flex")), rot_x(_get(pose, "head", "lat"))))
    f["jaw"] = mul(head, rot_z(_get(pose, "head", "jaw")))
    p["head"] = add(pivot, apply(head, sk.HEAD_CENTRE))
    p["crown"] = add(p["head"], apply(head, (0.0, sk.HEAD_R + 0.4, 0.0)))
    p["nose"] = add(pivot, apply(head, sk.NOSE))
    p["nose_bridge"] = add(pivot, apply(head, (5.7, 3.2, 0.0)))
    p["nose_base"] = add(pivot, apply(head, (5.85, 0.85, 0.0)))
    hinge = add(pivot, apply(head, sk.JAW_HINGE))
    p["chin"] = add(hinge, apply(f["jaw"], tuple(c - h for c, h in zip(sk.CHIN, sk.JAW_HINGE, strict=True))))
    for side in sk.SIDES:
        s = 1 if side == "r" else -1
        _arm(pose, p, f, thorax, side, s, f"wrist_{side}" in flat)
        _leg(pose, p, f, pelvis, side, s, f"ankle_{side}" in flat)
    return p


def _arm(pose: Pose, p: dict[str, Vec], f: dict[str, Mat], thorax: Mat, side: str, s: int, flat: bool = False) -> None:
    clav = mul(
        thorax,
        chain(rot_y(s * _get(pose, f"clavicle_{side}", "retract")), rot_x(-s * _get(pose, f"clavicle_{side}", "elev"))),
    )
    shoulder = add(p["neck_base"], apply(clav, (0.0, -sk.CLAVICLE_DROP, s * sk.CLAVICLE)))
    p[f"shoulder_{side}"] = shoulder
    f[f"upper_{side}"] = upper = mul(thorax, _limb(pose, f"shoulder_{side}", s))
    p[f"elbow_{side}"] = elbow = add(shoulder, apply(upper, DOWN), sk.UPPER_ARM)
    f[f"fore_{side}"] = fore = mul(
        upper, chain(rot_z(_get(pose, f"elbow_{side}", "flex")), rot_y(-s * _get(pose, f"forearm_{side}", "sup")))
    )
    p[f"wrist_{side}"] = wrist = add(elbow, apply(fore, DOWN), sk.FOREARM)
    ext = _get(pose, f"wrist_{side}", "ext")
    if flat:  # the hand, fore·rot_x(-s·e)·(0,-1,0), is level when tan e = F_yy / (s·F_yz)
        low, high = sk.PAIRED["wrist"]["ext"]
        ext = math.degrees(math.atan2(fore[1][1], s * fore[1][2]))
        ext = min(high, max(low, ext - 180 if ext > high else ext + 180 if ext < low else ext))
    f[f"hand_{side}"] = hand = mul(fore, chain(rot_x(-s * ext), rot_z(_get(pose, f"wrist_{side}", "dev"))))
    p[f"hand_{side}"] = knuckles = add(wrist, apply(hand, DOWN), sk.HAND)
    f[f"finger_{side}"] = finger = mul(hand, rot_x(s * _get(pose, f"fingers_{side}", "flex")))
    middle = add(knuckles, apply(finger, DOWN), sk.FINGER_1)
    f[f"tip_{side}"] = tip = mul(finger, rot_x(s * _get(pose, f"fingers_{side}", "curl")))
    p[f"finger_mid_{side}"] = middle
    p[f"fingers_{side}"] = add(middle, apply(tip, DOWN), sk.FINGER_2)
    p[f"thumb_base_{side}"] = thumb_base = add(wrist, apply(hand, DOWN), sk.HAND * 0.35)
    # the thumb swings across the palm towards the fingertips (opposition) and away from the palm (abduction)
    t = _get(pose, f"thumb_{side}", "opp") / 80.0
    lift = math.sin(math.radians(_get(pose, f"thumb_{side}", "abd")))
    d = (0.75 * (1 - t) + 0.15 * t, -0.66 * (1 - t) - 0.8 * t, -s * 0.75 * t + s * 0.9 * lift)
    size = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    p[f"thumb_{side}"] = add(thumb_base, apply(hand, tuple(c / size for c in d)), sk.THUMB * (1 + 0.4 * t))
    # Where a held thing sits (in the palm), and which way a held handle runs (thumb to little finger).
    centre = add(wrist, apply(hand, DOWN), sk.HAND * 0.6)
    p[f"palm_{side}"] = add(centre, apply(hand, (0.0, 0.0, -s * 1.0)), 2.2)
    p[f"grip_{side}"] = add(p[f"palm_{side}"], apply(hand, FORWARD))


def _leg(pose: Pose, p: dict[str, Vec], f: dict[str, Mat], pelvis: Mat, side: str, s: int, flat: bool) -> None:
    hip = apply(pelvis, (0.0, -1.0, s * sk.PELVIS_HALF))
    p[f"hip_{side}"] = hip
    f[f"thigh_{side}"] = thigh = mul(pelvis, _limb(pose, f"hip_{side}", s))
    p[f"knee_{side}"] = knee = add(hip, apply(thigh, DOWN), sk.THIGH)
    f[f"shank_{side}"] = shank = mul(thigh, rot_z(-_get(pose, f"knee_{side}", "flex")))
    p[f"ankle_{side}"] = ankle = add(knee, apply(shank, DOWN), sk.SHANK)
    dorsi = _get(pose, f"ankle_{side}", "dorsi")
    if flat:  # the heel-to-toe direction, shank·rot_z(d)·x, is level when tan d = -S_yx / S_yy
        low, high = sk.PAIRED["ankle"]["dorsi"]
        dorsi = min(high, max(low, math.degrees(math.atan2(-shank[1][0], shank[1][1]))))
    f[f"foot_{side}"] = foot = mul(shank, chain(rot_z(dorsi), rot_x(s * _get(pose, f"ankle_{side}", "inv"))))
    p[f"sole_{side}"] = sole = add(ankle, apply(foot, DOWN), sk.ANKLE_HEIGHT)
    p[f"heel_{side}"] = add(sole, apply(foot, FORWARD), -sk.HEEL_BACK)
    p[f"toes_{side}"] = add(sole, apply(foot, FORWARD), sk.TOES_FORWARD)
