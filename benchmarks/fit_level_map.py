"""Fit Level_Map (QP -> neural-tool level, seed 002 ¶155/¶158) from measured NN operating points.

For every level the neural tool codes the pictures alone (8-bit, and the same pictures as 16-bit input,
which the codec codes at 10 bits).  The RD slope of level L, -dSSE/dbits, is the geometric mean of the
secant slopes to its neighbours; a straight line log(slope) = a + b·L is fitted to them (least
squares), and each QP gets the level whose fitted slope is nearest the host λ(QP) — so host and NN
blocks compete at the same λ.  Prints the table, writes a JSON of the points and a plot of the fit;
``--write`` stores the table in the weights file (which changes the model id).

    python benchmarks/fit_level_map.py --data ../shared/data/dev --crop 384 --out runs/level_map
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from hybridcodec.eval.experiments import centre_crop
from hybridcodec.imageio import read_image
from nntools.hyperprior import HyperpriorCodec
from nntools.training.data import list_images
from nntools.training.level_map import BIT_DEPTHS, fit_level_map
from nntools.training.export import save_arrays
from nntools.zoo import DEFAULT_MODEL, MODELS, WEIGHTS_DIR, load_arrays, load_bundle


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/dev")
    p.add_argument("--crop", type=int, default=384, help="centre crop of each picture (0: whole picture)")
    p.add_argument("--pictures", type=int, default=0, help="use the first N pictures (0: all)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", default="runs/level_map")
    p.add_argument("--write", action="store_true", help="store the fitted table in the model's weights file")
    args = p.parse_args()
    files = list_images(args.data)
    files = files[:args.pictures] if args.pictures else files
    images = [centre_crop(read_image(f), args.crop) for f in files]
    bundle = load_bundle(args.model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table, fits = fit_level_map(HyperpriorCodec(Path(args.model).stem, bundle), images)
    report = {"model_id": bundle.model_id.hex(), "pictures": [f.name for f in files], "crop": args.crop} | fits
    for bit_depth, row in zip(BIT_DEPTHS, table):
        print(f"{bit_depth}-bit Level_Map[QP 0..51]: {' '.join(map(str, row))}")
    (out / "level_map.json").write_text(json.dumps(report, indent=1))
    plot(report, out / "level_map.png")
    if args.write:
        path = WEIGHTS_DIR / MODELS[args.model] if args.model in MODELS else Path(args.model)
        arrays = load_arrays(args.model)
        arrays["level_map"] = table
        print(f"wrote {path}: model id {save_arrays(arrays, path).hex()}")


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from host.encoder.quant import qp_to_lambda
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    qps = np.arange(52)
    for bit_depth, style in zip(BIT_DEPTHS, ("o", "s")):
        r = report[f"{bit_depth}bit"]
        scale = np.log(4.0 ** (bit_depth - 8))        # show both in 8-bit SSE units
        ax1.plot(r["measured_levels"], np.array(r["measured_log_slopes"]) - scale, style, label=f"measured {bit_depth}-bit")
        ax1.plot(range(len(r["fitted_log_slopes"])), np.array(r["fitted_log_slopes"]) - scale, "-",
                 label=f"fit {bit_depth}-bit")
        ax2.step(qps, r["level_map"], where="mid", label=f"{bit_depth}-bit")
    ax1.set_xlabel("NN level")
    ax1.set_ylabel("ln(-dSSE/dbit), 8-bit units")
    for qp in (22, 27, 32, 37):
        ax1.axhline(np.log(qp_to_lambda(qp, 8)), color="grey", lw=0.5)
        ax1.text(0, np.log(qp_to_lambda(qp, 8)), f" λ(QP {qp})", fontsize=7, va="bottom")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("QP")
    ax2.set_ylabel("Level_Map[QP]")
    ax2.legend(fontsize=7)
    fig.suptitle("Level_Map fit: NN RD slope per level vs host λ(QP)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
