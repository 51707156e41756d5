"""Seconds per training step of the shipped architecture, eager against ``torch.compile``.

Run: ``python benchmarks/bench_train_step.py [--threads 2] [--batch 8] [--crop 128] [--steps 40]``.
Times ``nntools.training.train.train_step`` (forward, RD loss, backward, clipping, Adam) on random data with the
four-stage context model, after warm-up steps (which include the compilation), for five variants:
eager, eager with channels-last tensors, ``torch.compile`` (``python -m nntools.training.train --compile``), and
bfloat16 mixed precision eager and compiled (``--bf16``, ``--compile --bf16``).  Stop other CPU work
(a running training: ``kill -STOP``/``kill -CONT``) first.
"""
from __future__ import annotations

import argparse
import time

import torch

from nntools.training.model import ModelConfig, NNCodecModel
from nntools.training.train import train_step


def seconds_per_step(variant: str, args: argparse.Namespace) -> float:
    torch.manual_seed(0)
    model = NNCodecModel(ModelConfig(context="four_pass"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-6)
    x = torch.rand(args.batch, 6, args.crop // 2, args.crop // 2) - 0.5
    levels = torch.randint(0, model.cfg.levels, (args.batch,))
    forward_model = model
    if variant == "channels-last":
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    elif variant.startswith("compile"):
        forward_model = torch.compile(model)
    bf16 = variant.endswith("bf16")
    for _ in range(3):
        train_step(forward_model, optimizer, x, levels, bf16)
    start = time.perf_counter()
    for _ in range(args.steps):
        train_step(forward_model, optimizer, x, levels, bf16)
    return (time.perf_counter() - start) / args.steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--steps", type=int, default=40)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"batch {args.batch} of {args.crop}x{args.crop} luma crops, {args.threads} threads")
    print("| variant | s/step | steps/s |\n| --- | ---: | ---: |")
    for variant in ("eager", "channels-last", "compile", "eager+bf16", "compile+bf16"):
        s = seconds_per_step(variant, args)
        print(f"| {variant} | {s:.3f} | {1 / s:.2f} |", flush=True)


if __name__ == "__main__":
    main()
