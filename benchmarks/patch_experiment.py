"""Patch coding against coding the picture in one piece (issues 5 and 25, seed 003).

    python benchmarks/patch_experiment.py --data ../shared/data/dev --out runs/patch_experiment --jobs 2

Rate-distortion: every dev picture (whole, not cropped) is coded in NN-only mode at levels 1 3 5 7 in
one piece and as patches of at most P x P (P = 256) whose analysis sees an overlap of N = 0, 8, 16 and
32 samples of their surroundings (the encoder's overlap: the patches tile the picture, their latents
form one field that the decoder synthesises as a whole; resumable: OUT/points.jsonl).  BD-rate
(Akima, mean over the pictures where it is defined) against one piece on PSNR-Y, PSNR-RGB and
MS-SSIM-RGB (in dB), with the mean number of patches per picture and the coded area (patches' area
over the picture area: the 16-aligned picture, nothing coded twice).

Timing: one dev picture resized (cv2, INTER_AREA down, INTER_CUBIC up) to 832x480, 1280x720 and
1920x1080 (--timing-sizes), coded at --timing-level in one piece and as patches (coded one at a time:
each reads its decoded neighbours) without and with an overlap of 32; encode and decode seconds
(the best of --repeat runs, one coding at a time after the RD points, so nothing else of ours runs beside it).

Printed and written to OUT/patch_experiment.md / .json.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from host.partition import CODED_SIZE_MULTIPLE
from hybridcodec.eval.experiments import Point, bd_rates, label_of, mean_finite, run_points, write_report
from nntools.training.data import list_images
from nntools.patches import PatchGrid

OVERLAPS = (0, 8, 16, 32)
ONE_PIECE = {"memory_budget_mb": 1 << 16}          # never patches: every dev picture in one piece
METRICS = {"psnr_y": "PSNR-Y", "psnr_rgb": "PSNR-RGB", "ms_ssim_db": "MS-SSIM"}
TIMING_SIZES = ("832x480", "1280x720", "1920x1080")


def variants(patch: int) -> dict[str, dict]:
    out = {"one piece": ONE_PIECE}
    out.update({f"patches, N = {n}": {"nn_patch_size": patch, "nn_patch_overlap": n} for n in OVERLAPS})
    return out


def coded_patches(width: int, height: int, options: dict) -> tuple[int, float]:
    """(number of patches, their coded area over the picture area) of a picture; (1, 1) in one piece."""
    if not options.get("nn_patch_size"):
        return 1, 1.0
    coded = [-(-n // CODED_SIZE_MULTIPLE) * CODED_SIZE_MULTIPLE for n in (width, height)]
    grid = PatchGrid(coded[0], coded[1], options["nn_patch_size"])
    area = sum(h * w for h, w in (grid.shape_at(x, y) for x, y in grid.origins()))
    return len(grid.origins()), area / (width * height)


def rd_table(rows: list[dict], named: dict[str, dict]) -> list[dict]:
    labels = {name: label_of({"codec": "nn", "options": tuple(sorted(o.items()))}) for name, o in named.items()}
    base = labels["one piece"]
    table = []
    for name, label in labels.items():
        own = [r for r in rows if label_of(r) == label]
        grids = [coded_patches(r["width"], r["height"], named[name]) for r in own]
        entry = {"variant": name, "patches": mean_finite([g[0] for g in grids]),
                 "coded_area": mean_finite([g[1] for g in grids]), "bpp": mean_finite([r["bpp"] for r in own]),
                 "encode_s": mean_finite([r["encode_s"] for r in own]),
                 "decode_s": mean_finite([r["decode_s"] for r in own])}
        for metric in METRICS:
            values = list(bd_rates(rows, base, label, metric).values())
            entry[f"bd_{metric}"] = mean_finite(values)
            entry[f"bd_{metric}_pictures"] = f"{sum(math.isfinite(v) for v in values)}/{len(values)}"
        table.append(entry)
    return table


def resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2
    shrink = width * height < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def timing_table(picture: Path, sizes: list[str], level: int, patch: int, overlap: int,
                 repeat: int) -> list[dict]:
    from hybridcodec.decoder import decode
    from hybridcodec.encoder import Encoder
    from hybridcodec.imageio import read_image
    methods = {"one piece": (0, overlap), "patches, no overlap": (patch, 0), "patches, with overlap": (patch, overlap)}
    source = read_image(picture)
    Encoder(mode="nn").nn_codec()                          # weights loaded before any timing
    table = []
    for width, height in (map(int, size.split("x")) for size in sizes):
        image = resized(source, width, height)
        for name, (size, n) in methods.items():
            encoder = Encoder(mode="nn", level=level, nn_patch_size=size, nn_patch_overlap=n,
                              **({} if size else ONE_PIECE))
            encode_s, decode_s, exact = math.inf, math.inf, True
            for _ in range(repeat):
                result = encoder.encode(image)
                t0 = time.perf_counter()
                decoded = decode(result.bitstream)
                decode_s = min(decode_s, time.perf_counter() - t0)
                encode_s = min(encode_s, result.stats.seconds)
                exact &= bool(np.array_equal(decoded, result.reconstruction))
            count = coded_patches(width, height, {"nn_patch_size": size, "nn_patch_overlap": n})[0]
            table.append({"resolution": f"{width}x{height}", "method": name, "encode_s": encode_s,
                          "decode_s": decode_s, "patches": count if size else None,
                          "overlap": n if size else None, "bpp": 8 * len(result.bitstream) / (width * height),
                          "exact": exact})
            print(f"{width}x{height} {name}: encode {encode_s:.1f} s, decode {decode_s:.1f} s", flush=True)
    return table


def report(rd: list[dict], timing: list[dict], args: argparse.Namespace, pictures: int) -> str:
    def dash(v, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)
    lines = [f"{pictures} pictures of {args.data} (whole), NN-only at levels {' '.join(map(str, args.levels))}, "
             f"P = {args.patch}; BD-rate against one piece (Akima, mean over the pictures where defined; "
             "negative = fewer bits for the same quality); coded area = patches x patch area / picture area", "",
             "| variant | patches | coded area | mean bpp | BD PSNR-Y | BD PSNR-RGB | BD MS-SSIM | encode s | "
             "decode s |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in rd:
        bd = " | ".join(f"{t[f'bd_{m}']:+.2f}% ({t[f'bd_{m}_pictures']})" if t["variant"] != "one piece" else "-"
                        for m in METRICS)
        lines.append(f"| {t['variant']} | {t['patches']:.1f} | {t['coded_area']:.2f} | {t['bpp']:.4f} | {bd} | "
                     f"{t['encode_s']:.1f} | {t['decode_s']:.1f} |")
    if timing:
        import torch
        lines += ["", f"Coding time at level {args.timing_level} ({args.timing_picture.name} resized; best of "
                  f"{args.repeat}; {torch.get_num_threads()} torch threads on this machine)", "",
                  "| resolution | method | encode s | decode s | patches | N | bpp | exact |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for t in timing:
            lines.append(f"| {t['resolution']} | {t['method']} | {t['encode_s']:.2f} | {t['decode_s']:.2f} | "
                         f"{dash(t['patches'], 'd')} | {dash(t['overlap'], 'd')} | "
                         f"{t['bpp']:.4f} | {'yes' if t['exact'] else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--limit", type=int, default=0, help="first N pictures only (0: all)")
    p.add_argument("--levels", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--patch", type=int, default=256)
    p.add_argument("--out", type=Path, default=Path("runs/patch_experiment"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timing-picture", type=Path, help="picture of the timing table (default: first of --data)")
    p.add_argument("--timing-sizes", nargs="+", default=list(TIMING_SIZES), help="WxH")
    p.add_argument("--timing-level", type=int, default=3)
    p.add_argument("--timing-overlap", type=int, default=32)
    p.add_argument("--repeat", type=int, default=1, help="timing runs per entry (the best is kept)")
    p.add_argument("--no-timing", action="store_true")
    args = p.parse_args()
    pictures = list_images(args.data)[:args.limit or None]
    args.timing_picture = args.timing_picture or pictures[0]
    named = variants(args.patch)
    points = [Point(str(pic), "nn", level, tuple(sorted(options.items())))
              for options in named.values() for pic in pictures for level in args.levels]
    rows = run_points(points, args.out / "points.jsonl", jobs=args.jobs)
    assert all(r["exact"] for r in rows), "decoder output differs from the encoder reconstruction"
    rd = rd_table(rows, named)
    timing = [] if args.no_timing else timing_table(args.timing_picture, args.timing_sizes, args.timing_level,
                                                    args.patch, args.timing_overlap, args.repeat)
    write_report(args.out, "patch_experiment", report(rd, timing, args, len(pictures)), {"rd": rd, "timing": timing})


if __name__ == "__main__":
    main()
