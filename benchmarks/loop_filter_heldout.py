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
from pathlib import Path

import torch

from nntools.loop_filter.exact import IN_FRAC, OUT_FRAC, FilterConfig, ensemble_correction
from nntools.loop_filter.zoo import load_weights
from nntools.training.loop_filter_model import LoopFilterNet
from nntools.training.train_loop_filter import PairSet, heldout_gains, split_pairs, validate


def fixed_point_gain(path: Path, data: PairSet, transforms: int) -> tuple[float, float]:
    """``validate`` for exported weights: the integer ensemble on the integer input, rescaled."""
    weights = load_weights(path)
    return heldout_gains(data, lambda x: ensemble_correction(weights, x * (1 << IN_FRAC), transforms)
                         / (1 << (OUT_FRAC + IN_FRAC)))


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
            net = LoopFilterNet.from_checkpoint(f)
            data = sets.setdefault(net.cfg, PairSet(paths, net.cfg))
            gains = [validate(net, data, n) for n in a.transforms]
        print(f"| {f} | " + " | ".join(f"{lu:+.4f} / {ch:+.4f}" for lu, ch in gains) + " |", flush=True)


if __name__ == "__main__":
    main()
