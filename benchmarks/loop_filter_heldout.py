"""Held-out PSNR gain of loop-filter checkpoints (float) and exported weights (fixed point).

    python benchmarks/loop_filter_heldout.py RUN/snapshots/*.pt avg.pt weights.npz --cache /work/lf_cache \\
        --below 560 --transforms 1 4

The held-out pairs are every 40th pair of each cache folder (as in training); ``--below N`` keeps those
numbered below N, so that the set stays fixed while a pair generator adds to the cache.  For each file
and ensemble size: mean luma and chroma PSNR gain in dB, every sample filtered, scale 1.0 — the
training log's ``val_gain`` columns on a set that does not move.  ``.pt`` files run the float network
(``train_loop_filter.ensemble_forward``), ``.npz`` files the decoder's integer one
(``exact.ensemble_correction``), which shows what the export costs.  The BD-rate on pictures comes from
``benchmarks/loop_filter_rd.py``.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from nntools.loop_filter.exact import OUT_FRAC, ensemble_correction
from nntools.loop_filter.zoo import load_weights
from nntools.training.loop_filter_model import FilterConfig, LoopFilterNet
from nntools.training.train_loop_filter import PairSet, split_pairs, validate


def fixed_point_gain(path: Path, data: PairSet, transforms: int) -> tuple[float, float]:
    """``validate`` for exported weights: the integer ensemble's correction, in 10-bit samples."""
    weights = load_weights(path)
    luma, chroma = [], []
    for x, t in zip(data.inputs, data.targets):
        corr = ensemble_correction(weights, torch.from_numpy(x.astype(np.float32))[None], transforms)[0].numpy()
        err = t.astype(np.float64) - corr / (1 << OUT_FRAC)
        for gains, ch in ((luma, slice(0, 4)), (chroma, slice(4, 6))):
            before = float((t[ch].astype(np.float64) ** 2).mean())
            if before > 0:
                gains.append(10 * math.log10(before / max(float((err[ch] ** 2).mean()), 1e-12)))
    return float(np.mean(luma)), float(np.mean(chroma)) if chroma else math.nan


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help="checkpoints (.pt) or exported weights (.npz)")
    p.add_argument("--cache", required=True, help="pair cache; the held-out pairs of every subfolder")
    p.add_argument("--below", type=int, default=None, help="only held-out pairs numbered below this")
    p.add_argument("--transforms", type=int, nargs="+", default=[4], choices=(1, 2, 4, 8))
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    paths = [q for q in split_pairs(Path(a.cache))[1] if a.below is None or int(q.stem.split("_")[-1]) < a.below]
    sets: dict[FilterConfig, PairSet] = {}
    print(f"{len(paths)} held-out pairs in {a.cache}" + (f" numbered below {a.below}" if a.below else ""))
    print("| file | " + " | ".join(f"{n} run{'s' * (n > 1)} luma / chroma dB" for n in a.transforms) + " |")
    print("|---|" + "---:|" * len(a.transforms))
    for f in map(Path, a.files):
        if f.suffix == ".npz":
            cfg = load_weights(f).cfg
            data = sets.setdefault(cfg, PairSet(paths, cfg))
            gains = [fixed_point_gain(f, data, n) for n in a.transforms]
        else:
            state = torch.load(f, map_location="cpu")
            cfg = FilterConfig(**state["cfg"])
            net = LoopFilterNet(cfg, state.get("batch_norm", False))
            net.load_state_dict(state["model"])
            data = sets.setdefault(cfg, PairSet(paths, cfg))
            gains = [validate(net.eval().folded(), data, n) for n in a.transforms]
        print(f"| {f} | " + " | ".join(f"{lu:+.4f} / {ch:+.4f}" for lu, ch in gains) + " |", flush=True)


if __name__ == "__main__":
    main()
