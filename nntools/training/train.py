"""Train the neural tool: ``python -m nntools.training.train --data DIR --out RUN_DIR``.

Loss per sample: λ_level · 255² · MSE + bpp, with the level drawn at random per sample, so one model
learns every rate level jointly.  Runs resume from RUN_DIR/checkpoint.pt; each checkpoint is written
atomically, so a run killed at any moment (a session ending) loses at most one interval, and Ctrl-C or
SIGTERM finishes the current step and saves before exiting, so a deliberate stop loses nothing.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import signal
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from nntools.training.data import CropDataset
from nntools.training.model import ModelConfig, NNCodecModel, adapt_context


def rd_loss(model: NNCodecModel, x: torch.Tensor, levels: torch.Tensor) -> tuple[torch.Tensor, dict]:
    out = model(x, levels)
    luma_pixels = x.shape[2] * x.shape[3] * 4
    bits = -(torch.log2(out["y_lik"]).sum(dim=(1, 2, 3)) + torch.log2(out["z_lik"]).sum(dim=(1, 2, 3)))
    bpp = bits / luma_pixels
    mse = ((out["x_hat"] - x) ** 2).mean(dim=(1, 2, 3))
    lambdas = torch.tensor(model.cfg.lambdas, device=x.device)[levels]
    loss = (lambdas * 255 ** 2 * mse + bpp).mean()
    return loss, {"bpp": bpp.detach(), "mse": mse.detach()}


def train_step(model: NNCodecModel, optimizer, x: torch.Tensor, levels: torch.Tensor,
               bf16: bool = False) -> tuple[torch.Tensor, dict]:
    """One optimiser step on the joint RD loss, gradient norm clipped at 1.  ``bf16`` runs the forward
    under bfloat16 autocast; weights, gradients and optimiser state stay float32."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        loss, stats = rd_loss(model, x, levels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss, stats


class WeightAverage:
    """Exponential moving average of the weights, the model that gets exported.

    With a constant learning rate and batches of 8 the raw weights jitter around the optimum from step
    to step; their average is a better model at no training cost.  The decay warms up from 0, so a run
    that starts (or adds averaging) late is not stuck with its first weights."""

    def __init__(self, model: nn.Module, decay: float, state: dict | None = None, count: int = 0):
        self.decay = decay
        self.count = count
        self.params = {k: v.detach().clone() for k, v in (state or model.state_dict()).items()}

    def update(self, model: nn.Module) -> None:
        self.count += 1
        d = min(self.decay, (1 + self.count) / (10 + self.count))
        current = model.state_dict()
        keys = [k for k, v in current.items() if v.is_floating_point()]
        with torch.no_grad():      # one fused update: per-tensor launches would dominate a GPU step
            torch._foreach_lerp_([self.params[k] for k in keys], [current[k] for k in keys], 1 - d)


def save_checkpoint(path: Path, model, optimizer, step: int, elapsed: float,
                    average: WeightAverage | None = None) -> None:
    tmp = path.with_suffix(".tmp")
    state = {"config": model.cfg.to_dict(), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "step": step, "elapsed": elapsed}
    if average is not None:
        state["ema"] = average.params
        state["ema_count"] = average.count
    torch.save(state, tmp)
    os.replace(tmp, path)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m nntools.training.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True,
                   help="folder of training images, or a crop pack (.npz from python -m nntools.training.data)")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt and log.csv")
    p.add_argument("--init", help="start from these weights (a checkpoint or exported .npz, with its context model "
                        "unless --context names one) if no checkpoint")
    p.add_argument("--steps", type=int, default=1_000_000, help="stop after this many total steps")
    p.add_argument("--hours", type=float, default=None, help="stop after this much wall time in this run")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128, help="luma crop size (multiple of 64)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-end", type=float, default=None,
                   help="decay the learning rate linearly to this by the end of --hours (a run bounded by "
                        "wall time, such as one on a lent GPU)")
    p.add_argument("--warmup", type=int, default=0,
                   help="raise the learning rate linearly over this many steps of this run (for a run whose "
                        "optimiser state starts afresh, e.g. from --init)")
    p.add_argument("--ema", type=float, default=0.999,
                   help="decay of the exported weight average (0 turns it off)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--compile", action="store_true",
                   help="run the training forward through torch.compile (11%% less time per step on this CPU, "
                        "benchmarks/bench_train_step.py; the first step compiles for a minute or two)")
    p.add_argument("--bf16", action="store_true",
                   help="mixed precision: convolutions in bfloat16 (CPUs with AVX512-BF16/AMX, or CUDA), the last "
                        "layer of each transform and the loss in float32 (see docs/MODEL_CARD.md for its measured "
                        "speed and effect)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--context", choices=["checkerboard", "four_pass"],
                   help="context model (default checkerboard, or the checkpoint's); naming another one than "
                        "the checkpoint's switches the run to it: the new stages start as copies of the old")
    p.add_argument("--channels", type=int, default=ModelConfig.channels)
    p.add_argument("--latent", type=int, default=ModelConfig.latent)
    p.add_argument("--hyper", type=int, default=ModelConfig.hyper)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--save-every", type=float, default=300.0, help="seconds between checkpoints")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def set_lr(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def scheduled_lr(args: argparse.Namespace, run_steps: int, run_seconds: float) -> float | None:
    """This step's learning rate under --warmup and --lr-end, or None where both are off (the rate set
    at the start stands)."""
    if not args.warmup and args.lr_end is None:
        return None
    lr = args.lr
    if args.lr_end is not None:
        lr += (args.lr_end - args.lr) * min(1.0, run_seconds / (args.hours * 3600))
    if run_steps < args.warmup:
        lr *= (run_steps + 1) / (args.warmup + 1)
    return lr


def new_accumulator(levels: int, device) -> dict:
    return {"loss": 0.0, "n": 0, **{k: torch.zeros(levels, dtype=torch.float64, device=device)
                                     for k in ("bpp", "mse", "cnt")}}


class StopRequest:
    """Set by SIGINT/SIGTERM; the training loop stops at the end of the step and saves.  Raising inside
    the handler instead could interrupt ``optimizer.step()`` halfway and save half-updated weights."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.lr_end is not None and args.hours is None:
        raise SystemExit("--lr-end decays over --hours: give both")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    cfg = ModelConfig(channels=args.channels, latent=args.latent, hyper=args.hyper,
                      context=args.context or "checkerboard")
    step, elapsed = 0, 0.0
    state = None
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu")
        cfg = ModelConfig.from_dict(state["config"])
        if args.context and args.context != cfg.context:     # switch a run's context model, keep the rest
            cfg = dataclasses.replace(cfg, context=args.context)
            state = dict(state, model=adapt_context(state["model"], cfg.context), optimizer=None)
            if "ema" in state:
                state["ema"] = adapt_context(state["ema"], cfg.context)
    init = None
    if state is None and args.init:
        from nntools.training.export import load_float_weights
        init = load_float_weights(args.init)
        if not args.context and "context.2.weight" in init:     # keep the initial model's context
            cfg = dataclasses.replace(cfg, context="four_pass")
    model = NNCodecModel(cfg).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    if state is not None:
        model.load_state_dict(state["model"])
        if state["optimizer"] is not None:
            optimizer.load_state_dict(state["optimizer"])
        step, elapsed = state["step"], state["elapsed"]
    elif init is not None:
        model.load_state_dict(adapt_context(init, cfg.context))
    set_lr(optimizer, args.lr)
    average = None
    if args.ema > 0:
        has_ema = state is not None and "ema" in state
        average = WeightAverage(model, args.ema, state["ema"] if has_ema else None,
                                state.get("ema_count", 0) if has_ema else 0)

    # The compiled wrapper shares the model's parameters; checkpoints keep saving the plain module.
    forward_model = torch.compile(model) if args.compile else model
    data = CropDataset(args.data, crop=args.crop, seed=args.seed + step)
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log_file = open(log_path, "a", newline="")
    log = csv.writer(log_file)
    if new_log:
        log.writerow(["step", "hours", "loss"] + [f"{k}_L{lv}" for lv in range(cfg.levels)
                                                   for k in ("bpp", "psnr")])
    levels_n = cfg.levels
    acc = new_accumulator(levels_n, args.device)
    t_run = time.time()
    t_save = t_run
    bar = tqdm(initial=step, total=args.steps, mininterval=30, desc="train", unit="step")
    stop = StopRequest()
    first_step = step
    while step < args.steps:
        x = data.batch(args.batch, device=args.device)
        levels = torch.randint(0, levels_n, (args.batch,), device=args.device)
        lr = scheduled_lr(args, step - first_step, time.time() - t_run)
        if lr is not None:
            set_lr(optimizer, lr)
        loss, stats = train_step(forward_model, optimizer, x, levels, args.bf16)
        if average is not None:
            average.update(model)
        step += 1
        bar.update(1)
        # Statistics stay on the device until a log line needs them: a per-step .item() would make the
        # CPU wait for every GPU step instead of preparing the next batch meanwhile.
        acc["loss"] += loss.detach()
        acc["n"] += 1
        acc["bpp"].index_add_(0, levels, stats["bpp"].double())
        acc["mse"].index_add_(0, levels, stats["mse"].double())
        acc["cnt"].index_add_(0, levels, torch.ones_like(stats["mse"], dtype=torch.float64))
        now = time.time()
        if step % args.log_every == 0:
            cnt = np.maximum(acc["cnt"].cpu().numpy(), 1)
            psnr = 10 * np.log10(1.0 / np.maximum(acc["mse"].cpu().numpy() / cnt, 1e-12))
            bpp = acc["bpp"].cpu().numpy() / cnt
            mean_loss = float(acc["loss"]) / acc["n"]
            row = [step, round((elapsed + now - t_run) / 3600, 4), round(mean_loss, 5)]
            for i in range(levels_n):
                row += [round(bpp[i], 4), round(psnr[i], 3)]
            log.writerow(row)
            log_file.flush()
            bar.set_postfix(loss=f"{mean_loss:.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2g}")
            acc = new_accumulator(levels_n, args.device)
        done = stop.requested or (args.hours is not None and now - t_run > args.hours * 3600)
        if now - t_save > args.save_every or done or step >= args.steps:
            save_checkpoint(ckpt_path, model, optimizer, step, elapsed + now - t_run, average)
            t_save = now
        if done:
            break
    bar.close()
    log_file.close()


if __name__ == "__main__":
    main()
