"""The table of host coding tools (issue 26): BD-rate and time of each tool on against off.

Each ``hybridcodec rd`` output folder holds one configuration of the host (its one ``host...`` curve,
whatever its label) and possibly anchors.  A row compares the host curve of TEST against that of
REFERENCE (or against an anchor, ``x265``, taken from whichever folder has it) over the pictures both
cover: the mean per-picture Akima BD-rate on PSNR-Y, PSNR-RGB and MS-SSIM (dB), how many pictures
gain on PSNR-Y, and the ratios of the total encode and decode times over those pictures (comparable
only between runs that shared the machine alike).

    python benchmarks/host_tools_table.py runs/rd \\
        --row "CCLM|dev_final|dev_F" --row "all tools vs x265|dev_final|x265"
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from hybridcodec.eval.experiments import bd_rates, canonical_codec, curves, load_rows, mean_finite

METRICS = (("psnr_y", "PSNR-Y"), ("psnr_rgb", "PSNR-RGB"), ("ms_ssim_db", "MS-SSIM"))


def host_rows(root: Path, folders: str, as_label: str) -> list[dict]:
    """The host curve of rd folders ``A`` or ``A+B`` (one configuration, split over runs), relabelled."""
    rows: dict[tuple, dict] = {}
    for f in folders.split("+"):
        for r in load_rows(root / f / "points.jsonl").values():
            if r["codec"] == "host":
                rows.setdefault((r["name"], r["param"]), r)       # a point coded twice counts once
    return [dict(r, codec=as_label, options=()) for r in rows.values()]


def anchor_rows(root: Path, anchor: str, names: set[str]) -> list[dict]:
    """The anchor's points of the pictures ``names``, from the folder that has most of them."""
    codec = canonical_codec(anchor)
    best: list[dict] = []
    for points in sorted(root.glob("*/points.jsonl")):
        rows = [r for r in load_rows(points).values() if r["codec"] == codec and r["name"] in names]
        if len({r["name"] for r in rows}) > len({r["name"] for r in best}):
            best = rows
    if not best:
        raise SystemExit(f"no folder under {root} has {anchor} points of these pictures")
    return [dict(r, codec=anchor, options=()) for r in best]


def compare(rows: list[dict], reference: str, test: str) -> dict:
    result = {}
    for metric, _ in METRICS:
        per_picture = bd_rates(rows, reference, test, metric)
        result[metric] = mean_finite(per_picture.values())
        if metric == "psnr_y":
            result["wins"] = (sum(1 for v in per_picture.values() if v < 0), len(per_picture))
            names = set(per_picture)
    groups = curves(rows)
    for what in ("encode_s", "decode_s"):
        totals = [sum(r[what] for n in names for r in groups.get((n, label), [])) for label in (reference, test)]
        result[what] = totals[1] / totals[0] if totals[0] else math.nan
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path, help="folder whose sub-folders are rd runs")
    p.add_argument("--row", action="append", required=True, metavar="TITLE|TEST|REFERENCE",
                   help="TEST and REFERENCE: rd sub-folders (A+B: one configuration split over two runs), "
                        "or an anchor name (x265) as REFERENCE; repeatable")
    args = p.parse_args()
    print("| tool | test | reference | " + " | ".join(t for _, t in METRICS) +
          " | pictures gaining (PSNR-Y) | encode time | decode time |")
    print("| --- | --- | --- |" + " ---: |" * (len(METRICS) + 3))
    for row in args.row:
        title, test, reference = row.split("|")
        rows = host_rows(args.root, test, "test")
        names = {r["name"] for r in rows}
        is_anchor = not (args.root / reference.split("+")[0]).is_dir()
        rows += anchor_rows(args.root, reference, names) if is_anchor else host_rows(args.root, reference, reference)
        r = compare(rows, reference, "test")
        bd = " | ".join(f"{r[m]:+.2f}%" for m, _ in METRICS)
        times = "n/a | n/a" if is_anchor else f"×{r['encode_s']:.2f} | ×{r['decode_s']:.2f}"
        print(f"| {title} | {test} | {reference} | {bd} | {r['wins'][0]}/{r['wins'][1]} | {times} |")


if __name__ == "__main__":
    main()
