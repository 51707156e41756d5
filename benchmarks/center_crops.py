"""Centre crops of a random sample of a picture folder, for a check on pictures outside the dev sets.

    python benchmarks/center_crops.py ../shared/data/train runs/unseen --count 8 --size 512 --seed 34

Pictures smaller than the crop, gray or with alpha are skipped; the sample is a seeded shuffle of the
sorted file names, so the same command gives the same crops.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--seed", type=int, default=34)
    a = p.parse_args()
    files = sorted(a.source.glob("*.png"))
    random.Random(a.seed).shuffle(files)
    a.out.mkdir(parents=True, exist_ok=True)
    kept = 0
    for f in files:
        image = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if image is None or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < a.size:
            continue
        h, w = image.shape[:2]
        y, x = (h - a.size) // 2, (w - a.size) // 2
        cv2.imwrite(str(a.out / f.name), image[y:y + a.size, x:x + a.size])
        kept += 1
        if kept == a.count:
            break
    print(f"{kept} crops in {a.out}")


if __name__ == "__main__":
    main()
