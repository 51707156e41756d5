"""RDOQ of the NN latent (nntools.encoder.rdoq) against plain rounding, at several distortion scales.

    python benchmarks/nn_rdoq.py --data ../shared/data/train --every 10 --crop 256 --out runs/nn_rdoq

Codes centre crops in NN-only mode at every level with each ``nn_rdoq_scale`` (0 is plain rounding),
decodes every bitstream and checks it against the encoder's reconstruction (resumable:
OUT/points.jsonl).  Prints and writes OUT/nn_rdoq.md / .json: BD-rate (Akima, mean over pictures) of
each scale against plain rounding on PSNR-Y, PSNR-RGB and MS-SSIM, mean bpp at the lowest and highest
level, and the mean encode time.  The default scale is chosen on training pictures (``--data
../shared/data/train``), so that the dev set measures it afterwards.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hybridcodec.eval.experiments import Point, bd_rates, centre_crops, label_of, mean_finite, run_points, write_report
from nntools.training.data import list_images


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/train"))
    p.add_argument("--every", type=int, default=10, help="every Nth picture (sorted by name), from the 3rd")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--levels", type=int, nargs="+", default=list(range(8)))
    p.add_argument("--scales", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0, 8.0])
    p.add_argument("--out", type=Path, default=Path("runs/nn_rdoq"))
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args()
    sources = list_images(args.data)[2::args.every]
    pictures = centre_crops(sources, args.crop, args.out / "pictures")
    points, labels = [], {}
    for scale in args.scales:
        opts = (("nn_rdoq_scale", scale),)
        points += [Point(str(picture), "nn", level, opts) for picture in pictures for level in args.levels]
        labels[scale] = label_of({"codec": "nn", "options": opts})
    rows = run_points(points, args.out / "points.jsonl", jobs=args.jobs)
    assert all(r["exact"] for r in rows), "decoder output differs from the encoder reconstruction"
    plain = labels[0.0] if 0.0 in labels else labels[args.scales[0]]
    lo, hi = min(args.levels), max(args.levels)
    table = []
    for scale, label in labels.items():
        own = [r for r in rows if label_of(r) == label]
        table.append({
            "scale": scale,
            **{f"bd_{m}": mean_finite(bd_rates(rows, plain, label, m).values())
               for m in ("psnr_y", "psnr_rgb", "ms_ssim_db")},
            "bpp_lowest": mean_finite([r["bpp"] for r in own if r["param"] == lo]),
            "bpp_highest": mean_finite([r["bpp"] for r in own if r["param"] == hi]),
            "encode_s": mean_finite([r["encode_s"] for r in own]),
        })
    lines = [f"{len(pictures)} pictures ({args.crop}x{args.crop} centre crops of every {args.every}th picture of "
             f"{args.data}), NN-only at levels {' '.join(map(str, args.levels))}; BD-rate against plain rounding "
             "(Akima, mean over pictures)", "",
             f"| nn_rdoq_scale | BD PSNR-Y | BD PSNR-RGB | BD MS-SSIM | bpp level {lo} | bpp level {hi} | encode s |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t in table:
        lines.append(f"| {t['scale']:g} | {t['bd_psnr_y']:+.2f}% | {t['bd_psnr_rgb']:+.2f}% | "
                     f"{t['bd_ms_ssim_db']:+.2f}% | {t['bpp_lowest']:.4f} | {t['bpp_highest']:.4f} | "
                     f"{t['encode_s']:.2f} |")
    write_report(args.out, "nn_rdoq", "\n".join(lines), table)


if __name__ == "__main__":
    main()
