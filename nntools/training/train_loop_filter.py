"""Train the loop filter: ``python -m nntools.training.train_loop_filter FOLDER --cache DIR --out RUN``.

First the training pairs: the folder's pictures coded host-only at random QPs 17-47 (random crops,
cached in ``--cache`` outside the repository, resumable; ``nntools.training.loop_filter_pairs``).  Then the
float network (``nntools.training.loop_filter_model``) learns the correction that brings the deblocked
reconstruction back towards the original: MSE on the restored samples, random crops with flips and
transposes, Adam with cosine decay over a wall-time budget; ``--transforms n`` trains the average over
the decoder's geometric ensemble instead of one network run.  The run folder holds ``checkpoint.pt``
(resumed automatically), ``log.csv``, with ``--snapshots`` a copy of every checkpoint to average
(``nntools.training.average_checkpoints``) and, at the end, the fixed-point export ``weights.npz``.
"""
from __future__ import annotations

import argparse
import csv
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from bitstream.container import NN_LF_NUM_TRANSFORMS
from nntools.loop_filter.exact import (IN_FRAC, LUMA_PHASES, TRANSFORMS, edge_plane, transform_stack,
                                       untransform_stack)
from nntools.training.loop_filter_model import FilterConfig, LoopFilterNet

VALIDATION_EVERY = 40
RELATIVE_FLOOR = (4 / (1 << IN_FRAC)) ** 2        # one 8-bit level, on the 10-bit input scale


def pair_tensors(path: Path, cfg: FilterConfig) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) of one pair at half resolution, int16: the decoder's integer input planes
    (``exact.input_block``) and the correction that restores the original, in 10-bit samples."""
    from nntools.loop_filter.exact import input_block
    with np.load(path) as d:
        rec = [d[f"rec{c}"] for c in range(3)]
        orig = [d[f"orig{c}"] for c in range(3)]
        qp, bd = int(d["qp"]), int(d["bit_depth"])
        h, w = rec[0].shape[0] // 2, rec[0].shape[1] // 2
        edges = edge_plane(d["edge_ver"], d["edge_hor"], h, w) if cfg.edge_plane else None
    x = input_block(rec, 1, bd, qp, cfg, 0, h, 0, w, edges)[0].numpy().astype(np.int16)
    target = input_block(orig, 1, bd, qp, FilterConfig(qp_plane=False), 0, h, 0, w)[0].numpy()
    return x, (target - x[:6]).astype(np.int16)


class PairSet:
    """All pairs in memory as int16 half-resolution stacks; random augmented crops as float batches."""

    def __init__(self, paths: list[Path], cfg: FilterConfig, seed: int = 0, rdoq_weight: float = 1.0,
                 ten_bit_weight: float = 1.0):
        self.cfg, self.paths, self.inputs, self.targets, self.weights = cfg, set(), [], [], []
        self.rng = np.random.default_rng(seed)
        self.rdoq_weight, self.ten_bit_weight = rdoq_weight, ten_bit_weight
        self.extend(paths)

    def extend(self, paths: list[Path]) -> None:
        """Load the pairs not loaded yet (the cache grows while a generator runs beside training)."""
        from tqdm import tqdm
        for p in tqdm([p for p in paths if p not in self.paths], desc="load pairs", leave=False):
            x, t = pair_tensors(p, self.cfg)
            with np.load(p) as d:
                self.weights.append((self.rdoq_weight if bool(d["rdoq"]) else 1.0) *
                                    (self.ten_bit_weight if int(d["bit_depth"]) == 10 else 1.0))
            self.inputs.append(x)
            self.targets.append(t)
            self.paths.add(p)

    def batch(self, size: int, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ts = [], []
        prob = np.asarray(self.weights) / np.sum(self.weights)
        for i in self.rng.choice(len(self.inputs), size=size, p=prob):
            x, t = self.inputs[i], self.targets[i]
            h, w = x.shape[1:]
            y0, x0 = self.rng.integers(h - crop + 1), self.rng.integers(w - crop + 1)
            x, t = x[:, y0:y0 + crop, x0:x0 + crop], t[:, y0:y0 + crop, x0:x0 + crop]
            for axis, perm in ((2, LUMA_PHASES["h"]), (1, LUMA_PHASES["v"])):
                if self.rng.random() < 0.5:
                    x, t = _permute(np.flip(x, axis), perm), _permute(np.flip(t, axis), perm)
            if self.rng.random() < 0.5:
                x, t = (_permute(a.transpose(0, 2, 1), LUMA_PHASES["t"]) for a in (x, t))
            xs.append(x)
            ts.append(t)
        scale = 1.0 / (1 << IN_FRAC)
        return (torch.from_numpy(np.stack(xs).astype(np.float32) * scale),
                torch.from_numpy(np.stack(ts).astype(np.float32) * scale))

    def whole(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        scale = 1.0 / (1 << IN_FRAC)
        return (torch.from_numpy(self.inputs[index][None].astype(np.float32) * scale),
                torch.from_numpy(self.targets[index][None].astype(np.float32) * scale))


def _permute(a: np.ndarray, luma: list[int]) -> np.ndarray:
    return a[luma + list(range(4, a.shape[0]))]


def ensemble_forward(net: LoopFilterNet, x: torch.Tensor, transforms: int = 1) -> torch.Tensor:
    """The float counterpart of the decoder's geometric ensemble (``exact.ensemble_correction``): the
    mean of the network's corrections on the first ``transforms`` of ``TRANSFORMS``, turned back.
    Training through it fits the network to what the decoder runs, not to one orientation."""
    return sum(untransform_stack(net(transform_stack(x, ops)), ops) for ops in TRANSFORMS[:transforms]) / transforms


def validate(net: LoopFilterNet, data: PairSet, transforms: int = 1) -> tuple[float, float]:
    """Mean PSNR gain (dB) of luma and chroma on the held-out pairs, float network (averaged over
    ``transforms`` as the decoder's ensemble).  Pairs without a chroma error (gray pictures: chroma is
    exactly mid-grey) are left out of the chroma mean."""
    return heldout_gains(data, lambda x: ensemble_forward(net, x, transforms))


def heldout_gains(data: PairSet, correct) -> tuple[float, float]:
    """``validate`` for any ``correct(x)``: the correction of a normalised input stack, in its units."""
    luma, chroma = [], []
    with torch.no_grad():
        for i in range(len(data.inputs)):
            x, t = data.whole(i)
            err = (t - correct(x)) ** 2
            for gains, ch in ((luma, slice(0, 4)), (chroma, slice(4, 6))):
                before, after = float((t[:, ch] ** 2).mean()), float(err[:, ch].mean())
                if before > 0:
                    gains.append(10 * math.log10(before / max(after, 1e-12)))
    return float(np.mean(luma)), float(np.mean(chroma)) if chroma else math.nan


def is_validation(path: Path) -> bool:
    """Every 40th pair of each cache folder is held out (stable while the cache grows)."""
    return int(path.stem.split("_")[-1]) % VALIDATION_EVERY == 0


def split_pairs(cache: Path) -> tuple[list[Path], list[Path]]:
    paths = sorted(cache.rglob("pair_*.npz"))
    return [p for p in paths if not is_validation(p)], [p for p in paths if is_validation(p)]


def crop_loss(corr: torch.Tensor, target: torch.Tensor, relative: bool, margin: int = 0) -> torch.Tensor:
    """MSE of the restored crops, ``margin`` samples in from each side; ``relative``: each crop's MSE
    over its MSE before filtering (plus one 8-bit level squared), so that a crop's share of the loss
    follows its PSNR gain, not its error: plain MSE is dominated by the large errors of high QPs.

    A margin of the network's depth keeps the loss off the samples that see the crop's zero padding:
    at the default 48-sample crop and 8 layers those are 56% of the crop, where in a coded picture
    only the border sees padding."""
    if margin:
        corr, target = corr[..., margin:-margin, margin:-margin], target[..., margin:-margin, margin:-margin]
    mse = ((corr - target) ** 2).mean(dim=(1, 2, 3))
    if not relative:
        return mse.mean()
    return (mse / ((target ** 2).mean(dim=(1, 2, 3)) + RELATIVE_FLOOR)).mean()


def train(cache: Path, out: Path, cfg: FilterConfig, minutes: float, batch: int = 16,
          crop: int = 48, lr: float = 5e-4, threads: int = 2, seed: int = 0, relative: bool = False,
          batch_norm: bool = False, rdoq_weight: float = 1.0, ten_bit_weight: float = 1.0, margin: int = 0,
          transforms: int = 1, snapshots: bool = False, progress: bool = True) -> LoopFilterNet:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_paths, val_paths = split_pairs(cache)
    val = PairSet(val_paths, cfg, seed)
    data = PairSet(train_paths, cfg, seed, rdoq_weight, ten_bit_weight)
    net = LoopFilterNet(cfg, batch_norm).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    ckpt = out / "checkpoint.pt"
    step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device)
        if FilterConfig(**state["cfg"]) != cfg:
            raise SystemExit(f"{ckpt} was trained with {state['cfg']}, not {cfg}")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log = log_path.open("a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "minutes", "lr", "train_loss", "val_gain_luma_db", "val_gain_chroma_db",
                         "train_pairs", "val_pairs"])
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=round(minutes * 60), initial=round(elapsed), desc="train", unit="s")
    budget, start, running = minutes * 60, time.time() - elapsed, []
    last_save = time.time()

    def save() -> None:
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                    "cfg": cfg.__dict__, "batch_norm": batch_norm}, ckpt.with_suffix(".tmp"))
        ckpt.with_suffix(".tmp").replace(ckpt)
        if snapshots:                     # for nntools.training.average_checkpoints
            (out / "snapshots").mkdir(exist_ok=True)
            shutil.copyfile(ckpt, out / "snapshots" / f"step{step:07d}.pt")

    while elapsed < budget:
        for g in opt.param_groups:        # cosine decay over the wall-time budget, to lr / 20
            g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * elapsed / budget)))
        x, t = data.batch(batch, crop + 2 * margin)
        x, t = x.to(device), t.to(device)
        loss = crop_loss(ensemble_forward(net, x, transforms), t, relative, margin)
        opt.zero_grad()
        loss.backward()
        opt.step()
        running.append(loss.item())
        step += 1
        now = time.time()
        if bar is not None:
            bar.update(round(now - start) - bar.n)
        elapsed = now - start
        if now - last_save > 300 or elapsed >= budget:
            train_paths, val_paths = split_pairs(cache)
            data.extend(train_paths)
            val.extend(val_paths)
            net.eval()
            gain = validate(net.cpu().folded(), val, transforms)
            net.to(device).train()
            writer.writerow([step, f"{elapsed / 60:.2f}", f"{opt.param_groups[0]['lr']:.2e}",
                             f"{np.mean(running):.4e}", f"{gain[0]:.4f}", f"{gain[1]:.4f}",
                             len(data.inputs), len(val.inputs)])
            log.flush()
            running = []
            save()
            last_save = now
    if bar is not None:
        bar.close()
    log.close()
    return net.cpu().eval().folded()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", help="training pictures")
    p.add_argument("--cache", required=True, help="pair cache folder (outside the repository); subfolders are read too")
    p.add_argument("--out", required=True, help="run folder: checkpoint.pt, log.csv, weights.npz")
    p.add_argument("--pairs", type=int, default=3000, help="pairs to have in the cache before training")
    p.add_argument("--minutes", type=float, default=60.0, help="training wall time")
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--no-qp-plane", action="store_true")
    p.add_argument("--edge-plane", action="store_true")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--crop", type=int, default=48, help="half-resolution side of the crop the loss is measured on")
    p.add_argument("--margin", type=int, default=0,
                   help="samples of context around each crop that the loss leaves out (the network's depth "
                        "keeps the loss clear of the crop's zero padding)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--loss", choices=("mse", "relative"), default="mse",
                   help="relative: each crop's MSE over its MSE before filtering (weights QPs by dB gain)")
    p.add_argument("--rdoq-weight", type=float, default=4.0,
                   help="sampling weight of pairs coded with RDOQ (the default encoder) against 1 for the "
                        "faster pairs without; 4 makes them half of every batch at the default 20%% share")
    p.add_argument("--ten-bit-weight", type=float, default=1.0,
                   help="sampling weight of pairs coded at 10 bits (as 8-bit pictures are with "
                        "--internal-bit-depth 10), multiplying the RDOQ weight")
    p.add_argument("--batch-norm", action="store_true",
                   help="BatchNorm after each hidden convolution while training (folded into them for export)")
    p.add_argument("--transforms", type=int, choices=NN_LF_NUM_TRANSFORMS, default=1,
                   help="train (and validate) the average of the network's corrections over this many flips "
                        "and transposes, the decoder's geometric ensemble (NnLfNumTransforms); n times the "
                        "compute per step")
    p.add_argument("--snapshots", action="store_true",
                   help="also keep every checkpoint as RUN/snapshots/stepNNNNNNN.pt (log.csv gives its minute), "
                        "for averaging with nntools.training.average_checkpoints")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    from nntools.training.loop_filter_pairs import generate
    cache = Path(a.cache)
    paths = sorted(cache.rglob("pair_*.npz"))
    if len(paths) < a.pairs:
        generate(a.folder, cache, a.pairs - len(paths) + len(list(cache.glob("pair_*.npz"))))
        paths = sorted(cache.rglob("pair_*.npz"))
    cfg = FilterConfig(a.channels, a.layers, not a.no_qp_plane, a.edge_plane)
    net = train(cache, Path(a.out), cfg, a.minutes, a.batch, a.crop, a.lr, threads=a.threads, seed=a.seed,
                relative=a.loss == "relative", batch_norm=a.batch_norm, rdoq_weight=a.rdoq_weight,
                ten_bit_weight=a.ten_bit_weight, margin=a.margin, transforms=a.transforms, snapshots=a.snapshots)
    from nntools.training.loop_filter_export import export
    export(net, split_pairs(cache)[1], Path(a.out) / "weights.npz")


if __name__ == "__main__":
    main()
