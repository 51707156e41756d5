"""Training data: random crops of photographs in the codec's 4:2:0 YCbCr, as 6-channel tensors.

Pictures go through exactly the codec's colour conversion (host.color) and the neural tool's input
mapping (nntools.picture), so the network trains on the samples it will code.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from host.color import CHROMA_420, rgb_to_planes
from nntools.picture import planes_to_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


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
            self.pictures.append(rgb_to_planes(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 8, CHROMA_420))
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
            out.append(planes_to_input([np.ascontiguousarray(p) for p in planes], CHROMA_420, 8)[0].float())
        return torch.stack(out)
