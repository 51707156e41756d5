"""Where patch coding's extra bits come from (issue 25): ideal latent bits of one picture coded in one
piece, as patches (each with its own hyper-latent z, contexts stopping at the patch: the design of
container version 5), as rows of patches (one region each, contexts reading the row above:
``nntools.patches``, version 6), and as patches that share the picture's z (contexts stopping at the
patch).  The latents are the same in all
three: the whole picture's analysis, quantised with RDOQ at the level's λ.

    python benchmarks/patch_bits.py --picture ../shared/data/dev/wiki_043_hovercraft.png --out runs/patch_bits

Printed and written to OUT/patch_bits.md / .json.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from bitstream.rans import estimate_bits
from hybridcodec.config import EncoderConfig
from hybridcodec.encoder.source import prepare_source
from hybridcodec.eval.experiments import write_report
from hybridcodec.imageio import read_image
from nntools.codec import hyper_features, z_indexes
from nntools.encoder import analysis, quantise_patch_row, quantise_regions
from nntools.encoder.input import planes_to_input
from nntools.encoder.rdoq import RDOQ_SCALE, Rdoq, synthesis_gains
from nntools.codec import CONTEXT_REACH
from nntools.patches import PatchGrid
from nntools.synthesis import synthesis_margin
from nntools.training.level_map import training_slopes
from nntools.zoo import load_bundle


def z_bits(bundle, z: torch.Tensor) -> float:
    return estimate_bits(z[0].numpy().reshape(-1).astype(np.int32), z_indexes(bundle, (1,) + tuple(z.shape[1:])),
                         bundle.tables)


def measure(bundle, planes: list[np.ndarray], level: int, patch: int) -> dict:
    model = analysis(bundle)
    h, w = planes[0].shape
    rdoq = Rdoq(float(training_slopes(bundle.config.lambdas, 8)[level]), 255, RDOQ_SCALE)
    with torch.no_grad():
        y = model.g_a(planes_to_input(planes, 1, 8).float()).double()
        z = torch.round(model.h_a(y.float()).double())
    gains = synthesis_gains(model.g_s, y, synthesis_margin(bundle))
    one = quantise_regions(bundle, y, z, level, rdoq, gains, False)[0].bits
    shared_hyper = hyper_features(bundle, z, y.shape[2], y.shape[3])
    own, shared, rows = 0.0, z_bits(bundle, z), 0.0
    grid = PatchGrid(w, h, patch)
    last_rows = None
    for py in grid.ys:
        band = y[:, :, py // 16:(py + grid.shape_at(0, py)[0]) // 16]
        region = quantise_patch_row(bundle, band, level, rdoq, gains, last_rows)
        rows += region.bits
        last_rows = region.y_hat[:, :, -CONTEXT_REACH:]
    for px, py in grid.origins():
        ph, pw = grid.shape_at(px, py)
        box = (slice(None), slice(None), slice(py // 16, (py + ph) // 16), slice(px // 16, (px + pw) // 16))
        with torch.no_grad():
            z_patch = torch.round(model.h_a(y[box].float()).double())
        own += quantise_regions(bundle, y[box], z_patch, level, rdoq, gains, False)[0].bits
        shared += quantise_regions(bundle, y[box], z_patch, level, rdoq, gains, False,
                                   shared_hyper[box])[0].bits - z_bits(bundle, z_patch)
    return {"level": level, "one_piece_bits": one, "own_z_bits": own, "rows_bits": rows,
            "shared_z_bits": shared}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--picture", type=Path, default=Path("../shared/data/dev/wiki_043_hovercraft.png"))
    p.add_argument("--levels", type=int, nargs="+", default=[1, 3, 5, 7])
    p.add_argument("--patch", type=int, default=256)
    p.add_argument("--out", type=Path, default=Path("runs/patch_bits"))
    args = p.parse_args()
    bundle = load_bundle()
    planes = prepare_source(read_image(args.picture), EncoderConfig()).planes
    rows = [measure(bundle, planes, level, args.patch) for level in args.levels]
    lines = [f"{args.picture.name}, P = {args.patch}: ideal latent bits (z and y) against one piece", "",
             "| level | one piece | patches, own z (v5) | rows of patches (v6) | patches, shared z |",
             "| ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        one = r["one_piece_bits"]
        cells = " | ".join(f"{r[k]:.0f} ({100 * (r[k] / one - 1):+.2f}%)"
                           for k in ("own_z_bits", "rows_bits", "shared_z_bits"))
        lines.append(f"| {r['level']} | {one:.0f} | {cells} |")
    write_report(args.out, "patch_bits", "\n".join(lines), rows)


if __name__ == "__main__":
    main()
