"""The table of host coding tools (issue 26): BD-rate and time of each tool on against off.

Reads ``hybridcodec rd`` output folders (their points.jsonl) of the same pictures and prints, per
data set, one row per comparison ``TEST against REFERENCE`` (curve labels as ``rd`` writes them, e.g.
``host,nn_loop_filter=False`` and ``host,min_cu_size=8,nn_loop_filter=False``): the mean per-picture
Akima BD-rate on PSNR-Y, PSNR-RGB and MS-SSIM (dB), how many pictures gain, and the ratios of the
total encode and decode times (comparable only between runs that shared the machine alike).

    python benchmarks/host_tools_table.py --set dev=runs/rd/dev_F,runs/rd/dev_old \\
        --row "all new tools|host,nn_loop_filter=False|host,context_init=False,...|"
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from hybridcodec.eval.experiments import bd_rates, curves, load_rows, mean_finite

METRICS = (("psnr_y", "PSNR-Y"), ("psnr_rgb", "PSNR-RGB"), ("ms_ssim_db", "MS-SSIM"))


def compare(rows: list[dict], reference: str, test: str) -> dict:
    groups = curves(rows)
    result = {}
    for metric, _ in METRICS:
        per_picture = bd_rates(rows, reference, test, metric)
        result[metric] = mean_finite(per_picture.values())
        if metric == "psnr_y":
            result["wins"] = (sum(1 for v in per_picture.values() if v < 0), len(per_picture))
    names = sorted({n for n, label in groups if label in (reference, test)})
    for what in ("encode_s", "decode_s"):
        ref = sum(r[what] for n in names for r in groups.get((n, reference), []))
        new = sum(r[what] for n in names for r in groups.get((n, test), []))
        result[what] = new / ref if ref else math.nan
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", required=True, metavar="NAME=FOLDER[,FOLDER...]",
                   help="a data set and the rd folders that hold its curves; repeatable")
    p.add_argument("--row", action="append", required=True, metavar="TITLE|TEST|REFERENCE",
                   help="one comparison: TEST curve against REFERENCE curve; repeatable")
    args = p.parse_args()
    sets = {}
    for item in args.set:
        name, _, folders = item.partition("=")
        sets[name] = [r for f in folders.split(",") for r in load_rows(Path(f) / "points.jsonl").values()]
    header = "| tool | set | " + " | ".join(t for _, t in METRICS) + " | pictures gaining (PSNR-Y) | encode time | decode time |"
    print(header)
    print("| --- | --- |" + " ---: |" * (len(METRICS) + 3))
    for row in args.row:
        title, test, reference = row.split("|")
        for name, rows in sets.items():
            labels = {label for _, label in curves(rows)}
            if test not in labels or reference not in labels:
                continue
            r = compare(rows, reference, test)
            bd = " | ".join(f"{r[m]:+.2f}%" for m, _ in METRICS)
            print(f"| {title} | {name} | {bd} | {r['wins'][0]}/{r['wins'][1]} | ×{r['encode_s']:.2f} | "
                  f"×{r['decode_s']:.2f} |")


if __name__ == "__main__":
    main()
