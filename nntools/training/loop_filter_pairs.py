"""Training pairs for the loop filter (encoder-only): host reconstructions of random crops at random QPs.

Each pair is one ``.npz`` in a cache folder outside the repository: the original and the deblocked
reconstruction (4:2:0 planes, 8 or 10 bits), the QP and bit depth, and the deblocking edge maps (the
luma transform-block edges on the 8x8 grid, as ``host.edges.boundary_strengths`` gives them).
Generating pairs is the slow part of training (about 1.2 s per 256x256 crop without RDOQ, 3.3 s with
it), so it resumes: existing files are kept and numbering continues.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

QP_RANGE = (17, 47)


@dataclass(frozen=True)
class PairConfig:
    crop: int = 256
    rdoq_share: float = 0.2       # share of pairs coded with RDOQ (the default encoder); the rest without
    ten_bit_share: float = 0.2    # share of pairs coded at 10 bits (the 8-bit source scaled to 16 bits)
    seed: int = 0


def make_pair(image: np.ndarray, qp: int, rdoq: bool, ten_bit: bool) -> dict[str, np.ndarray]:
    """Code ``image`` (HxWx3 uint8) host-only and return the arrays of one training pair."""
    from host.edges import boundary_strengths
    from host.partition import PictureGeometry
    from host.encoder.picture import encode_host
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder import Encoder
    from hybridcodec.encoder.source import prepare_source

    if ten_bit:
        image = image.astype(np.uint16) * 257
    enc = Encoder(EncoderConfig(qp=qp, mode="host", rdoq=rdoq))
    src = prepare_source(image, enc.config)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config())     # deblocked, not filtered
    geo = PictureGeometry.from_header(host.header)
    bs_ver, bs_hor = boundary_strengths(host.cus, geo)
    out = {f"orig{c}": p.astype(np.uint16) for c, p in enumerate(src.planes)}
    out.update({f"rec{c}": p.astype(np.uint16) for c, p in enumerate(host.planes)})
    out.update(qp=np.int16(qp), bit_depth=np.int16(src.bit_depth), rdoq=np.int8(rdoq),
               edge_ver=(bs_ver > 0), edge_hor=(bs_hor > 0))
    return out


def generate(folder: str | Path, cache: str | Path, count: int, cfg: PairConfig = PairConfig(),
             progress: bool = True) -> int:
    """Write pairs until ``cache`` holds ``count`` of them; returns how many were written now."""
    from hybridcodec.imageio import read_image
    from nntools.training.data import list_images

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    paths = list_images(folder)
    have = len(list(cache.glob("pair_*.npz")))
    rng = np.random.default_rng([cfg.seed, have])
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=count, initial=have, desc="pairs", unit="pair")
    written = 0
    for index in range(have, count):
        image = read_image(paths[rng.integers(len(paths))])
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        h, w = image.shape[:2]
        size = min(cfg.crop, h, w) // 8 * 8
        y, x = rng.integers(h - size + 1), rng.integers(w - size + 1)
        crop = np.ascontiguousarray(image[y:y + size, x:x + size, :3])
        qp = int(rng.integers(QP_RANGE[0], QP_RANGE[1] + 1))
        pair = make_pair(crop, qp, bool(rng.random() < cfg.rdoq_share), bool(rng.random() < cfg.ten_bit_share))
        tmp = cache / f".pair_{index:06d}.npz"
        np.savez_compressed(tmp, **pair)
        os.replace(tmp, cache / f"pair_{index:06d}.npz")
        written += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return written


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Generate loop-filter training pairs with the host encoder.")
    p.add_argument("folder")
    p.add_argument("cache")
    p.add_argument("--count", type=int, default=2000)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    generate(a.folder, a.cache, a.count, PairConfig(crop=a.crop, seed=a.seed))


if __name__ == "__main__":
    main()
