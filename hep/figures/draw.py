"""What the rest of HEP calls: check a figure description, draw it, and name its version.

Drawing is pure and deterministic, so results are cached by the description's content.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from hep.figures import render
from hep.figures.scene import Scene, build
from hep.figures.spec import FigureError, load_figure

# Part of every figure's version: bump it when the drawing style changes, so cached copies renew.
STYLE_VERSION = "2"
__all__ = ["FigureError", "check", "draw", "frame_count", "still_frame", "version"]


def check(raw: dict, *, equipment: set[str] | None = None) -> Scene:
    """Validate a figure description completely (words, ranges, the placed body); FigureError if wrong."""
    return build(load_figure(raw, equipment=equipment))


def _key(raw: dict) -> str:
    return json.dumps(raw, sort_keys=True, separators=(",", ":"))


@lru_cache(maxsize=64)
def _scene(key: str) -> Scene:
    return check(json.loads(key))


@lru_cache(maxsize=512)
def _draw(key: str, title: str, desc: str, mirror: bool, frame: int | None, static: bool) -> str:
    scene = _scene(key)
    if static:
        return render.strip(scene, title, desc, mirror=mirror)
    if frame is not None:
        return render.single(scene, title, desc, frame=frame, mirror=mirror)
    return render.animated(scene, title, desc, mirror=mirror)


def frame_count(raw: dict) -> int:
    """How many keyframes a (valid) figure has."""
    return len(_scene(_key(raw)).keyframes)


def still_frame(raw: dict) -> int:
    """The keyframe (from 1) shown when motion is unwanted."""
    return _scene(_key(raw)).figure.still + 1


def draw(
    raw: dict, *, title: str, desc: str, side: str | None = None, frame: int | None = None, static: bool = False
) -> str:
    """The figure as SVG: animated, one keyframe (`frame` from 1) or all side by side (`static`).

    `side` (left/right) is the side the patient works; the figure is mirrored when it was drawn
    working the other side. A figure drawn without a side is the same for both.
    """
    scene = _scene(_key(raw))
    drawn_side = scene.figure.side
    mirror = side in ("left", "right") and drawn_side is not None and side != drawn_side
    if frame is not None and not 1 <= frame <= len(scene.keyframes):
        raise ValueError(f"this figure has keyframes 1 to {len(scene.keyframes)}")
    return _draw(_key(raw), title, desc, mirror, None if frame is None else frame - 1, static)


def version(raw: dict, title: str, desc: str) -> str:
    """A short fingerprint of everything the drawing depends on (for URLs and ETags)."""
    digest = hashlib.sha256(f"{STYLE_VERSION}\n{title}\n{desc}\n{_key(raw)}".encode()).hexdigest()
    return digest[:16]
