"""Loop-filter training runs side by side: size, complexity, held-out gain and filtering time.

    python benchmarks/loop_filter_models.py /work/lf_runs/abl_ref /work/lf_runs/abl_noqp ... \\
        --picture ../shared/data/dev/wiki_043_hovercraft.png

For each run folder (``python -m nntools.training.train_loop_filter`` output: ``log.csv``, ``weights.npz``): the
network's configuration, parameters, MAC per luma sample, the steps and wall time it trained, its last
held-out PSNR gains (float network, luma and chroma), and the time of filtering every CTU of
``--picture`` (coded host-only at ``--qp``) with the fixed-point decoder, median of 3, in the current
torch thread count.  ``--heldout CACHE`` adds each model's fixed-point luma gain on the held-out
training pairs, split by how they were coded (RDOQ or not, 8 or 10 bits).  The BD-rate of each model
comes from ``benchmarks/loop_filter_rd.py --weights``.
"""
from __future__ import annotations

import argparse
import csv
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bitstream.container import NN_LF_ALL_CTUS
from host.encoder.picture import encode_host
from host.partition import PictureGeometry
from host.syntax import LoopFilterCtbFlags
from hybridcodec.config import EncoderConfig
from hybridcodec.encoder import Encoder
from hybridcodec.imageio import read_image
from hybridcodec.encoder.source import prepare_source
from nntools.loop_filter.picture import filter_picture, picture_edges
from nntools.loop_filter.zoo import load_weights


def filter_seconds(weights, host, repeats: int = 3, transforms: int = EncoderConfig.nn_lf_transforms) -> float:
    header = replace(host.header, nn_lf_enabled_flag=True, nn_lf_luma_mode=NN_LF_ALL_CTUS,
                     nn_lf_chroma_mode=NN_LF_ALL_CTUS, nn_lf_model_id=weights.model_id,
                     log2_nn_lf_num_transforms=transforms.bit_length() - 1)
    lf = LoopFilterCtbFlags.from_header(header, PictureGeometry.from_header(header))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        filter_picture(weights, host.planes, header, lf, picture_edges(weights, host.edges))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def heldout_gains(weights, cache: Path) -> dict[str, list[float]]:
    """Fixed-point luma PSNR gain (dB, scale 1.0, every sample filtered) of each held-out pair, grouped by
    how the pair was coded: with or without RDOQ, 8 or 10 bits."""
    import math
    from nntools.training.train_loop_filter import pair_tensors, split_pairs
    import torch
    groups: dict[str, list[float]] = {}
    for path in split_pairs(cache)[1]:
        x, t = pair_tensors(path, weights.cfg)
        with np.load(path) as d:
            rdoq, bits = bool(d["rdoq"]), int(d["bit_depth"])
        corr = weights.correction(torch.from_numpy(x[None].astype(np.float32)))[0, :4].numpy() / 16.0
        before = float(np.mean(t[:4].astype(np.float64) ** 2))
        gain = 10 * math.log10(before / max(float(np.mean((t[:4] - corr) ** 2)), 1e-12))
        for key in ("all", "RDOQ" if rdoq else "no RDOQ", f"{bits}-bit"):
            groups.setdefault(key, []).append(gain)
    return groups


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--picture", type=Path, required=True)
    p.add_argument("--qp", type=int, default=32)
    p.add_argument("--heldout", type=Path, help="pair cache: also the fixed-point held-out gains by kind of pair")
    a = p.parse_args()
    cfg = EncoderConfig(qp=a.qp, mode="host", nn_loop_filter=False)
    enc = Encoder(cfg)
    src = prepare_source(read_image(a.picture), cfg)
    host = encode_host(enc.header_for(src), src.planes, enc.search_config())
    print(f"| run | channels × layers | QP plane | edge plane | parameters | kMAC / luma sample | steps | minutes | "
          f"held-out ΔPSNR luma | chroma | filter s ({a.picture.name}, {EncoderConfig.nn_lf_transforms} transforms) |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in a.runs:
        weights = load_weights(run / "weights.npz")
        c = weights.cfg
        params = sum(int(np.prod(layer.weight.shape)) + layer.bias.numel() for layer in weights.layers)
        last = list(csv.DictReader((run / "log.csv").open()))[-1]
        print(f"| {run.name} | {c.channels} × {c.layers} | {'yes' if c.qp_plane else 'no'} | "
              f"{'yes' if c.edge_plane else 'no'} | {params:,} | {c.macs_per_luma_sample() / 1000:.1f} | "
              f"{last['step']} | {float(last['minutes']):.0f} | {float(last['val_gain_luma_db']):+.4f} dB | "
              f"{float(last['val_gain_chroma_db']):+.4f} dB | {filter_seconds(weights, host):.3f} |", flush=True)
    if a.heldout:
        print("\nFixed-point held-out luma gain (dB, every sample filtered, scale 1.0), mean (pairs):\n")
        table = {run.name: heldout_gains(load_weights(run / "weights.npz"), a.heldout) for run in a.runs}
        keys = [k for k in ("all", "no RDOQ", "RDOQ", "8-bit", "10-bit") if k in next(iter(table.values()))]
        print("| run | " + " | ".join(keys) + " |\n|---|" + "---:|" * len(keys))
        for name, groups in table.items():
            print(f"| {name} | " + " | ".join(f"{np.mean(groups[k]):+.4f} ({len(groups[k])})" for k in keys) + " |")


if __name__ == "__main__":
    main()

