"""RD of our modes on a picture folder against the anchors: BD-rate on PSNR-Y and PSNR-RGB.

    python benchmarks/rd_dev.py --data ../shared/data/dev --out runs/rd_dev                 # host vs JPEG, x265
    python benchmarks/rd_dev.py --codecs nn --reference jpeg host hevc --out runs/rd_dev    # NN-only mode

Per-point rows go to OUT/points.jsonl (resumable); the table printed is what docs/RESULTS.md shows.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from hybridcodec.anchors import available_anchors, default_sweep
from hybridcodec.experiments import Point, bd_rates, run_points
from nntools.data import list_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/dev")
    p.add_argument("--out", default="runs/rd_dev")
    p.add_argument("--codecs", nargs="+", default=["host"], choices=["host", "nn"])
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--levels", type=int, nargs="+", default=list(range(8)))
    p.add_argument("--anchors", nargs="+", default=["jpeg", "hevc"])
    p.add_argument("--reference", nargs="+", default=None,
                   help="curves to compare against (default: the anchors); 'host' is allowed")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    pictures = [str(x) for x in list_images(args.data)][:args.limit]
    available = available_anchors()
    anchors = [a for a in args.anchors if available[a]]
    for a in set(args.anchors) - set(anchors):
        print(f"anchor {a} unavailable: {available[a].reason}")
    references = args.reference or anchors
    params = {"host": args.qp, "nn": args.levels}
    codecs = list(dict.fromkeys(args.codecs + [r for r in references if r in params]))
    points = [Point(pic, c, v) for pic in pictures for c in codecs for v in params[c]]
    points += [Point(pic, a, v) for pic in pictures for a in anchors for v in default_sweep(a)]
    rows = run_points(points, Path(args.out) / "points.jsonl", jobs=args.jobs)

    for codec in args.codecs:
        ours = [r for r in rows if r["codec"] == codec]
        print(f"\n{codec}: {len(ours)} points, all decoded == reconstruction: {all(r['exact'] for r in ours)}; "
              f"median encode {np.median([r['encode_s'] for r in ours]):.1f} s, "
              f"decode {np.median([r['decode_s'] for r in ours]):.2f} s per picture")
        for param in params[codec]:
            at = [r for r in ours if r["param"] == param]
            print(f"  {codec} {param:>2}: bpp {np.mean([r['bpp'] for r in at]):.4f}  "
                  f"PSNR-Y {np.mean([r['psnr_y'] for r in at]):.3f}  "
                  f"PSNR-RGB {np.mean([r['psnr_rgb'] for r in at if r['psnr_rgb']]):.3f}")
        print(f"\n| {codec} vs | BD-rate PSNR-Y | BD-rate PSNR-RGB | pictures |\n| --- | ---: | ---: | ---: |")
        for ref in references:
            by = {m: bd_rates(rows, ref, codec, m) for m in ("psnr_y", "psnr_rgb")}
            vals = {m: [v for v in d.values() if not math.isnan(v)] for m, d in by.items()}
            print(f"| {ref} | {np.mean(vals['psnr_y']):+.1f}% | {np.mean(vals['psnr_rgb']):+.1f}% | "
                  f"{len(vals['psnr_y'])}/{len(by['psnr_y'])} |")
        print("\nper picture (PSNR-Y):")
        for ref in references:
            for name, v in bd_rates(rows, ref, codec).items():
                print(f"  vs {ref:5s} {name:55s} {v:+7.1f}%")


if __name__ == "__main__":
    main()
