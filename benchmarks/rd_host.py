"""RD of the host codec on a picture folder against JPEG and x265 intra: BD-rate on PSNR-Y and PSNR-RGB.

    python benchmarks/rd_host.py --data ../shared/data/dev --out runs/rd_host

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
    p.add_argument("--out", default="runs/rd_host")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--anchors", nargs="+", default=["jpeg", "hevc"])
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    pictures = [str(x) for x in list_images(args.data)][:args.limit]
    available = available_anchors()
    anchors = [a for a in args.anchors if available[a]]
    for a in set(args.anchors) - set(anchors):
        print(f"anchor {a} unavailable: {available[a].reason}")
    points = [Point(pic, "host", qp) for pic in pictures for qp in args.qp]
    points += [Point(pic, a, v) for pic in pictures for a in anchors for v in default_sweep(a)]
    rows = run_points(points, Path(args.out) / "points.jsonl", jobs=args.jobs)

    host = [r for r in rows if r["codec"] == "host"]
    print(f"\nhost: {len(host)} points, all decoded == reconstruction: {all(r['exact'] for r in host)}")
    print(f"median encode {np.median([r['encode_s'] for r in host]):.1f} s, "
          f"decode {np.median([r['decode_s'] for r in host]):.2f} s per picture")
    print("\n| anchor | BD-rate PSNR-Y | BD-rate PSNR-RGB | pictures |\n| --- | ---: | ---: | ---: |")
    for a in anchors:
        by = {m: bd_rates(rows, a, "host", m) for m in ("psnr_y", "psnr_rgb")}
        vals = {m: [v for v in d.values() if not math.isnan(v)] for m, d in by.items()}
        print(f"| {a} | {np.mean(vals['psnr_y']):+.1f}% | {np.mean(vals['psnr_rgb']):+.1f}% | "
              f"{len(vals['psnr_y'])}/{len(by['psnr_y'])} |")
    print("\nper picture (PSNR-Y):")
    for a in anchors:
        for name, v in bd_rates(rows, a, "host").items():
            print(f"  vs {a:5s} {name:55s} {v:+7.1f}%")


if __name__ == "__main__":
    main()
