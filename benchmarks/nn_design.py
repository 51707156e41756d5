"""The neural tool's measured design choices (docs/RESULTS.md, issue 3).

    python benchmarks/nn_design.py context --checkpoint /work/nn_runs/main/checkpoint.pt --out runs/nn_context
    python benchmarks/nn_design.py nonlinearity --out runs/nn_nonlinearity
    python benchmarks/nn_design.py average --out runs/nn_average

``context``: the two-pass checkerboard (¶105) against the four-stage context (¶106) on the same trained
transforms.  Both start from the checkpoint (the four-stage model's three context convolutions start as
copies of the checkerboard's one); both then train their entropy model alone (context convolutions and
entropy-parameter network, rate loss, transforms frozen) for the same number of steps on the same
batches; both are exported and code the same dev crops through the real codec at every level.  Printed:
BD-rate of four-stage against checkerboard, encode and decode seconds.

``nonlinearity``: GDN/IGDN against ReLU in the analysis and synthesis transforms, both trained from the
same initialisation on the same batches for the same number of steps.  The ReLU model has no fixed-point
decoder, so both are evaluated in float: rounded latents, the rate their entropy model assigns, PSNR-Y of
the reconstruction on the dev crops.  Also timed: the transforms of a 768×512 picture, and a training step.

``average``: a checkpoint's moving average of the weights against its last weights, both evaluated in
float as above (the export writes the average).

Results go to OUT/result.json and OUT/result.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bitstream.errors import InputError
from host.color import CHROMA_420, rgb_to_planes
from hybridcodec.eval.bdrate import bd_rate
from hybridcodec.eval.experiments import Point, bd_rates, centre_crops, label_of, mean_finite, run_points
from hybridcodec.imageio import read_image
from nntools.training.data import CropDataset, list_images
from nntools.training.layers import GDN
from nntools.training.model import ModelConfig, NNCodecModel, adapt_context
from nntools.encoder.input import planes_to_input
from nntools.training.train import train_step
from nntools.training.export import save_weights
from nntools.zoo import DEFAULT_MODEL, load_arrays


def load_checkpoint(path: Path, context: str) -> NNCodecModel:
    state = torch.load(path, map_location="cpu")
    weights = state.get("ema", state["model"])
    cfg = dataclasses.replace(ModelConfig.from_dict(state["config"]), context=context)
    model = NNCodecModel(cfg)
    model.load_state_dict(adapt_context(weights, context))
    return model


def train_entropy_model(model: NNCodecModel, data: CropDataset, steps: int, batch: int, lr: float) -> None:
    """Rate-only training of the context and entropy-parameter networks on frozen transforms."""
    params = list(model.context.parameters()) + list(model.entropy_parameters.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        x = data.batch(batch)
        levels = torch.randint(0, model.cfg.levels, (batch,))
        with torch.no_grad():
            y = model.g_a(x)
            hyper = model.h_s(torch.round(model.h_a(y)))
        _, y_lik = model.latent_stages(y, hyper, model.delta(levels))
        loss = -torch.log2(y_lik).sum() / (batch * x.shape[2] * x.shape[3] * 4)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def context_experiment(args) -> tuple[dict, list[str]]:
    torch.manual_seed(args.seed)
    level_map = load_arrays(DEFAULT_MODEL)["level_map"]
    pictures = centre_crops(list_images(args.data)[:args.limit], args.crop, args.out / "pictures")
    points, labels, trained = [], {}, {}
    for context in ("checkerboard", "four_pass"):
        weights = args.out / f"{context}.npz"
        if not weights.exists():
            model = load_checkpoint(args.checkpoint, context)
            data = CropDataset(args.train, crop=128, seed=args.seed)
            torch.manual_seed(args.seed)
            t0 = time.perf_counter()
            train_entropy_model(model, data, args.steps, args.batch, args.lr)
            trained[context] = time.perf_counter() - t0
            save_weights(model, weights, level_map)
        options = (("nn_model", str(weights)),)
        points += [Point(str(p), "nn", level, options) for p in pictures for level in range(8)]
        labels[context] = label_of({"codec": "nn", "options": options})
    rows = run_points(points, args.out / "points.jsonl", jobs=args.jobs)
    result = {"steps": args.steps, "pictures": len(pictures), "crop": args.crop, "train_s": trained}
    for metric in ("psnr_y", "psnr_rgb"):
        result[f"bd_{metric}"] = mean_finite(bd_rates(rows, labels["checkerboard"], labels["four_pass"],
                                                      metric).values())
    for context, label in labels.items():
        own = [r for r in rows if label_of(r) == label]
        result[context] = {"encode_s": mean_finite([r["encode_s"] for r in own]),
                           "decode_s": mean_finite([r["decode_s"] for r in own]),
                           "bpp": mean_finite([r["bpp"] for r in own]),
                           "psnr_y": mean_finite([r["psnr_y"] for r in own]),
                           "exact": all(r["exact"] for r in own)}
    lines = [f"Four-stage against checkerboard context, {args.steps} entropy-model steps each, "
             f"{len(pictures)} dev crops of {args.crop}², levels 0–7, real codec:", "",
             "| context | BD-rate PSNR-Y | BD-rate PSNR-RGB | encode s | decode s | exact |", "|---|---|---|---|---|---|"]
    for context in labels:
        r = result[context]
        bd = ("—", "—") if context == "checkerboard" else (f"{result['bd_psnr_y']:+.2f}%",
                                                            f"{result['bd_psnr_rgb']:+.2f}%")
        lines.append(f"| {context} | {bd[0]} | {bd[1]} | {r['encode_s']:.2f} | {r['decode_s']:.2f} | {r['exact']} |")
    return result, lines


def relu_variant(model: NNCodecModel) -> NNCodecModel:
    """The same network with every GDN/IGDN of the transforms replaced by a ReLU."""
    for seq in (model.g_a, model.g_s):
        for i, layer in enumerate(seq):
            if isinstance(layer, GDN):
                seq[i] = nn.ReLU()
    return model


def dev_inputs(pictures: list[Path]) -> list[torch.Tensor]:
    return [planes_to_input(rgb_to_planes(read_image(p), 8, CHROMA_420), CHROMA_420, 8)[0].float().unsqueeze(0)
            for p in pictures]


def float_rd(model: NNCodecModel, inputs: list[torch.Tensor], level: int) -> tuple[float, float]:
    """(bpp, PSNR-Y) over the inputs with rounded latents: the operating point a decoder would see,
    computed in float."""
    bits = pixels = sse = 0.0
    for x in inputs:
        x_hat, picture_bits = model.rounded_forward(x, torch.tensor([level]))
        bits += float(picture_bits.sum())
        pixels += x.shape[2] * x.shape[3] * 4
        sse += float(((x_hat[:, :4] - x[:, :4]) * 255).pow(2).sum())
    return bits / pixels, 10 * np.log10(255 ** 2 / (sse / pixels))


def nonlinearity_experiment(args) -> tuple[dict, list[str]]:
    pictures = centre_crops(list_images(args.data)[:args.limit], args.crop, args.out / "pictures")
    inputs = dev_inputs(pictures)
    result, curves = {"steps": args.steps, "crop": args.train_crop, "pictures": len(pictures)}, {}
    picture = torch.zeros(1, 6, 256, 384)
    for name in ("gdn", "relu"):
        torch.manual_seed(args.seed)
        model = NNCodecModel(ModelConfig())
        if name == "relu":
            model = relu_variant(model)
        data = CropDataset(args.train, crop=args.train_crop, seed=args.seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step(model, optimizer, data.batch(args.batch),
                       torch.randint(0, model.cfg.levels, (args.batch,)))
        step_s = (time.perf_counter() - t0) / max(args.steps, 1)
        with torch.no_grad():
            model.g_s(model.g_a(picture))
            t0 = time.perf_counter()
            for _ in range(3):
                model.g_s(model.g_a(picture))
            transform_s = (time.perf_counter() - t0) / 3
        curves[name] = [float_rd(model, inputs, level) for level in range(model.cfg.levels)]
        result[name] = {"train_step_s": step_s, "transforms_768x512_s": transform_s, "curve": curves[name]}
    g, r = np.array(curves["gdn"]), np.array(curves["relu"])
    try:
        result["bd_relu_vs_gdn"] = bd_rate(g[:, 0], g[:, 1], r[:, 0], r[:, 1])
    except InputError:          # curves that do not overlap (a run far too short)
        result["bd_relu_vs_gdn"] = float("nan")
    lines = [f"ReLU against GDN transforms, {args.steps} steps from the same initialisation "
             f"(batch {args.batch}, {args.train_crop}² crops), float evaluation on {len(pictures)} dev crops "
             f"of {args.crop}²:", "",
             "| transforms | BD-rate PSNR-Y | s per training step | s for g_a+g_s of 768×512 |", "|---|---|---|---|"]
    for name in ("gdn", "relu"):
        bd = "—" if name == "gdn" else f"{result['bd_relu_vs_gdn']:+.1f}%"
        lines.append(f"| {name} | {bd} | {result[name]['train_step_s']:.3f} | "
                     f"{result[name]['transforms_768x512_s']:.3f} |")
    lines += ["", "| level | GDN bpp | GDN PSNR-Y | ReLU bpp | ReLU PSNR-Y |", "|---|---|---|---|---|"]
    lines += [f"| {lv} | {g[lv, 0]:.3f} | {g[lv, 1]:.2f} | {r[lv, 0]:.3f} | {r[lv, 1]:.2f} |" for lv in range(len(g))]
    return result, lines


def average_experiment(args) -> tuple[dict, list[str]]:
    state = torch.load(args.checkpoint, map_location="cpu")
    inputs = dev_inputs(centre_crops(list_images(args.data)[:args.limit], args.crop, args.out / "pictures"))
    curves = {}
    for key in ("model", "ema"):
        model = NNCodecModel(ModelConfig.from_dict(state["config"]))
        model.load_state_dict(state[key])
        curves[key] = np.array([float_rd(model, inputs, level) for level in range(model.cfg.levels)])
    raw, ema = curves["model"], curves["ema"]
    result = {"step": state["step"], "ema_count": state["ema_count"], "pictures": len(inputs),
              "bd_average_vs_last": bd_rate(raw[:, 0], raw[:, 1], ema[:, 0], ema[:, 1]),
              "curves": {k: v.tolist() for k, v in curves.items()}}
    lines = [f"Weight average ({state['ema_count']} steps averaged) against the last weights at step "
             f"{state['step']}, float evaluation on {len(inputs)} dev crops of {args.crop}²: BD-rate PSNR-Y "
             f"{result['bd_average_vs_last']:+.1f}%", "", "| level | last bpp | last PSNR-Y | average bpp | "
             "average PSNR-Y |", "|---|---|---|---|---|"]
    lines += [f"| {lv} | {raw[lv, 0]:.3f} | {raw[lv, 1]:.2f} | {ema[lv, 0]:.3f} | {ema[lv, 1]:.2f} |"
              for lv in range(len(raw))]
    return result, lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=["context", "nonlinearity", "average"])
    p.add_argument("--checkpoint", type=Path, default=Path("/work/nn_runs/fp/checkpoint.pt"))
    p.add_argument("--train", type=Path, default=Path("../shared/data/train"))
    p.add_argument("--data", type=Path, default=Path("../shared/data/dev"))
    p.add_argument("--limit", type=int, default=8, help="dev pictures")
    p.add_argument("--crop", type=int, default=256, help="dev crop size")
    p.add_argument("--train-crop", type=int, default=64, help="training crop (nonlinearity)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run = {"context": context_experiment, "nonlinearity": nonlinearity_experiment,
           "average": average_experiment}[args.experiment]
    result, lines = run(args)
    (args.out / "result.json").write_text(json.dumps(result, indent=1))
    (args.out / "result.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
