"""Training data: random crops of photographs in the codec's 4:2:0 YCbCr, as 6-channel tensors."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


def rgb_to_ycbcr420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BT.601 full-range YCbCr (the codec's matrix), chroma as 2x2 means; dims cropped to even."""
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    ycrcb = cv2.cvtColor(np.ascontiguousarray(rgb[:h, :w]), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    y = ycrcb[..., 0]
    chroma = ycrcb[..., 1:].reshape(h // 2, 2, w // 2, 2, 2).mean(axis=(1, 3))
    return y, chroma[..., 1], chroma[..., 0]


def planes_to_tensor(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> torch.Tensor:
    """(H, W) luma + (H/2, W/2) chroma in sample units -> (6, H/2, W/2) in [-0.5, 0.5]."""
    h, w = cb.shape
    luma = y.reshape(h, 2, w, 2).transpose(1, 3, 0, 2).reshape(4, h, w)
    stacked = np.concatenate([luma, cb[None], cr[None]], axis=0)
    return torch.from_numpy(np.ascontiguousarray(stacked, dtype=np.float32) / 255.0 - 0.5)


def list_images(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


class CropDataset:
    """All training pictures held in memory as YCbCr planes; ``batch`` draws random crops and flips."""

    def __init__(self, folder: str | Path, crop: int = 128, seed: int = 0):
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.pictures = []
        for path in list_images(folder):
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None or min(bgr.shape[:2]) < crop:
                continue
            self.pictures.append(rgb_to_ycbcr420(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        if not self.pictures:
            raise ValueError(f"no usable training images (>= {crop} px) in {folder}")

    def batch(self, size: int) -> torch.Tensor:
        c = self.crop
        out = []
        for _ in range(size):
            y, cb, cr = self.pictures[self.rng.integers(len(self.pictures))]
            top = 2 * self.rng.integers((y.shape[0] - c) // 2 + 1)
            left = 2 * self.rng.integers((y.shape[1] - c) // 2 + 1)
            planes = [y[top:top + c, left:left + c],
                      cb[top // 2:(top + c) // 2, left // 2:(left + c) // 2],
                      cr[top // 2:(top + c) // 2, left // 2:(left + c) // 2]]
            if self.rng.random() < 0.5:
                planes = [p[:, ::-1] for p in planes]
            if self.rng.random() < 0.5:
                planes = [p[::-1, :] for p in planes]
            out.append(planes_to_tensor(*planes))
        return torch.stack(out)
