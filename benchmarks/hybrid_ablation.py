"""Ablations of the hybrid mode (docs/RESULTS.md): each option against the default hybrid and host-only.

    python benchmarks/hybrid_ablation.py --data ../shared/data/dev --crop 256 --limit 8 --out runs/ablation
    python benchmarks/hybrid_ablation.py --crop 0 --pictures usc_4_2_05_airplane.png usc_aerial_2_1_05.png

Every variant codes the same pictures (centre crops, or whole with ``--crop 0``) at the same QPs
(resumable: OUT/points.jsonl).  Printed and written to OUT/ablation.md / .json: BD-rate (Akima, PSNR-Y and PSNR-RGB, mean over pictures) against
host-only and against the default hybrid, the share of area coded by the NN, the nn_compress_flag (and
nn_delta_level) bits as a share of all bits, NN trials per picture and the mean encode time.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hybridcodec.eval.experiments import Point, bd_rates, centre_crops, label_of, mean_finite, run_points, write_report
from nntools.training.data import list_images

VARIANTS = {
    "host only": ("host", {}),
    "hybrid (default: per CU, flag contexts)": ("hybrid", {}),
    "nn_compress_flag: one context": ("hybrid", {"nn_flag_coding": "one"}),
    "nn_compress_flag: bypass": ("hybrid", {"nn_flag_coding": "bypass"}),
    "nn_delta_level on": ("hybrid", {"nn_delta_level": True}),
    "per-CTU decisions": ("hybrid", {"nn_decision": "ctu"}),
    "deblocking of NN edges off": ("hybrid", {"nn_deblocking": False}),
    "NN residual mode on": ("hybrid", {"nn_residual": True}),
    "separate DC coding on": ("hybrid", {"nn_dc": True}),
    "separate luma/chroma flags on": ("hybrid", {"nn_cbcr_separate": True}),
    "host-only picture check off": ("hybrid", {"host_picture_check": False}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--pictures", nargs="+", default=[],
                   help="file names in --data to use instead of the first --limit (an ablation of NN-only "
                        "options needs pictures where the hybrid keeps NN CUs)")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--simplify", default="nn_min_variance=25,nn_max_host_cost=2.0",
                   help="options of the 'encoder simplification' variant")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    variants = dict(VARIANTS)
    simplify = {k: float(v) for k, v in (kv.split("=") for kv in args.simplify.split(","))}
    variants[f"encoder simplification ({args.simplify})"] = ("hybrid", simplify)
    sources = [args.data / name for name in args.pictures] or list_images(args.data)[:args.limit or None]
    pictures = centre_crops(sources, args.crop, args.out / "pictures") if args.crop else sources
    points, labels = [], {}
    for name, (mode, options) in variants.items():
        opts = tuple(sorted(options.items()))
        for picture in pictures:
            points += [Point(str(picture), mode, qp, opts) for qp in args.qp]
        labels[name] = label_of({"codec": mode, "options": opts})
    rows = run_points(points, args.out / "points.jsonl", jobs=args.jobs)
    assert all(r["exact"] for r in rows), "decoder output differs from the encoder reconstruction"
    host, hybrid = labels["host only"], labels["hybrid (default: per CU, flag contexts)"]
    table = []
    for name, label in labels.items():
        own = [r for r in rows if label_of(r) == label]
        bits = [8 * r["bytes"] for r in own]
        table.append({
            "variant": name,
            **{f"bd_{short}_vs_{ref_name}": mean_finite(bd_rates(rows, ref, label, metric).values())
               for ref_name, ref in (("host", host), ("hybrid", hybrid))
               for short, metric in (("y", "psnr_y"), ("rgb", "psnr_rgb"))},
            "nn_area": mean_finite([r.get("nn_area", 0.0) for r in own]),
            "nn_flag_share": float(np.sum([r.get("nn_flag_bits", 0.0) for r in own]) / np.sum(bits)),
            "nn_trials": mean_finite([r.get("nn_trials", 0) for r in own]),
            "encode_s": mean_finite([r["encode_s"] for r in own]),
        })
    what = f"{args.crop}x{args.crop} centre crops" if args.crop else "whole pictures"
    lines = [f"{len(pictures)} pictures ({what} of {args.data}: {', '.join(p.name for p in sources)}), QP "
             f"{' '.join(map(str, args.qp))}; BD-rate: Akima, mean over pictures", "",
             "| variant | BD PSNR-Y vs host | BD PSNR-RGB vs host | BD PSNR-Y vs hybrid | BD PSNR-RGB vs hybrid | "
             "NN area | flag bits | NN trials / picture | encode s |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in table:
        lines.append(f"| {t['variant']} | {t['bd_y_vs_host']:+.2f}% | {t['bd_rgb_vs_host']:+.2f}% | "
                     f"{t['bd_y_vs_hybrid']:+.2f}% | {t['bd_rgb_vs_hybrid']:+.2f}% | {100 * t['nn_area']:.1f}% | "
                     f"{100 * t['nn_flag_share']:.2f}% | "
                     f"{t['nn_trials']:.0f} | {t['encode_s']:.1f} |")
    write_report(args.out, "ablation", "\n".join(lines), table)


if __name__ == "__main__":
    main()
