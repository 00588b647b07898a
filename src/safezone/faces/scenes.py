"""Synthetic camera scenes with real faces, for the tests, the benchmark and the simulator.

A scene is a fixed street-like background with sensor noise; things that move over it are
plain blocks (vehicles) and faces (the public-domain photos in ``samples/``, see
CREDITS.md). Each frame is fully determined by the scene's seed and the frame number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import cv2
import numpy as np

from safezone.faces.engine import Image, as_image, resize_to

SAMPLE_FACES = ("collins", "hopper")
FRAME_SIZE = (1280, 720)

SceneKind = Literal["static", "traffic", "faces"]


def sample_face(name: str) -> Image:
    """A public-domain head-and-shoulders photo shipped with SafeZone (BGR)."""
    if name not in SAMPLE_FACES:
        raise ValueError(f"no sample face {name!r}; choose one of {', '.join(SAMPLE_FACES)}")
    data = resources.files("safezone.faces").joinpath("samples", f"{name}.jpg").read_bytes()
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"sample face {name} could not be decoded")
    return as_image(image)


def street_background(seed: int, size: tuple[int, int] = FRAME_SIZE) -> Image:
    """A deterministic, textured outdoor-looking background."""
    rng = np.random.default_rng(seed)
    w, h = size
    sky = np.linspace(200, 120, h // 2, dtype=np.float32)[:, None]
    road = np.linspace(90, 60, h - h // 2, dtype=np.float32)[:, None]
    grey = np.vstack([np.repeat(sky, w, 1), np.repeat(road, w, 1)])
    image = np.dstack([grey * 0.9, grey, grey * 1.05]).clip(0, 255).astype(np.uint8)
    for _ in range(14):  # buildings, poles, shop fronts
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h // 2))
        bw, bh = int(rng.integers(40, 260)), int(rng.integers(60, 360))
        colour = tuple(int(c) for c in rng.integers(40, 220, 3))
        cv2.rectangle(image, (x, y), (x + bw, y + bh), colour, -1)
    texture = rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return (image.astype(np.float32) + texture).clip(0, 255).astype(np.uint8)


@dataclass
class Walker:
    """A face crossing the view: ``face`` is pasted with its top-left at a point that
    moves ``speed`` pixels a frame from ``start``."""

    face: Image
    start: tuple[int, int]
    speed: tuple[int, int] = (10, 0)

    def position(self, frame: int) -> tuple[int, int]:
        return (self.start[0] + self.speed[0] * frame, self.start[1] + self.speed[1] * frame)


@dataclass
class Scene:
    seed: int
    kind: SceneKind = "static"
    walkers: list[Walker] = field(default_factory=list)
    noise: float = 2.0
    size: tuple[int, int] = FRAME_SIZE

    def __post_init__(self) -> None:
        self._background = street_background(self.seed, self.size)

    def frame(self, index: int) -> Image:
        image = self._background.copy()
        if self.kind == "traffic" or self.kind == "faces":
            w, h = self.size
            x = (index * 37 + self.seed * 101) % (w + 300) - 300
            cv2.rectangle(image, (x, h // 2 + 60), (x + 300, h // 2 + 200), (30, 30, 160), -1)
        if self.kind == "faces":
            for walker in self.walkers:
                paste(image, walker.face, walker.position(index))
        if self.noise > 0:
            rng = np.random.default_rng(self.seed * 100_003 + index)
            noise = rng.normal(0, self.noise, image.shape[:2] + (1,)).astype(np.float32)
            image = (image.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
        return image


def paste(image: Image, patch: Image, at: tuple[int, int]) -> None:
    """Paste ``patch`` with its top-left corner at ``at``, clipped to the image."""
    h, w = image.shape[:2]
    ph, pw = patch.shape[:2]
    x, y = at
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + pw), min(h, y + ph)
    if x0 >= x1 or y0 >= y1:
        return
    image[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


def scaled(face: Image, height: int) -> Image:
    """A face photo resized to ``height`` pixels tall."""
    h, w = face.shape[:2]
    return resize_to(face, max(1, round(w * height / h)), height)
