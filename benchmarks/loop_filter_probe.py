"""What the loop-filter network could give, before any encoder decision: ensembles and QP offsets.

For each cached host search (``benchmarks/host_search_cache.py``) the shipped network's exact
corrections are computed on the deblocked picture for each of the 8 transforms of the geometric
ensemble (``nntools.loop_filter.exact.TRANSFORMS``) and, without transforms, with the QP plane moved
by each ``--qp-offsets`` value.  Every sample is filtered and each component's correction is scaled by
least squares, so the figure is the network's ceiling on that picture (flags and scale bits are
ignored).  Prints, per QP, the mean luma / Cb / Cr gain in dB of: the first 1, 2, 4 and 8 transforms
(the normative ensembles), other 4-transform subsets, each QP offset, and the best offset per picture.

    python benchmarks/loop_filter_probe.py ../shared/data/dev --cache DIR [--qp 22 27 32 37]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from hybridcodec.config import EncoderConfig
from nntools.loop_filter.exact import TRANSFORMS, input_block, transformed_correction
from nntools.loop_filter.zoo import DEFAULT_MODEL, load_weights
from nntools.training.data import list_images

sys.path.insert(0, str(Path(__file__).parent))
from host_search_cache import load_or_search  # noqa: E402

SUBSETS = {"1 (normative)": [0], "2 (normative)": [0, 1], "4 flips (normative)": [0, 1, 2, 3],
           "8 (normative)": list(range(8)), "4: h, t, t+h": [0, 1, 4, 5], "4: h+v, t, t+h+v": [0, 3, 4, 7]}


def half_planes(planes: list[np.ndarray]) -> list[np.ndarray]:
    """The six half-resolution sample planes in the network's channel order."""
    y = planes[0].astype(np.float64)
    return [y[0::2, 0::2], y[0::2, 1::2], y[1::2, 0::2], y[1::2, 1::2]] + [p.astype(np.float64) for p in planes[1:3]]


def gains(original: list[np.ndarray], deblocked: list[np.ndarray], corr: np.ndarray, bit_depth: int) -> list[float]:
    """dB gained per component (luma, Cb, Cr) by the least-squares-scaled correction."""
    corr = corr / 16 * 2.0 ** (bit_depth - 10)
    out = []
    for chans in ([0, 1, 2, 3], [4], [5]):
        err = np.stack([original[c] - deblocked[c] for c in chans])
        k = np.stack([corr[c] for c in chans])
        scale = max(0.0, float((k * err).sum()) / (float((k * k).sum()) + 1e-9))
        before = float((err * err).sum())
        out.append(10 * np.log10(before / max(float(((err - scale * k) ** 2).sum()), 1e-9)))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder")
    p.add_argument("--cache", required=True)
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--qp-offsets", type=int, nargs="*", default=[-4, 4])
    p.add_argument("--internal-bit-depth", type=int, default=EncoderConfig.internal_bit_depth, choices=[0, 8, 10])
    p.add_argument("--model", default=DEFAULT_MODEL)
    a = p.parse_args()
    torch.set_num_threads(1)
    weights = load_weights(a.model)
    cfg = EncoderConfig(internal_bit_depth=a.internal_bit_depth)
    table: dict[int, dict[str, list]] = {qp: {} for qp in a.qp}
    for picture in list_images(a.folder):
        for qp in a.qp:
            src, host = load_or_search(picture, qp, Path(a.cache), cfg)
            h = host.header
            half_h, half_w = host.planes[0].shape[0] // 2, host.planes[0].shape[1] // 2

            def block(qp_plane: int) -> torch.Tensor:
                return input_block(host.planes, h.chroma_format_idc, h.BitDepth, qp_plane, weights.cfg,
                                   0, half_h, 0, half_w)
            x = block(h.pic_qp)
            per_transform = [transformed_correction(weights, x, ops)[0].numpy() for ops in TRANSFORMS]
            O, R = half_planes(src.planes), half_planes(host.planes)
            row = table[qp]
            for name, subset in SUBSETS.items():
                mean = np.floor((sum(per_transform[i] for i in subset) + len(subset) // 2) / len(subset))
                row.setdefault(name, []).append(gains(O, R, mean, h.BitDepth))
            offsets = {0: row["1 (normative)"][-1]}
            for off in a.qp_offsets:
                offsets[off] = gains(O, R, weights.correction(block(h.pic_qp + off))[0].numpy(), h.BitDepth)
                row.setdefault(f"QP plane {off:+d}", []).append(offsets[off])
            row.setdefault("best QP offset per picture", []).append(
                [max(g[c] for g in offsets.values()) for c in range(3)])
            print(f"{picture.name[:40]:40s} QP {qp}: " + " ".join(f"{n.split(' (')[0]} {v[-1][0]:+.3f}"
                                                               for n, v in row.items()), flush=True)
    for qp, row in table.items():
        print(f"\nQP {qp} (mean dB over {len(next(iter(row.values())))} pictures: luma / Cb / Cr)")
        for name, values in row.items():
            m = np.mean(values, axis=0)
            print(f"  {name:28s} {m[0]:+.4f} / {m[1]:+.4f} / {m[2]:+.4f}")


if __name__ == "__main__":
    main()
