"""Where the NN's bits go: hyper-latent z against latent y, per level, for shipped weights files.

    python benchmarks/latent_bits.py nntools/weights/hyperprior_4p.npz [OTHER.npz ...] --limit 8

Codes the centre crops of the first dev pictures through the encoder's normative entropy-model
recursion and counts the ideal code length of each rANS pass with the file's own integer CDF tables:
pass 0 is z (under the factorised density's tables), the rest are y.  It diagnoses a change in z's
density (as when a run restarted with a fresh one) that a total bpp hides.  "z entropy" is what z would
cost under each channel's own empirical pmf on these crops: the floor for any density, so the gap to
"z bpp" is the density's misfit and the rest is how much information the transforms put into z.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from bitstream.rans import estimate_bits
from hybridcodec.config import EncoderConfig
from hybridcodec.eval.experiments import centre_crop
from hybridcodec.imageio import read_image
from hybridcodec.encoder.source import prepare_source
from nntools.training.data import list_images
from nntools.encoder import code_regions
from nntools.encoder.input import planes_to_input
from nntools.zoo import load_bundle


def empirical_bits(passes: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Code length of the symbols under the empirical pmf of each CDF table index (z: one per channel)."""
    symbols = np.concatenate([np.asarray(s).ravel() for s, _ in passes])
    indexes = np.concatenate([np.asarray(i).ravel() for _, i in passes])
    total = 0.0
    for index in np.unique(indexes):
        _, counts = np.unique(symbols[indexes == index], return_counts=True)
        total -= float((counts * np.log2(counts / counts.sum())).sum())
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights", nargs="+", help="weights files (.npz) or packaged model names")
    p.add_argument("--data", default="../shared/data/dev")
    p.add_argument("--limit", type=int, default=8, help="first N pictures (sorted by name)")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--levels", type=int, nargs="+", default=[0, 3, 7])
    args = p.parse_args()
    torch.set_num_threads(2)
    inputs = []
    for f in list_images(args.data)[:args.limit]:
        src = prepare_source(centre_crop(read_image(f), args.crop), EncoderConfig())
        inputs.append(planes_to_input(src.planes, src.chroma_format, src.bit_depth))
    pixels = sum(x.shape[2] * x.shape[3] * 4 for x in inputs)
    print("| weights | level | z bpp | z entropy | y bpp |\n| --- | ---: | ---: | ---: | ---: |")
    for name in args.weights:
        bundle = load_bundle(name)
        for level in args.levels:
            z_bits = y_bits = 0.0
            z_symbols = []
            for x in inputs:
                passes = code_regions(bundle, x, level)[0].passes
                z_bits += estimate_bits(*passes[0], bundle.tables)
                y_bits += sum(estimate_bits(s, i, bundle.tables) for s, i in passes[1:])
                z_symbols.append(passes[0])
            print(f"| {name} | {level} | {z_bits / pixels:.4f} | {empirical_bits(z_symbols) / pixels:.4f} | "
                  f"{y_bits / pixels:.4f} |")


if __name__ == "__main__":
    main()
