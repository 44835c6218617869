"""The figure's body: segment lengths, joints with their human ranges, named points, regions.

Units: the figure is 100 tall standing. Axes of the body (and of the world when the body is not
turned): x forward, y up, z to the body's right. Angles are in degrees, anatomical: positive is
the named movement (flexion, abduction, external rotation, dorsiflexion...).
"""

from __future__ import annotations

SIDES = ("l", "r")

# Segment lengths (after Drillis and Contini's proportions of stature).
PELVIS_HALF = 5.5  # pelvis centre to each hip joint
LUMBAR = 13.0  # pelvis centre to the waist
THORACIC = 17.0  # waist to the base of the neck
CLAVICLE = 10.5  # base of the neck to the shoulder joint
CLAVICLE_DROP = 2.0
NECK = 6.8  # base of the neck to the head's pivot (the top of the neck, about level with the ear lobes)
# The head, from its pivot (x forwards, y up): an adult's head is about 1/7.5 of the stature.
HEAD_CENTRE = (0.85, 3.35, 0.0)  # the middle of the skull
HEAD_R = 5.0  # skull centre to the back and the top of the head
NOSE = (6.9, 1.3, 0.0)
CHIN = (4.3, -3.1, 0.0)
JAW_HINGE = (0.75, 0.95, 0.0)
UPPER_ARM = 18.0
FOREARM = 14.5
HAND = 5.0  # wrist to knuckles
FINGER_1 = 3.0
FINGER_2 = 2.8
THUMB = 3.2
THIGH = 24.5
SHANK = 25.0
ANKLE_HEIGHT = 4.0
HEEL_BACK = 3.5
TOES_FORWARD = 11.0

# Drawn thickness (stroke width) of each part, and the radius a point has when it touches something.
WIDTH = {"trunk": 9.0, "neck": 5.0, "arm": 4.5, "hand": 3.2, "leg": 6.0, "foot": 3.0}
RADIUS = {
    "pelvis": 5.0,
    "waist": 4.5,
    "chest": 5.0,
    "neck_base": 3.0,
    "head": HEAD_R,
    "crown": 0.5,
    "nose": 0.5,
    "shoulder": 3.5,
    "elbow": 2.3,
    "wrist": 2.0,
    "hand": 1.8,
    "fingers": 1.4,
    "hip": 4.5,
    "knee": 3.0,
    "ankle": 2.8,
    "heel": 1.5,
    "toes": 1.5,
    # drawing-only points
    "neck_top": 2.5,
    "chin": 1.0,
    "nose_bridge": 0.5,
    "nose_base": 0.5,
    "sole": 1.5,
    "thumb_base": 1.0,
    "finger_mid": 1.4,
    "thumb": 1.0,
    "palm": 1.5,
    "grip": 1.5,
}

# Joint -> {degree of freedom: (lowest, highest)}; the first DOF is the one a bare number sets.
# Ranges are the active and comfortable passive ranges of an adult (AAOS / Norkin and White),
# with a little slack, so a typo (a knee at 200, an elbow at -40) is caught.
# `hinge` bends forward at the hips keeping the thighs where they were (pitch and both hips together).
# `lean` turns the whole body last, about the side view's line of sight (head up in a side plank).
ROOT = {"pitch": (-180, 180), "roll": (-180, 180), "yaw": (-180, 180), "hinge": (-40, 120), "lean": (-90, 90)}
CENTRAL = {
    "lumbar": {"flex": (-35, 60), "lat": (-35, 35), "rot": (-15, 15)},
    "thoracic": {"flex": (-25, 45), "lat": (-25, 25), "rot": (-40, 40)},
    "neck": {"flex": (-70, 50), "lat": (-45, 45), "rot": (-80, 80)},
    "head": {"flex": (-25, 25), "lat": (-15, 15), "jaw": (0, 35)},
}
PAIRED = {
    "clavicle": {"elev": (-10, 40), "retract": (-30, 30)},
    "shoulder": {"flex": (-60, 180), "abd": (-30, 180), "rot": (-90, 100), "horiz": (-45, 135)},
    "elbow": {"flex": (-5, 150)},
    "forearm": {"sup": (-90, 90)},
    "wrist": {"ext": (-85, 90), "dev": (-35, 25)},
    "fingers": {"flex": (-20, 95), "curl": (0, 110)},
    "thumb": {"opp": (0, 80), "abd": (-10, 60)},
    "hip": {"flex": (-30, 135), "abd": (-30, 55), "rot": (-45, 60), "horiz": (-50, 50)},
    "knee": {"flex": (-5, 155)},
    # The foot is drawn by its sole: kneeling on the tops of the feet needs about -75 of it.
    "ankle": {"dorsi": (-80, 35), "inv": (-25, 35)},
}
JOINTS: dict[str, dict[str, tuple[float, float]]] = {"body": ROOT, **CENTRAL}
for _name, _dofs in PAIRED.items():
    for _side in SIDES:
        JOINTS[f"{_name}_{_side}"] = _dofs
# Shorthands that set both sides at once: "knees: 90" is knee_l and knee_r.
PLURALS = {
    "clavicles": "clavicle",
    "shoulders": "shoulder",
    "elbows": "elbow",
    "forearms": "forearm",
    "wrists": "wrist",
    "hips": "hip",
    "knees": "knee",
    "ankles": "ankle",
    "thumbs": "thumb",
}
PLURALS["fingers"] = "fingers"
PLURALS_OF = {joint: plural for plural, joint in PLURALS.items()}

SIDED_POINTS = ("shoulder", "elbow", "wrist", "hand", "fingers", "hip", "knee", "ankle", "heel", "toes")
POINTS = (
    "pelvis",
    "waist",
    "chest",
    "neck_base",
    "head",
    "crown",
    "nose",
    "chin",
    *(f"{p}_{s}" for p in SIDED_POINTS for s in SIDES),
)
# Names that stand for several points (for contacts, props and arrows).
GROUPS = {
    "back": ("pelvis", "chest"),
    "trunk": ("pelvis", "waist", "chest"),
    "feet": ("heel_l", "toes_l", "heel_r", "toes_r"),
    "heels": ("heel_l", "heel_r"),
    "toes": ("toes_l", "toes_r"),
    "knees": ("knee_l", "knee_r"),
    "hands": ("hand_l", "hand_r"),
    "elbows": ("elbow_l", "elbow_r"),
    "wrists": ("wrist_l", "wrist_r"),
    "forearms": ("elbow_l", "wrist_l", "elbow_r", "wrist_r"),
    "hips": ("hip_l", "hip_r"),
    "shoulders": ("shoulder_l", "shoulder_r"),
    **{f"foot_{s}": (f"heel_{s}", f"toes_{s}") for s in SIDES},
    **{f"forearm_{s}": (f"elbow_{s}", f"wrist_{s}") for s in SIDES},
    **{f"shin_{s}": (f"knee_{s}", f"ankle_{s}") for s in SIDES},
    **{f"thigh_{s}": (f"hip_{s}", f"knee_{s}") for s in SIDES},
}


def point_names(name: str) -> tuple[str, ...]:
    """The points a point or group name stands for (empty when unknown)."""
    if name in POINTS:
        return (name,)
    return GROUPS.get(name, ())


def radius(point: str) -> float:
    """How far the body's surface is from a point."""
    return RADIUS[point.rsplit("_", 1)[0] if point[-2:] in ("_l", "_r") else point]


# Highlightable regions: name -> chains of points (drawn as a glow along them). A figure may
# highlight several ("calf_l", "calf_r").
_REGIONS_BOTH = {
    "head": [("head",)],
    "jaw": [("neck_top", "nose")],
    "neck": [("neck_base", "neck_top")],
    "upper-back": [("waist", "chest")],
    "chest": [("waist", "chest"), ("shoulder_l", "neck_base", "shoulder_r")],
    "lower-back": [("pelvis", "waist")],
    "core": [("pelvis", "waist", "chest")],
    "spine": [("pelvis", "waist", "chest", "neck_base")],
    "buttocks": [("hip_l", "pelvis", "hip_r")],
}
_REGIONS_SIDED = {
    "shoulder": [("neck_base", "shoulder_{s}", "elbow_{s}")],
    "shoulder-blade": [("neck_base", "shoulder_{s}")],
    "upper-arm": [("shoulder_{s}", "elbow_{s}")],
    "elbow": [("elbow_{s}",)],
    "forearm": [("elbow_{s}", "wrist_{s}")],
    "wrist": [("wrist_{s}",)],
    "hand": [("wrist_{s}", "hand_{s}", "fingers_{s}")],
    "arm": [("shoulder_{s}", "elbow_{s}", "wrist_{s}", "hand_{s}")],
    "hip": [("pelvis", "hip_{s}", "knee_{s}")],
    "glute": [("pelvis", "hip_{s}")],
    "thigh": [("hip_{s}", "knee_{s}")],
    "knee": [("knee_{s}",)],
    "calf": [("knee_{s}", "ankle_{s}")],
    "leg": [("hip_{s}", "knee_{s}", "ankle_{s}")],
    "ankle": [("ankle_{s}",)],
    "foot": [("heel_{s}", "toes_{s}")],
}
REGIONS: dict[str, list[tuple[str, ...]]] = dict(_REGIONS_BOTH)
for _name, _chains in _REGIONS_SIDED.items():
    for _side in SIDES:
        REGIONS[f"{_name}_{_side}"] = [tuple(p.format(s=_side) for p in chain) for chain in _chains]

# Segments a point can reach (`reach:` in a keyframe): name -> (from, to, the segment's radius).
SEGMENTS = {
    **{f"thigh_{s}": (f"hip_{s}", f"knee_{s}", 4.0) for s in SIDES},
    **{f"shin_{s}": (f"knee_{s}", f"ankle_{s}", 2.6) for s in SIDES},
    **{f"foot_{s}": (f"heel_{s}", f"toes_{s}", 1.8) for s in SIDES},
    **{f"upper-arm_{s}": (f"shoulder_{s}", f"elbow_{s}", 2.9) for s in SIDES},
    **{f"forearm_{s}": (f"elbow_{s}", f"wrist_{s}", 2.3) for s in SIDES},
    "trunk": ("pelvis", "neck_base", 6.0),
}
# How far the surface is from a point, for touching another part of the body.
REACH_RADIUS = {"hand": 1.3, "fingers": 0.8, "head": 5.4, "knee": 3.0, "elbow": 2.2, "ankle": 2.0, "wrist": 1.6}


def reach_radius(point: str) -> float:
    """A point's surface distance for reaching (a palm is thinner than the hand's bounding radius)."""
    base = point.rsplit("_", 1)[0] if point[-2:] in ("_l", "_r") else point
    return REACH_RADIUS.get(base, radius(point))
