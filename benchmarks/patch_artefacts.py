"""Border artefacts of patch coding, with and without the analysis overlap (issues 5 and 25, seed 003).

    python benchmarks/patch_artefacts.py --picture ../shared/data/dev/usc_4_2_07_peppers.png --level 1 \
        --png docs/patch_artefacts.png --out runs/patch_artefacts

One picture is coded in NN-only mode at a low level in one piece and as P x P patches whose analysis
sees an overlap of 0 and of N samples around each patch (the decoder synthesises all patches' latents
as one field either way).  The figure shows the same crop around the corner of the first four patches
(where two patch borders cross), magnified with square pixels, for each coding; the second row shows
each coding's luma error there.  Printed and written to OUT/patch_artefacts.md / .json: rate, PSNR-Y of
the picture, and the seam step: the mean absolute luma difference across the patch borders (columns
and rows at multiples of P), in excess of the original's across the same lines; about 0 where there
is no seam.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hybridcodec.encoder import Encoder
from hybridcodec.imageio import read_image
from hybridcodec.eval.experiments import write_report
from hybridcodec.eval.metrics import psnr_y, rgb_to_luma


def seam_step(original: np.ndarray, decoded: np.ndarray, patch: int) -> float:
    """Mean |luma step| across the lines x = kP and y = kP of the decoded picture minus the original's."""
    def steps(picture: np.ndarray) -> np.ndarray:
        y = rgb_to_luma(picture)
        h, w = y.shape
        cols = [np.abs(y[:, x] - y[:, x - 1]) for x in range(patch, w, patch)]
        rows = [np.abs(y[r] - y[r - 1]) for r in range(patch, h, patch)]
        return np.concatenate(cols + rows)
    return float(np.mean(steps(decoded)) - np.mean(steps(original)))


def code(image: np.ndarray, level: int, patch: int, overlap: int) -> dict:
    result = Encoder(mode="nn", level=level, nn_patch_size=patch, nn_patch_overlap=overlap).encode(image)
    h, w = image.shape[:2]
    size = len(result.bitstream)
    return {"decoded": result.reconstruction, "bytes": size, "bpp": 8 * size / (h * w),
            "psnr_y": psnr_y(image, result.reconstruction)}


def figure(image: np.ndarray, codings: dict[str, dict], box: tuple[int, int, int], patch: int, path: Path) -> None:
    """Top row: the original and each coding's crop; bottom row: where the crop is, and each coding's
    luma error (|decoded - original|, brighter = larger) over the same crop."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    x0, y0, size = box
    crop = (slice(y0, y0 + size), slice(x0, x0 + size))
    columns = 1 + len(codings)
    fig = Figure(figsize=(3.1 * columns, 6.6), layout="constrained")
    axes = fig.subplots(2, columns)
    errors = {name: np.abs(rgb_to_luma(c["decoded"][crop]) - rgb_to_luma(image[crop])) for name, c in codings.items()}
    vmax = max(float(np.percentile(e, 99.5)) for e in errors.values())
    border = patch - 0.5 - np.array([x0, y0])                       # patch borders in crop coordinates
    axes[0, 0].imshow(image[crop], interpolation="nearest")
    axes[0, 0].set_title("original\n(dashed: patch borders)", fontsize=8)
    axes[0, 0].axvline(border[0], color="white", linestyle="--", linewidth=0.7)
    axes[0, 0].axhline(border[1], color="white", linestyle="--", linewidth=0.7)
    axes[1, 0].imshow(image, interpolation="antialiased")
    axes[1, 0].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), size, size, fill=False, edgecolor="red", linewidth=1.2))
    axes[1, 0].set_title(f"whole picture, crop {size}x{size} at ({x0},{y0})", fontsize=8)
    for k, (name, c) in enumerate(codings.items(), start=1):
        crop_psnr = psnr_y(image[crop], c["decoded"][crop])
        axes[0, k].imshow(c["decoded"][crop], interpolation="nearest")
        axes[0, k].set_title(f"{name}\n{c['bpp']:.3f} bpp, PSNR-Y {c['psnr_y']:.2f} dB (crop {crop_psnr:.2f})",
                             fontsize=8)
        axes[1, k].imshow(errors[name], cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
        axes[1, k].set_title(f"luma error, seam step {c['seam_step']:+.2f}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("NN-only coding as patches: border artefacts without overlap, none with overlap", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--picture", type=Path, default=Path("../shared/data/dev/usc_4_2_07_peppers.png"))
    p.add_argument("--level", type=int, default=1)
    p.add_argument("--patch", type=int, default=256)
    p.add_argument("--overlap", type=int, default=32)
    p.add_argument("--crop", type=int, default=96, help="side of the crop centred on the patch corner")
    p.add_argument("--png", type=Path, default=Path("docs/patch_artefacts.png"))
    p.add_argument("--out", type=Path, default=Path("runs/patch_artefacts"))
    args = p.parse_args()
    image = read_image(args.picture)
    h, w = image.shape[:2]
    if min(h, w) <= args.patch:
        raise SystemExit(f"{args.picture} ({w}x{h}) has no patch corner: both sides must exceed {args.patch}")
    settings = {"one piece": (0, 0), "patches, overlap N = 0": (args.patch, 0),
                f"patches, overlap N = {args.overlap}": (args.patch, args.overlap)}
    codings = {name: code(image, args.level, patch, overlap) for name, (patch, overlap) in settings.items()}
    for c in codings.values():
        c["seam_step"] = seam_step(image, c["decoded"], args.patch)
    box = (args.patch - args.crop // 2, args.patch - args.crop // 2, args.crop)
    figure(image, codings, box, args.patch, args.png)
    rows = [{"coding": name, "patch": patch, "overlap": overlap, "bytes": codings[name]["bytes"],
             "bpp": codings[name]["bpp"], "psnr_y": codings[name]["psnr_y"],
             "seam_step": codings[name]["seam_step"]} for name, (patch, overlap) in settings.items()]
    lines = [f"{args.picture.name} ({w}x{h}), NN-only at level {args.level}, P = {args.patch}; seam step: mean "
             f"|luma step| across x, y = k·{args.patch} in excess of the original's (8-bit units); figure: {args.png}",
             "", "| coding | bytes | bpp | PSNR-Y | seam step |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['coding']} | {r['bytes']} | {r['bpp']:.4f} | {r['psnr_y']:.2f} | {r['seam_step']:+.2f} |"
              for r in rows]
    write_report(args.out, "patch_artefacts", "\n".join(lines), rows)


if __name__ == "__main__":
    main()
