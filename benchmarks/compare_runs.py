"""BD-rate between curves of several ``hybridcodec rd`` output folders, per picture.

    python benchmarks/compare_runs.py runs/rd_screen15 runs/rd_screen15_cu4 --reference host \\
        --test host,min_cu_size=4

An encoder option changes the curve's label (``host,min_cu_size=4``), so two runs of the same pictures with
and without it can be compared here without coding anything again. Prints, per picture and as the mean,
the Akima BD-rate on PSNR-Y and PSNR-RGB of ``--test`` against ``--reference`` and the ratio of their
total encode times (only comparable when both runs had the machine to themselves alike).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from hybridcodec.eval.experiments import bd_rates, curves, load_rows, mean_finite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+", help="rd output folders (their points.jsonl)")
    parser.add_argument("--reference", required=True, help="curve label, e.g. host")
    parser.add_argument("--test", required=True, help="curve label, e.g. host,min_cu_size=4")
    args = parser.parse_args()

    rows = [row for folder in args.folders for row in load_rows(folder / "points.jsonl").values()]
    groups = curves(rows)
    labels = sorted({label for _, label in groups})
    missing = [label for label in (args.reference, args.test) if label not in labels]
    if missing:
        raise SystemExit(f"no curve labelled {missing[0]!r}; the folders hold {', '.join(labels)}")
    y = bd_rates(rows, args.reference, args.test, "psnr_y")
    rgb = bd_rates(rows, args.reference, args.test, "psnr_rgb")

    def encode_seconds(name: str, label: str) -> float:
        return sum(r["encode_s"] for r in groups[(name, label)])

    print(f"{args.test} against {args.reference} (Akima BD-rate; negative = fewer bits)\n")
    print("| picture | PSNR-Y | PSNR-RGB | encode time ratio |\n| --- | ---: | ---: | ---: |")
    ratios = []
    for name in y:
        ratios.append(encode_seconds(name, args.test) / encode_seconds(name, args.reference))
        print(f"| {name} | {y[name]:+.2f}% | {rgb[name]:+.2f}% | {ratios[-1]:.2f} |")
    print(f"| mean of {len(y)} | {mean_finite(y.values()):+.2f}% | {mean_finite(rgb.values()):+.2f}% | "
          f"{sum(ratios) / len(ratios) if ratios else math.nan:.2f} |")


if __name__ == "__main__":
    main()
