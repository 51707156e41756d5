"""Training data: random crops of photographs in the codec's 4:2:0 YCbCr, as 6-channel tensors.

Pictures go through exactly the codec's colour conversion (host.color) and the neural tool's input
mapping (nntools.picture), so the network trains on the samples it will code.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from host.color import CHROMA_420, rgb_to_planes
from nntools.picture import planes_to_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def pack_crops(folder: str | Path, out: str | Path, count: int, size: int = 256, seed: int = 0) -> None:
    """Write ``count`` random size x size crops of the folder's pictures, already in the codec's 4:2:0
    YCbCr, to one compressed .npz: a compact training set to carry to a lent GPU machine."""
    data = CropDataset(folder, crop=size, seed=seed)
    ys, cbs, crs = [], [], []
    for _ in range(count):
        y, cb, cr = data.random_crop(size)
        ys.append(y.astype(np.uint8))
        cbs.append(cb.astype(np.uint8))
        crs.append(cr.astype(np.uint8))
    np.savez_compressed(out, y=np.stack(ys), cb=np.stack(cbs), cr=np.stack(crs))


class CropDataset:
    """Training pictures held in memory as 4:2:0 YCbCr planes (from a folder of images, or a crop pack
    made by ``pack_crops``); ``batch`` draws random crops and flips."""

    def __init__(self, source: str | Path, crop: int = 128, seed: int = 0):
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        self.pictures = []
        if str(source).endswith(".npz"):
            with np.load(source) as pack:
                self.pictures = [[pack["y"][i].astype(np.int32), pack["cb"][i].astype(np.int32),
                                  pack["cr"][i].astype(np.int32)] for i in range(len(pack["y"]))
                                 if pack["y"].shape[1] >= crop]
        for path in list_images(source) if not self.pictures else []:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None or min(bgr.shape[:2]) < crop:
                continue
            self.pictures.append(rgb_to_planes(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 8, CHROMA_420))
        if not self.pictures:
            raise ValueError(f"no usable training images (>= {crop} px) in {source}")

    def random_crop(self, c: int) -> list[np.ndarray]:
        y, cb, cr = self.pictures[self.rng.integers(len(self.pictures))]
        top = 2 * self.rng.integers((y.shape[0] - c) // 2 + 1)
        left = 2 * self.rng.integers((y.shape[1] - c) // 2 + 1)
        return [y[top:top + c, left:left + c],
                cb[top // 2:(top + c) // 2, left // 2:(left + c) // 2],
                cr[top // 2:(top + c) // 2, left // 2:(left + c) // 2]]

    def batch(self, size: int) -> torch.Tensor:
        out = []
        for _ in range(size):
            planes = self.random_crop(self.crop)
            if self.rng.random() < 0.5:
                planes = [p[:, ::-1] for p in planes]
            if self.rng.random() < 0.5:
                planes = [p[::-1, :] for p in planes]
            out.append(planes_to_input([np.ascontiguousarray(p) for p in planes], CHROMA_420, 8)[0].float())
        return torch.stack(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m nntools.data",
                                description="Pack random 4:2:0 crops of a picture folder into one .npz.")
    p.add_argument("folder")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=600)
    p.add_argument("--size", type=int, default=256)
    args = p.parse_args()
    pack_crops(args.folder, args.out, args.count, args.size)
