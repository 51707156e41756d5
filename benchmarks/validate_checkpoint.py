"""Held-out RD loss of training checkpoints: a quick, deterministic check between full RD runs.

Run: ``python benchmarks/validate_checkpoint.py RUN/checkpoint.pt [MORE.pt ...] [--data ../shared/data/dev]``.
Codes a fixed set of crops of the evaluation pictures (same crops for every checkpoint) at every level,
in float32 with hard rounding of both latents (the rate is that of the actual symbols, no training
noise), and prints per checkpoint and weight set (raw, and the exported average where the checkpoint has
one) the loss λ·255²·MSE + bpp averaged over levels, and bpp / PSNR per level.  Use it to compare
training variants at equal wall time; the BD-rate of benchmarks/rd_dev.py remains the figure that counts.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from nntools.training.data import CropDataset
from nntools.training.model import ModelConfig, NNCodecModel


def held_out_rd(model: NNCodecModel, crops: torch.Tensor) -> tuple[float, np.ndarray, np.ndarray]:
    """(mean loss over levels, bpp per level, PSNR per level) with rounded latents."""
    luma_pixels = crops.shape[2] * crops.shape[3] * 4
    bpp, psnr, losses = [], [], []
    for level in range(model.cfg.levels):
        x_hat, bits = model.rounded_forward(crops, torch.full((crops.shape[0],), level))
        mse = float(((x_hat - crops) ** 2).mean())
        b = float((bits / luma_pixels).mean())
        bpp.append(b)
        psnr.append(10 * np.log10(1.0 / mse))
        losses.append(model.cfg.lambdas[level] * 255 ** 2 * mse + b)
    return float(np.mean(losses)), np.array(bpp), np.array(psnr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--data", default="../shared/data/dev")
    p.add_argument("--crops", type=int, default=48)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    crops = CropDataset(args.data, crop=args.size, seed=0).batch(args.crops)
    print(f"{args.crops} crops of {args.size}x{args.size} from {args.data}")
    for path in args.checkpoints:
        state = torch.load(path, map_location="cpu")
        model = NNCodecModel(ModelConfig.from_dict(state["config"])).eval()
        for name in ("model", "ema"):
            if name not in state:
                continue
            model.load_state_dict(state[name])
            loss, bpp, psnr = held_out_rd(model, crops)
            print(f"{path} step {state['step']} {name}: loss {loss:.4f}  "
                  + " ".join(f"L{i} {b:.3f}/{q:.2f}" for i, (b, q) in enumerate(zip(bpp, psnr))), flush=True)


if __name__ == "__main__":
    main()
