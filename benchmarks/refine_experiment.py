"""Online refinement of the NN coding (docs/RESULTS.md, issues 6 and 25): steps, learning rate, rounding.

    python benchmarks/refine_experiment.py --data ../shared/data/dev --crop 128 --limit 8 --modes nn --out runs/refine --jobs 1
    python benchmarks/refine_experiment.py --max-steps 50 --out runs/refine2 --jobs 1   # without the 200-step variants

NN-only mode at levels 1 3 5 7 and hybrid mode at QP 22 27 32 37 code the same centre crops, without
refinement and with each variant (resumable: OUT/points.jsonl).  Printed and written to
OUT/refine.md / .json: BD-rate (Akima, PSNR-Y and PSNR-RGB, mean over pictures) against the unrefined
coding of the same mode, the mean encode time, and (hybrid) the share of area coded by the NN.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hybridcodec.eval.experiments import Point, bd_rates, centre_crops, label_of, mean_finite, run_points, write_report
from nntools.training.data import list_images

NN_VARIANTS = {
    "unrefined": {},
    "50 steps, straight-through, lr 0.02": {"nn_refine_steps": 50, "nn_refine_rounding": "ste", "nn_refine_lr": (0.02,)},
    "50 steps, default (SGA, lr 0.02)": {"nn_refine_steps": 50},
    "50 steps, default, lr chosen from 0.01/0.03": {"nn_refine_steps": 50, "nn_refine_lr": (0.01, 0.03)},
    "50 steps, default, z tuned too": {"nn_refine_steps": 50, "nn_refine_hyper": True},
    "200 steps, default (SGA, lr 0.02)": {"nn_refine_steps": 200},
}
HYBRID_VARIANTS = {
    "unrefined": {},
    "latents, 10 steps, lr 0.01": {"nn_refine_steps": 10},
}


def table(rows: list[dict], mode: str, variants: dict[str, dict]) -> list[dict]:
    labels = {name: label_of({"codec": mode, "options": tuple(sorted(o.items()))}) for name, o in variants.items()}
    base = labels["unrefined"]
    out = []
    for name, label in labels.items():
        own = [r for r in rows if label_of(r) == label]
        out.append({"mode": mode, "variant": name,
                    "bd_y": mean_finite(bd_rates(rows, base, label, "psnr_y").values()),
                    "bd_rgb": mean_finite(bd_rates(rows, base, label, "psnr_rgb").values()),
                    "encode_s": mean_finite([r["encode_s"] for r in own]),
                    "nn_area": mean_finite([r.get("nn_area", 1.0 if mode == "nn" else 0.0) for r in own])})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--limit", type=int, default=8)
    p.add_argument("--levels", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--out", type=Path, default=Path("runs/refine"))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--long-limit", type=int, default=0,
                   help="variants of 200 steps or more: only the first N pictures (0: all)")
    p.add_argument("--modes", nargs="+", choices=("nn", "hybrid"), default=["nn", "hybrid"])
    p.add_argument("--max-steps", type=int, default=None, help="leave out variants of more steps")
    args = p.parse_args()
    nn_variants, hybrid_variants = ({name: o for name, o in v.items()
                                     if args.max_steps is None or o.get("nn_refine_steps", 0) <= args.max_steps}
                                    for v in (NN_VARIANTS, HYBRID_VARIANTS))
    pictures = centre_crops(list_images(args.data)[:args.limit or None], args.crop, args.out / "pictures")
    points = []
    for mode, variants, params in (("nn", nn_variants, args.levels), ("hybrid", hybrid_variants, args.qp)):
        if mode not in args.modes:
            continue
        for options in variants.values():
            opts = tuple(sorted(options.items()))
            long = options.get("nn_refine_steps", 0) >= 200 and args.long_limit
            points += [Point(str(pic), mode, v, opts) for pic in pictures[:args.long_limit if long else None]
                       for v in params]
    rows = run_points(points, args.out / "points.jsonl", jobs=args.jobs)
    assert all(r["exact"] for r in rows), "decoder output differs from the encoder reconstruction"
    results = [t for mode, variants in (("nn", nn_variants), ("hybrid", hybrid_variants)) if mode in args.modes
               for t in table(rows, mode, variants)]
    lines = [f"{len(pictures)} pictures ({args.crop}x{args.crop} centre crops of {args.data}); NN-only at levels "
             f"{' '.join(map(str, args.levels))}, hybrid at QP {' '.join(map(str, args.qp))}; BD-rate (Akima, mean "
             "over pictures where both curves exist) against the unrefined coding of the same mode" +
             (f"; 200-step variants on the first {args.long_limit} pictures only" if args.long_limit else ""), "",
             "| mode | refinement | BD PSNR-Y | BD PSNR-RGB | encode s | NN area |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for t in results:
        lines.append(f"| {t['mode']} | {t['variant']} | {t['bd_y']:+.2f}% | {t['bd_rgb']:+.2f}% | "
                     f"{t['encode_s']:.1f} | {100 * t['nn_area']:.1f}% |")
    write_report(args.out, "refine", "\n".join(lines), results)


if __name__ == "__main__":
    main()
