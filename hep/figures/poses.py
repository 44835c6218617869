"""Named base postures: a keyframe starts from one and overrides a few joints.

Each posture is joint angles (skeleton.JOINTS, degrees; "flat" for an ankle levels its foot)
and the points that rest on a surface ("floor" or the figure's support). Lying postures put
the head to the left (on the back) or to the right (on the front or side) in the side view,
and the right side of the body nearest the viewer, so a right-side exercise is in front.
"""

from __future__ import annotations

FLAT = "flat"
_ARMS_DOWN = {"shoulders": {"abd": 4}, "elbows": 8}
_HANDS_ON_THIGHS = {
    "shoulders": {"flex": 22, "abd": 3, "horiz": 16},
    "elbows": 62,
    "forearms": {"sup": -70},
    "wrists": {"ext": 18},
}

POSTURES: dict[str, dict] = {
    "standing": {
        "angles": {**_ARMS_DOWN},
        "contacts": {"floor": ["feet"]},
    },
    "sitting": {  # on a chair, feet flat on the floor
        "angles": {"hips": {"flex": 90}, "knees": 90, "ankles": FLAT, **_HANDS_ON_THIGHS},
        "contacts": {"support": ["pelvis"], "floor": ["feet"]},
        "reach": {"hand_l": "thigh_l", "hand_r": "thigh_r"},
        "free": ["shoulders.flex", "elbows"],
    },
    "long-sitting": {  # on the floor, legs out straight
        "angles": {
            "hips": {"flex": 85},
            "lumbar": {"flex": 5},
            "knees": 0,
            "ankles": -10,
            "shoulders": {"flex": -15, "abd": 12},
            "elbows": 5,
            "wrists": FLAT,
            "forearms": {"sup": -90},
        },
        "contacts": {"floor": ["pelvis", "heels"]},
        "settle": ["hands"],
        "free": ["body.pitch", "shoulders.flex"],
    },
    "lying-on-back": {
        "angles": {"body": {"pitch": -90}, "ankles": -25, **_ARMS_DOWN},
        "contacts": {"floor": ["back", "heels"]},
        "settle": ["hands"],
        "free": ["body.pitch", "hips", "shoulders.flex"],
    },
    "hook-lying": {  # on the back with knees bent and feet flat
        "angles": {"body": {"pitch": -90}, "hips": {"flex": 50}, "knees": 95, "ankles": FLAT, **_ARMS_DOWN},
        "contacts": {"floor": ["back", "feet"]},
        "settle": ["hands"],
        "free": ["body.pitch", "hips", "shoulders.flex"],
    },
    "lying-on-front": {
        "angles": {
            "body": {"pitch": 90},
            "neck": {"flex": -25},
            "ankles": -45,
            "shoulders": {"abd": 10},
            "elbows": 5,
            "forearms": {"sup": -90},
        },
        "contacts": {"floor": ["back", "toes"]},
        "settle": ["hands"],
        "free": ["body.pitch", "shoulders.flex", "ankles"],
    },
    "side-lying": {  # on the left side, head to the right, facing the viewer, hips and knees a little bent
        "angles": {
            "body": {"pitch": 90, "roll": -90},
            "hips": {"flex": 40},
            "knees": 60,
            "ankles": -20,
            "shoulder_l": {"flex": 90},
            "elbow_l": 100,
            "shoulder_r": {"flex": 20},
            "elbow_r": 40,
            "neck": {"lat": -15},
        },
        "contacts": {"floor": ["shoulder_l", "hip_l"]},
        "free": ["body.roll", "body.lean", "lumbar.lat"],
    },
    "hands-and-knees": {
        "angles": {
            "body": {"pitch": 71},
            "hips": {"flex": 71},
            "knees": 90,
            "ankles": -75,
            "shoulders": {"flex": 71},
            "wrists": FLAT,
            "forearms": {"sup": -90},
            "neck": {"flex": -5},
        },
        "contacts": {"floor": ["knees", "hands"]},
        "free": ["body.pitch", "hips", "shoulders.flex"],
    },
    "kneeling": {  # tall kneeling
        "angles": {"knees": 90, "ankles": -75, **_ARMS_DOWN},
        "contacts": {"floor": ["knees", "toes"]},
        "free": ["ankles"],
    },
    "half-kneeling": {  # left knee down, right foot forward
        "angles": {
            "hip_r": {"flex": 80},
            "knee_r": 122,
            "ankle_r": FLAT,
            "hip_l": {"flex": -5},
            "knee_l": 90,
            "ankle_l": -75,
            **_ARMS_DOWN,
        },
        "contacts": {"floor": ["knee_l", "foot_r"]},
        "free": ["knee_r", "hip_l"],
    },
}
