"""Train the example scale hyperprior briefly and export it as the plugin's weights file.

    python -m hybridcodec_example_plugin.train ../shared/data/train --minutes 25 --out RUN \\
        --fit ../shared/data/dev --export hybridcodec_example_plugin/weights/example_hyperprior.npz

Random 64x64 crops of the pictures in YCbCr (half of them with 4:2:0 chroma, as the codec feeds it),
a random level per crop, loss λ_level·255²·MSE + bpp (CompressAI's rate-distortion loss, luma weighted
4:1:1 as 4:2:0 samples count), Adam with cosine decay over the wall-time budget, checkpoint and CSV log
in RUN (resumed automatically).  Export: the float parameters, the integer CDF tables (z: the
factorized density of each channel; y: Gaussians of a log-spaced scale table) and a Level_Map fitted
with ``nntools.training.level_map.fit_level_map`` on centre crops of ``--fit``.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from bitstream.cdf_tables import gaussian_cdf_tables, log_scale_table, quantized_cdf_from_pmf
from host.color import rgb_to_planes
from hybridcodec.imageio import read_image
from hybridcodec_example_plugin.model import LAMBDAS, Config, ScaleHyperprior

CROP = 64
Z_SUPPORT = 32
CHANNEL_WEIGHTS = torch.tensor([4.0, 1.0, 1.0]) / 6.0


def load_pictures(folder: Path) -> list[np.ndarray]:
    """Every picture as 4:4:4 YCbCr uint8 (3, H, W)."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".ppm"))
    out = []
    for f in files:
        rgb = read_image(str(f))
        if rgb.ndim == 3 and rgb.dtype == np.uint8 and min(rgb.shape[:2]) >= CROP:
            out.append(np.stack(rgb_to_planes(rgb, 8, 3)).astype(np.uint8))
    return out


def batch(pictures: list[np.ndarray], size: int, rng: np.random.Generator) -> torch.Tensor:
    crops = []
    for _ in range(size):
        p = pictures[rng.integers(len(pictures))]
        y, x = rng.integers(0, p.shape[1] - CROP + 1), rng.integers(0, p.shape[2] - CROP + 1)
        c = p[:, y:y + CROP, x:x + CROP].astype(np.float32) / 255.0
        if rng.random() < 0.5:      # 4:2:0 chroma as the codec gives it: 2x2 means, repeated
            for k in (1, 2):
                m = c[k].reshape(CROP // 2, 2, CROP // 2, 2).mean(axis=(1, 3))
                c[k] = np.repeat(np.repeat(m, 2, 0), 2, 1)
        if rng.random() < 0.5:
            c = c[:, :, ::-1]
        crops.append(np.ascontiguousarray(c))
    return torch.from_numpy(np.stack(crops))


def train(folder: Path, out: Path, minutes: float, batch_size: int = 8, lr: float = 5e-4, seed: int = 0,
          threads: int = 1) -> ScaleHyperprior:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    pictures = load_pictures(folder)
    net = ScaleHyperprior(Config())
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    lambdas = torch.tensor(LAMBDAS)
    step, elapsed = 0, 0.0
    ckpt = out / "checkpoint.pt"
    if ckpt.exists():
        state = torch.load(ckpt)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
    log = (out / "log.csv").open("a", newline="")
    writer = csv.writer(log)
    if step == 0:
        writer.writerow(["step", "minutes", "lr", "loss", "bpp", "psnr"])
    budget, start, last, stats = minutes * 60, time.time() - elapsed, time.time(), []
    while elapsed < budget:
        for g in opt.param_groups:
            g["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * elapsed / budget)))
        x = batch(pictures, batch_size, rng)
        level = torch.from_numpy(rng.integers(0, len(LAMBDAS), batch_size))
        r = net(x, level)
        pixels = CROP * CROP
        bpp = sum(-torch.log2(v).sum(dim=(1, 2, 3)) for v in r["likelihoods"].values()) / pixels
        mse = (((r["x_hat"] - x) ** 2).mean(dim=(2, 3)) * CHANNEL_WEIGHTS).sum(dim=1)
        loss = (lambdas[level] * 255 ** 2 * mse + bpp).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        stats.append((loss.item(), bpp.mean().item(), (10 * torch.log10(1 / mse.mean())).item()))
        elapsed = time.time() - start
        if time.time() - last > 120 or elapsed >= budget:
            m = np.mean(stats, axis=0)
            writer.writerow([step, f"{elapsed / 60:.2f}", f"{opt.param_groups[0]['lr']:.2e}", f"{m[0]:.4f}",
                             f"{m[1]:.4f}", f"{m[2]:.2f}"])
            log.flush()
            print(f"step {step} {elapsed / 60:.1f} min: loss {m[0]:.3f} bpp {m[1]:.3f} psnr {m[2]:.2f}", flush=True)
            stats = []
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed},
                       ckpt)
            last = time.time()
    log.close()
    return net.eval()


def export_arrays(net: ScaleHyperprior) -> dict[str, np.ndarray]:
    """Parameters and the integer CDF tables (computed once, here, in float; stored as integers)."""
    arrays = {f"param.{k}": v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    arrays["config"] = np.frombuffer(json.dumps(net.cfg.to_dict()).encode(), dtype=np.uint8)
    pmfs = net.entropy_bottleneck.pmfs(Z_SUPPORT).double().numpy()
    z = [quantized_cdf_from_pmf(p) for p in pmfs]
    arrays["z_cdfs"] = np.stack(z).astype(np.int32)
    arrays["z_cdf_lengths"] = np.full(len(z), len(z[0]), np.int32)
    arrays["z_offsets"] = np.full(len(z), -Z_SUPPORT, np.int32)
    scales = log_scale_table().astype(np.float32)
    arrays["y_cdfs"], arrays["y_cdf_lengths"], arrays["y_offsets"] = gaussian_cdf_tables(scales.astype(np.float64))
    arrays["scale_table"] = scales
    return arrays


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt, log.csv")
    p.add_argument("--minutes", type=float, default=25.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fit", type=Path, help="pictures to fit the Level_Map on (centre crops)")
    p.add_argument("--fit-crop", type=int, default=256)
    p.add_argument("--export", type=Path, help="weights file to write")
    a = p.parse_args()
    net = train(a.folder, a.out, a.minutes, threads=a.threads)
    if a.export:
        from nntools.training.level_map import fit_level_map
        from hybridcodec_example_plugin.codec import ExampleHyperprior
        arrays = export_arrays(net)
        arrays["level_map"] = np.zeros((2, 52), np.int16)
        fit = a.fit or a.folder
        images = []
        for f in sorted(fit.iterdir())[:8]:
            rgb = read_image(str(f))
            h, w = rgb.shape[:2]
            c = min(a.fit_crop, h, w)
            images.append(rgb[(h - c) // 2:(h - c) // 2 + c, (w - c) // 2:(w - c) // 2 + c])
        table, report = fit_level_map(ExampleHyperprior(arrays), images)
        arrays["level_map"] = table
        a.export.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(a.export, **arrays)
        (a.out / "level_map.json").write_text(json.dumps(report, indent=1))
        print(f"wrote {a.export}: Level_Map 8-bit {' '.join(map(str, table[0]))}")


if __name__ == "__main__":
    main()
