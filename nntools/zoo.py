"""Named pretrained models, their weights files, and the model identifier carried by every NN bitstream.

A weights file (.npz, no pickle) holds only integers: the fixed-point parameters of every network
(``nntools.exact``), the quantised per-level steps, and the integer CDF tables of both latents.  The
model identifier is a hash of exactly these arrays, so two decoders agree on a bitstream only if they
hold the same numbers.  Names are stable: adding a model never changes another model's name or id.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from bitstream.cdf_tables import MAX_PRECISION, gaussian_cdf_tables, quantized_cdf_from_pmf
from nntools.exact import ACT_FRAC, GAMMA_FRAC, BETA_FRAC, quantized_parameters
from nntools.level_map import training_level_map
from nntools.model import ModelConfig, NNCodecModel
from nntools.weights_id import MODEL_ID_BYTES, model_id  # noqa: F401  (re-exported)

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODELS = {"hyperprior-4p": "hyperprior_4p.npz"}
DEFAULT_MODEL = "hyperprior-4p"

DELTA_FRAC = 14
LOG_SCALE_MIN = -2.25            # scale-table index i covers log σ in [MIN + i·STEP, MIN + (i+1)·STEP)
LOG_SCALE_STEP = 0.125          # a power of two, so index derivation is exact
NUM_SCALES = 64


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


def load_arrays(name_or_path: str | Path) -> dict[str, np.ndarray]:
    path = WEIGHTS_DIR / MODELS[name_or_path] if name_or_path in MODELS else Path(name_or_path)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def config_of(arrays: dict[str, np.ndarray]) -> ModelConfig:
    return ModelConfig.from_dict(json.loads(arrays["config"].tobytes().decode()))


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


_REGISTERED: list[str] = []     # weights files outside the package that this process may decode with


def register_weights(path: str | Path) -> None:
    """Make a weights file (an experiment's export) available to the decoder in this process, next
    to the packaged models; the bitstream's model id still picks which one decodes it."""
    path = str(Path(path).resolve())
    if not Path(path).is_file():
        raise FileNotFoundError(f"no weights file {path}")
    if path not in _REGISTERED:
        _REGISTERED.append(path)


def load_bundle(name_or_path: str = DEFAULT_MODEL):
    """The decoder-side model; a weights file loaded by path (an encoder's ``nn_model``) is registered,
    so the same process can decode what it encoded."""
    if name_or_path not in MODELS:
        register_weights(name_or_path)
        name_or_path = str(Path(name_or_path).resolve())
    return _load_bundle(name_or_path)


@lru_cache(maxsize=4)
def _load_bundle(name_or_path: str):
    from nntools.codec import NNBundle
    arrays = load_arrays(name_or_path)
    return NNBundle.from_arrays(name_or_path, arrays, model_id(arrays))


def available_models() -> list[str]:
    """Packaged model names, then registered weights files."""
    return [name for name, f in MODELS.items() if (WEIGHTS_DIR / f).exists()] + _REGISTERED

