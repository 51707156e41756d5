"""Weights files from float models: the integer parameters, steps and CDF tables a decoder loads.

Command line: export a training checkpoint as a shipped weights file and print its model id.

    python -m nntools.training.export /work/nn_runs/fp/checkpoint.pt nntools/weights/hyperprior_4p.npz

The Level_Map in the file is the one derived from the training λ; refit it on measured operating
points with ``benchmarks/fit_level_map.py --write`` (which changes the model id again).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bitstream.cdf_tables import MAX_PRECISION, gaussian_cdf_tables, quantized_cdf_from_pmf
from nntools.exact import ACT_FRAC, BETA_FRAC, GAMMA_FRAC, WEIGHT_FRAC, WEIGHT_LIMIT
from nntools.training.layers import GDN
from nntools.training.level_map import training_level_map
from nntools.training.model import ModelConfig, NNCodecModel
from nntools.weights_id import model_id
from nntools.zoo import LOG_SCALE_MIN, LOG_SCALE_STEP, NUM_SCALES, DELTA_FRAC, config_of, load_arrays


def weight_frac(w: np.ndarray) -> int:
    """Finest grid (≤ 2^-WEIGHT_FRAC) on which the tensor's integers fit in int16."""
    peak = float(np.abs(w).max(initial=0.0))
    if peak >= WEIGHT_LIMIT:
        raise ValueError(f"weight magnitude {peak:.3f} exceeds the fixed-point limit {WEIGHT_LIMIT}")
    frac = WEIGHT_FRAC
    while peak * 2 ** frac >= 32767:
        frac -= 1
    return frac




def quantized_parameters(module: nn.Module) -> dict[str, np.ndarray]:
    """Integer parameters of a float module, as stored in the weights file (``name`` -> int array).

    Per convolution: ``.w`` (int16 mantissas), ``.wf`` (their grid exponent), ``.b`` (int64 on the
    product grid 2^-(wf + ACT_FRAC)).  Per GDN: ``.gamma`` (grid 2^-GAMMA_FRAC), ``.beta`` (grid 2^-BETA_FRAC).
    """
    out: dict[str, np.ndarray] = {}
    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            w = layer.weight.detach().double().numpy()
            frac = weight_frac(w)
            out[f"{name}.w"] = np.round(w * 2.0 ** frac).astype(np.int16)
            out[f"{name}.wf"] = np.asarray(frac, dtype=np.int64)
            b = layer.bias.detach().double().numpy()
            out[f"{name}.b"] = np.round(b * 2.0 ** (frac + ACT_FRAC)).astype(np.int64)
        elif isinstance(layer, GDN):
            out[f"{name}.gamma"] = np.round(layer.gamma().detach().double().numpy() * 2.0 ** GAMMA_FRAC
                                            ).astype(np.int32)
            out[f"{name}.beta"] = np.round(layer.beta().detach().double().numpy() * 2.0 ** BETA_FRAC
                                           ).astype(np.int64)
    return out


def scale_table() -> np.ndarray:
    return np.exp(LOG_SCALE_MIN + (np.arange(NUM_SCALES) + 0.5) * LOG_SCALE_STEP)


def _pad_tables(cdfs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(c) for c in cdfs)
    out = np.full((len(cdfs), width), cdfs[0][-1], dtype=np.int32)
    for i, c in enumerate(cdfs):
        out[i, :len(c)] = c
    return out, np.asarray([len(c) for c in cdfs], dtype=np.int32)


def export_arrays(model: NNCodecModel) -> dict[str, np.ndarray]:
    """Everything a decoder needs, as integers."""
    arrays = quantized_parameters(model)
    log_delta = model.log_delta.detach().double().numpy()
    log_delta_q = np.round(log_delta * 2.0 ** ACT_FRAC)
    arrays["log_delta"] = log_delta_q.astype(np.int32)
    arrays["delta"] = np.round(np.exp(log_delta_q / 2.0 ** ACT_FRAC) * 2.0 ** DELTA_FRAC).astype(np.int32)
    y_cdfs, y_lengths, y_offsets = gaussian_cdf_tables(scale_table())
    pmfs, z_offsets = model.z_density.pmf_tables()
    z_cdfs, z_lengths = _pad_tables([quantized_cdf_from_pmf(p) for p in pmfs])
    width = max(y_cdfs.shape[1], z_cdfs.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])), mode="edge")  # noqa: E731
    arrays["cdfs"] = np.concatenate([pad(y_cdfs), pad(z_cdfs)]).astype(np.int32)
    arrays["cdf_lengths"] = np.concatenate([y_lengths, z_lengths]).astype(np.int32)
    arrays["cdf_offsets"] = np.concatenate([y_offsets, z_offsets]).astype(np.int32)
    arrays["config"] = np.frombuffer(json.dumps(model.cfg.to_dict(), sort_keys=True).encode(), dtype=np.uint8)
    arrays["level_map"] = training_level_map(model.cfg.lambdas)
    return arrays


def save_weights(model: NNCodecModel, path: str | Path, level_map: np.ndarray | None = None) -> bytes:
    arrays = export_arrays(model)
    if level_map is not None:
        arrays["level_map"] = np.asarray(level_map, dtype=np.int16)
    return save_arrays(arrays, path)


def save_arrays(arrays: dict[str, np.ndarray], path: str | Path) -> bytes:
    np.savez_compressed(path, **arrays)
    return model_id(arrays)




def _inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    return x + torch.log(-torch.expm1(-x))


def float_model(arrays: dict[str, np.ndarray]) -> NNCodecModel:
    """A float NNCodecModel with the stored (quantised) parameters: the encoder's analysis transforms,
    and the starting point when training resumes from shipped weights.  The factorised density of z is
    not stored (only its CDF tables are): it keeps its initialisation (see ``load_float_weights``)."""
    model = NNCodecModel(config_of(arrays))
    with torch.no_grad():
        for name, layer in model.named_modules():
            if f"{name}.w" in arrays:
                frac = int(arrays[f"{name}.wf"])
                layer.weight.copy_(torch.from_numpy(arrays[f"{name}.w"].astype(np.float32)) / 2.0 ** frac)
                layer.bias.copy_(torch.from_numpy(arrays[f"{name}.b"].astype(np.float64)
                                                  / 2.0 ** (frac + ACT_FRAC)).float())
            elif f"{name}.gamma" in arrays:
                gamma = torch.from_numpy(arrays[f"{name}.gamma"] / 2.0 ** GAMMA_FRAC).float()
                beta = torch.from_numpy(arrays[f"{name}.beta"] / 2.0 ** BETA_FRAC).float()
                layer.gamma_raw.copy_(_inverse_softplus(gamma.clamp(min=1e-6)))
                layer.beta_raw.copy_(_inverse_softplus((beta - 1e-4).clamp(min=1e-6)))
        model.log_delta.copy_(torch.from_numpy(arrays["log_delta"] / 2.0 ** ACT_FRAC).float())
    return model


def load_float_weights(path: str | Path) -> dict:
    """State dict to initialise training from a checkpoint (.pt) or an exported weights file (.npz)."""
    if str(path).endswith(".pt"):
        return torch.load(path, map_location="cpu")["model"]
    arrays = load_arrays(path)
    model = float_model(arrays)
    model.z_density.fit_pmfs(*z_pmfs(arrays))
    return model.state_dict()


def z_pmfs(arrays: dict[str, np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The pmfs of z's stored CDF tables (escape symbol dropped) and their supports' lowest values."""
    rows = range(NUM_SCALES, len(arrays["cdf_lengths"]))
    pmfs = [np.diff(arrays["cdfs"][r, :arrays["cdf_lengths"][r]].astype(np.float64))[:-1] / 2.0 ** MAX_PRECISION
            for r in rows]
    return pmfs, arrays["cdf_offsets"][NUM_SCALES:]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("weights")
    p.add_argument("--raw", action="store_true",
                   help="export the last training weights rather than their moving average")
    args = p.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu")
    model = NNCodecModel(ModelConfig.from_dict(state["config"]))
    use_ema = "ema" in state and not args.raw
    model.load_state_dict(state["ema"] if use_ema else state["model"])
    kind = f"average of {state['ema_count']} steps" if use_ema else "raw weights"
    model_id = save_weights(model, args.weights).hex()
    print(f"step {state['step']}, {state['elapsed'] / 3600:.2f} h, {kind}: model id {model_id}")


if __name__ == "__main__":
    main()
