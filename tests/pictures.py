"""Small generated test pictures: smooth gradients, edges, texture and noise, reproducible by seed."""
from __future__ import annotations

import numpy as np


def synthetic_rgb(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([
        128 + 90 * np.sin(xx / 23.0 + seed) * np.cos(yy / 31.0),
        110 + 60 * np.cos((xx + yy) / 17.0),
        140 + 70 * np.sin(yy / 11.0 - seed),
    ], axis=-1)
    base[(xx // 19 + yy // 13) % 2 == 0] += 40           # hard edges
    base += rng.normal(0, 6, base.shape)                 # texture
    peak = 255 if dtype == np.uint8 else 65535
    scale = 1 if dtype == np.uint8 else 257
    return np.clip(np.round(base * scale), 0, peak).astype(dtype)


def synthetic_gray(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    rgb = synthetic_rgb(height, width, seed, dtype).astype(np.float64)
    return np.round(rgb.mean(axis=-1)).astype(dtype)


def synthetic_screen(height: int, width: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    """Flat backgrounds with one-sample strokes: the content transform skip exists for."""
    rng = np.random.default_rng(seed)
    top = 1023 if dtype == np.uint16 else 255
    image = np.full((height, width, 3), top * 9 // 10, dtype=np.int64)
    for _ in range(height * width // 40):
        y, x = rng.integers(0, height), rng.integers(0, width - 3)
        image[y, x:x + rng.integers(1, 4)] = rng.integers(0, top // 4, 3)
    return image.astype(dtype)


def smooth_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    """``synthetic_rgb`` blurred and downsampled 2x: coding errors that a Wiener filter (ALF) can predict."""
    import cv2
    image = cv2.GaussianBlur(synthetic_rgb(2 * height, 2 * width, seed).astype(np.float32), (0, 0), 1.2)
    return np.clip(np.round(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)), 0, 255).astype(np.uint8)
