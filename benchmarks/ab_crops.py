"""Quick A/B of host encoder options on six 256x256 dev crops (QP 22, 27, 32, 37; loop filter off).

Each argument is one configuration, ``key=value,key=value`` of EncoderConfig fields (Python literals;
``a+b+`` writes the tuple ``(a, b)``).  Points are cached in ``--cache`` under ``--label|config``, so a
reference measured once (e.g. with another checkout on PYTHONPATH) serves later runs.  Prints the mean
over the crops of the BD-rate (PSNR of the BT.601 luma of the RGB output) against ``--ref`` and the
summed encode CPU time (process time: robust to other jobs sharing the machine), single-process
(search_workers=1 is added).  Session 32's tool decisions:

    PYTHONPATH=<old checkout> python benchmarks/ab_crops.py --label head31 ''
    python benchmarks/ab_crops.py --label dq --ref 'head31|' 'dep_quant=True' 'dep_quant=True,fast_rdoq=()'
"""
from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path

import numpy as np

from hybridcodec import Encoder, EncoderConfig
from hybridcodec.eval.bdrate import bd_rate
from hybridcodec.imageio import read_image

PICTURES = ("usc_4_2_07_peppers", "wiki_043_hovercraft", "plasma_Path", "usc_4_2_03_mandrill",
            "lomiri2004_Kleiber_by_Lukas_Baubkus", "usc_house")
QPS = (22, 27, 32, 37)
CROP = 256


def parse_options(text: str) -> dict:
    options = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        try:
            options[key] = ast.literal_eval(value.replace("+", ","))
        except (ValueError, SyntaxError):
            options[key] = value
    return options


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    weights = np.array([0.299, 0.587, 0.114])
    error = a.astype(np.float64) @ weights - b.astype(np.float64) @ weights
    return float(10 * np.log10(255 ** 2 / np.mean(error ** 2)))


def crops(data: Path) -> list[np.ndarray]:
    out = []
    for name in PICTURES:
        image = read_image(next(data.glob(f"{name}*")))
        h, w = image.shape[:2]
        out.append(image[(h - CROP) // 2:(h + CROP) // 2, (w - CROP) // 2:(w + CROP) // 2])
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+")
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--cache", type=Path, default=Path("runs/ab_crops.json"))
    p.add_argument("--label", default="")
    p.add_argument("--ref", help="cached 'label|config' to measure against (default: the first config)")
    args = p.parse_args()
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    pictures = crops(args.data)
    for text in args.configs:
        key = f"{args.label}|{text}"
        options = {"search_workers": 1, **parse_options(text)}
        points, seconds = cache.get(key, ([], 0.0))
        for image in pictures[len(points):]:
            rates, psnrs = [], []
            for qp in QPS:
                start = time.process_time()
                out = Encoder(EncoderConfig(mode="host", qp=qp, nn_loop_filter=False, **options)).encode(image)
                seconds += time.process_time() - start
                rates.append(len(out.bitstream) * 8)
                psnrs.append(luma_psnr(image, out.reconstruction))
            points.append((rates, psnrs))
        cache[key] = (points, seconds)
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(json.dumps(cache))
        ref = cache[args.ref or f"{args.label}|{args.configs[0]}"][0]
        per_crop = [bd_rate(r[0], r[1], t[0], t[1]) for r, t in zip(ref, points)]
        print(f"{key:60s} BD-Y {np.mean(per_crop):+.3f}%  per crop {' '.join(f'{b:+.2f}' for b in per_crop)}  "
              f"encode CPU {seconds:.1f} s", flush=True)


if __name__ == "__main__":
    main()
