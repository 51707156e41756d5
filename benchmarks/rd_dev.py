"""The RD figures of docs/RESULTS.md: ``hybridcodec rd`` on the dev set with every available anchor.

    python benchmarks/rd_dev.py                                   # host vs JPEG, WebP, JPEG 2000, x265, AV1
    python benchmarks/rd_dev.py --modes host,nn --out runs/rd_dev  # any other option of `hybridcodec rd`

It is exactly ``hybridcodec rd ../shared/data/dev --qp 22 27 32 37 --anchors jpeg,webp,jpeg2000,x265,av1
--reference x265 --out runs/rd_dev`` plus the options given; the results folder (resumable) holds
``summary.md`` (the BD-rate tables pasted into docs/RESULTS.md) and ``rd.png``.
"""
from __future__ import annotations

import argparse
import sys

from hybridcodec.eval.rd import main as rd_main

DEFAULTS = ["--qp", "22", "27", "32", "37", "--anchors", "jpeg,webp,jpeg2000,x265,av1", "--reference", "x265"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/dev", help="picture folder")
    p.add_argument("--out", default="runs/rd_dev", help="results folder")
    args, rest = p.parse_known_args()
    return rd_main([args.data, "--out", args.out, *DEFAULTS, *rest])


if __name__ == "__main__":
    sys.exit(main())
