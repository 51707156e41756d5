"""Training curve of the neural tool: loss, and bpp / PSNR per level against steps, from a run's log.csv.

    python benchmarks/plot_training.py /path/to/run/log.csv --out docs/training_curve.png \
        --mark "13918:four-stage context"
"""
from __future__ import annotations

import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log")
    p.add_argument("--out", default="docs/training_curve.png")
    p.add_argument("--smooth", type=int, default=5, help="moving-average window in log rows")
    p.add_argument("--mark", action="append", default=[], metavar="STEP:LABEL",
                   help="draw a vertical line at STEP (a change of the run), labelled (repeatable)")
    args = p.parse_args()
    with open(args.log) as f:
        rows = list(csv.DictReader(f))
    steps = np.array([int(r["step"]) for r in rows])
    levels = sorted({int(k.split("_L")[1]) for k in rows[0] if k.startswith("bpp_L")})
    k = np.ones(args.smooth) / args.smooth

    def smooth(v):
        return np.convolve(v, k, mode="valid") if len(v) >= args.smooth else v

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    loss = np.array([float(r["loss"]) for r in rows])
    axes[0].plot(steps[len(steps) - len(smooth(loss)):], smooth(loss))
    axes[0].set(title="training loss (λ·255²·MSE + bpp)", xlabel="step", yscale="log")
    cmap = plt.get_cmap("viridis")
    for i, lv in enumerate(levels):
        bpp = np.array([float(r[f"bpp_L{lv}"]) for r in rows])
        psnr = np.array([float(r[f"psnr_L{lv}"]) for r in rows])
        color = cmap(i / max(len(levels) - 1, 1))
        s = steps[len(steps) - len(smooth(bpp)):]
        axes[1].plot(s, smooth(psnr), color=color, label=f"level {lv}")
        axes[2].plot(s, smooth(bpp), color=color)
    axes[1].set(title="PSNR on training crops (dB)", xlabel="step")
    axes[2].set(title="bits per pixel on training crops", xlabel="step")
    for mark in args.mark:
        step, _, label = mark.partition(":")
        for ax in axes:
            ax.axvline(int(step), color="grey", linestyle=":", linewidth=1)
        axes[0].annotate(label, (int(step), 1), xycoords=("data", "axes fraction"), rotation=90,
                         va="top", ha="right", fontsize=7, color="grey")
    axes[1].legend(fontsize=7, ncol=2)
    hours = float(rows[-1]["hours"])
    fig.suptitle(f"{args.log}: {steps[-1]} steps, {hours:.2f} h of training")
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
