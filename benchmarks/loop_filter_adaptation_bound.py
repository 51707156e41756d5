"""Upper bound of per-picture adaptation of the loop filter's output layer (float, nothing signalled).

    python benchmarks/loop_filter_adaptation_bound.py ../shared/data/dev --cache DIR --qp 27 37

The decoder scales the 4-run mean correction by one least-squares factor per component
(``nn_lf_scale``).  An encoder could send more: per-run factors, or a refit of the last convolution on
the network's last hidden features (a 1x1 change shared by the four luma phases, 33 coefficients, or
one per phase, 132).  For each cached host picture (``benchmarks/host_search_cache.py``) this fits each
option to the picture's own original by least squares, over every luma sample, and prints the luma
PSNR gain over the deblocked picture in dB — what each option could give before its coefficients are
quantised and paid for.  The float checkpoint is the one shipped beside the weights.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from nntools.loop_filter.exact import IN_FRAC, TRANSFORMS, input_block, transform_stack, untransform_stack
from nntools.training.data import list_images
from nntools.training.loop_filter_model import LoopFilterNet

sys.path.insert(0, str(Path(__file__).parent))
from host_search_cache import load_or_search  # noqa: E402

CHECKPOINT = Path(__file__).parents[1] / "nntools" / "loop_filter" / "checkpoints" / "cnnlf_32x8.pt"
OPTIONS = ("raw", "scale", "per-run scales", "shared 1x1 (33)", "per-phase 1x1 (132)")


def residual_sse(basis: list[torch.Tensor], target: torch.Tensor) -> float:
    """Sum of squared errors left after the least-squares combination of ``basis`` (flat vectors)."""
    b = torch.stack(basis).double()
    t = target.double()
    coef = torch.linalg.solve(b @ b.T + 1e-9 * torch.eye(len(b), dtype=b.dtype), b @ t)
    err = t - coef @ b
    return float(err @ err)


def feature_basis(feats: list[torch.Tensor], phase: int | None) -> list[torch.Tensor]:
    """Luma corrections (flattened, turned back and averaged over the runs) made by one hidden feature
    (or the constant) written into the output phase ``phase`` of every run, or into all four."""
    out = []
    for k in range(feats[0].shape[1] + 1):
        total = 0
        for ops, f in zip(TRANSFORMS, feats):
            plane = f[:, k:k + 1] if k < f.shape[1] else torch.ones_like(f[:, :1])
            z = torch.zeros(1, 6, *plane.shape[2:])
            z[:, phase if phase is not None else slice(0, 4)] = plane[:, 0] if phase is not None else plane
            total = total + untransform_stack(z, ops)
        out.append((total / len(feats))[0, :4].reshape(-1))
    return out


def picture_gains(net: LoopFilterNet, src, host, qp: int, runs: int) -> list[float]:
    hd = host.header
    h, w = host.planes[0].shape[0] // 2, host.planes[0].shape[1] // 2
    x = input_block(host.planes, hd.chroma_format_idc, hd.BitDepth, qp, net.cfg, 0, h, 0, w) / (1 << IN_FRAC)
    o = input_block(src.planes, hd.chroma_format_idc, hd.BitDepth, qp, net.cfg, 0, h, 0, w) / (1 << IN_FRAC)
    target = (o - x)[0, :4].reshape(-1)
    with torch.no_grad():
        feats, outs = [], []
        for ops in TRANSFORMS[:runs]:
            hidden = net.activations(transform_stack(x, ops))[-1]
            feats.append(hidden)
            outs.append(untransform_stack(net.convs[-1](hidden), ops)[0, :4].reshape(-1))
        mean = sum(outs) / runs
        before = float(target.double() @ target.double())
        sse = [float(((target - mean).double() ** 2).sum()), residual_sse([mean], target), residual_sse(outs, target),
               residual_sse([mean] + feature_basis(feats, None), target),
               residual_sse([mean] + [v for j in range(4) for v in feature_basis(feats, j)], target)]
    return [10 * math.log10(before / e) for e in sse]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--cache", required=True, help="host search cache (benchmarks/host_search_cache.py)")
    p.add_argument("--qp", type=int, nargs="+", default=[27, 37])
    p.add_argument("--checkpoint", default=str(CHECKPOINT))
    p.add_argument("--runs", type=int, default=4, choices=(1, 2, 4, 8))
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    net = LoopFilterNet.from_checkpoint(a.checkpoint)
    rows = {qp: [] for qp in a.qp}
    for pic in list_images(a.folder):
        for qp in a.qp:
            rows[qp].append(picture_gains(net, *load_or_search(pic, qp, Path(a.cache)), qp, a.runs))
    print(f"Luma PSNR gain over the deblocked picture (dB), mean of {len(rows[a.qp[0]])} pictures, {a.runs} runs")
    print("\n| QP | " + " | ".join(OPTIONS) + " |\n|---:|" + "---:|" * len(OPTIONS))
    for qp, r in rows.items():
        print(f"| {qp} | " + " | ".join(f"{v:+.4f}" for v in np.mean(r, axis=0)) + " |")


if __name__ == "__main__":
    main()
