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
import torch.nn.functional as F

from host.color import CHROMA_420, rgb_to_planes

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp"}
PLANE_NAMES = ("y", "cb", "cr")


def list_images(folder: str | Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                  and not any(p.name.endswith(f".{n}.webp") for n in PLANE_NAMES))


def load_planes(path: Path) -> list[np.ndarray] | None:
    """A picture file as the codec's 8-bit 4:2:0 planes (uint8), or None if unreadable."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return [p.astype(np.uint8) for p in rgb_to_planes(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), 8, CHROMA_420)]


def pack_crops(folder: str | Path, out: str | Path, count: int, size: int = 256, seed: int = 0) -> None:
    """Write ``count`` random size x size crops of the folder's pictures, already in the codec's 4:2:0
    YCbCr, to one compressed .npz: a compact training set to carry to a lent GPU machine."""
    data = CropDataset(folder, crop=size, seed=seed)
    crops = [data.random_crop(size) for _ in range(count)]
    np.savez_compressed(out, **{n: np.stack([c[i] for c in crops]) for i, n in enumerate(PLANE_NAMES)})


def pack_planes(folder: str | Path, out: str | Path) -> int:
    """Write every picture of the folder as its three 4:2:0 planes in lossless WebP
    (``NAME.y.webp``, ``NAME.cb.webp``, ``NAME.cr.webp``): the whole training set, bit-exact, in about
    half the size of the PNGs, so it can travel to a lent GPU machine in a few carries."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in list_images(folder):
        planes = load_planes(path)
        if planes is None:
            continue
        for name, plane in zip(PLANE_NAMES, planes):
            ok, buf = cv2.imencode(".webp", plane, [cv2.IMWRITE_WEBP_QUALITY, 101])    # > 100: lossless
            if not ok:
                raise OSError(f"WebP encoding failed for {path}")
            (out / f"{path.stem}.{name}.webp").write_bytes(buf.tobytes())
        written += 1
    return written


def _read_plane_sets(folder: Path) -> list[list[np.ndarray]]:
    pictures = []
    for y_path in sorted(folder.glob("*.y.webp")):
        stem = y_path.name[:-len(".y.webp")]
        planes = [cv2.imread(str(folder / f"{stem}.{n}.webp"), cv2.IMREAD_GRAYSCALE) for n in PLANE_NAMES]
        if any(p is None for p in planes):
            raise ValueError(f"incomplete plane set {stem} in {folder}")
        pictures.append(planes)
    return pictures


def to_input_batch(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """(B, c, c) luma and (B, c/2, c/2) chroma uint8 crops -> (B, 6, c/2, c/2) float32 network input.

    The same arithmetic as ``nntools.encoder.input.planes_to_input`` (float64 v / 255 - 0.5, then float32),
    done for the whole batch on ``device`` so that a GPU is not left waiting on per-crop NumPy work."""
    luma = torch.from_numpy(y).to(device, torch.float64)[:, None]
    chroma = [torch.from_numpy(c).to(device, torch.float64)[:, None] for c in (cb, cr)]
    x = torch.cat([F.pixel_unshuffle(luma, 2)] + chroma, dim=1)
    return (x / 255 - 0.5).float()


class CropDataset:
    """Training pictures held in memory as 4:2:0 YCbCr planes (from a folder of images, a folder of
    plane sets made by ``pack_planes``, or a crop pack made by ``pack_crops``); ``batch`` draws random
    crops and flips."""

    def __init__(self, source: str | Path, crop: int = 128, seed: int = 0):
        self.crop = crop
        self.rng = np.random.default_rng(seed)
        source = Path(source)
        if source.suffix == ".npz":
            with np.load(source) as pack:
                pictures = [[pack[n][i] for n in PLANE_NAMES] for i in range(len(pack["y"]))]
        else:
            pictures = _read_plane_sets(source) or [p for p in map(load_planes, list_images(source)) if p]
        self.pictures = [[np.asarray(p, np.uint8) for p in planes] for planes in pictures
                         if min(planes[0].shape) >= crop]
        if not self.pictures:
            raise ValueError(f"no usable training images (>= {crop} px) in {source}")

    def random_crop(self, c: int) -> list[np.ndarray]:
        y, cb, cr = self.pictures[self.rng.integers(len(self.pictures))]
        top = 2 * self.rng.integers((y.shape[0] - c) // 2 + 1)
        left = 2 * self.rng.integers((y.shape[1] - c) // 2 + 1)
        return [y[top:top + c, left:left + c],
                cb[top // 2:(top + c) // 2, left // 2:(left + c) // 2],
                cr[top // 2:(top + c) // 2, left // 2:(left + c) // 2]]

    def batch(self, size: int, device: str | torch.device = "cpu") -> torch.Tensor:
        c = self.crop
        stacks = [np.empty((size, c >> s, c >> s), np.uint8) for s in (0, 1, 1)]
        for i in range(size):
            planes = self.random_crop(c)
            if self.rng.random() < 0.5:
                planes = [p[:, ::-1] for p in planes]
            if self.rng.random() < 0.5:
                planes = [p[::-1, :] for p in planes]
            for stack, plane in zip(stacks, planes):
                stack[i] = plane
        return to_input_batch(*stacks, device=device)


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="python -m nntools.training.data",
                                description="Pack a picture folder for carrying to a training machine: random "
                                            "4:2:0 crops in one .npz, or (--planes) every picture's planes "
                                            "as lossless WebP.")
    p.add_argument("folder")
    p.add_argument("--out", required=True, help=".npz file, or a folder with --planes")
    p.add_argument("--count", type=int, default=600)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--planes", action="store_true", help="write every picture's planes, bit-exact")
    args = p.parse_args()
    if args.planes:
        print(f"{pack_planes(args.folder, args.out)} pictures written to {args.out}")
    else:
        pack_crops(args.folder, args.out, args.count, args.size)
