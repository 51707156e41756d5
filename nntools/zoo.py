"""Named pretrained models of the neural tool and their weights files, as the decoder loads them (normative).

A weights file (.npz, no pickle) holds only integers: the fixed-point parameters of every network
(``nntools.exact``), the quantised per-level steps, and the integer CDF tables of both latents.  The
model identifier is a hash of exactly these arrays, so two decoders agree on a bitstream only if they
hold the same numbers.  Names are stable: adding a model never changes another model's name or id.
Writing weights files (from a trained float model) is training code: ``nntools.training.export``.
The codec reaches these models through the plugin registry (``nntools.registry``, ``nntools.hyperprior``).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from nntools.architecture import ModelConfig
from nntools.weights_id import model_id

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODELS = {"hyperprior-4p": "hyperprior_4p.npz"}
DEFAULT_MODEL = "hyperprior-4p"

DELTA_FRAC = 14
LOG_SCALE_MIN = -2.25            # scale-table index i covers log σ in [MIN + i·STEP, MIN + (i+1)·STEP)
LOG_SCALE_STEP = 0.125          # a power of two, so index derivation is exact
NUM_SCALES = 64


def load_arrays(name_or_path: str | Path) -> dict[str, np.ndarray]:
    path = WEIGHTS_DIR / MODELS[name_or_path] if name_or_path in MODELS else Path(name_or_path)
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def config_of(arrays: dict[str, np.ndarray]) -> ModelConfig:
    return ModelConfig.from_dict(json.loads(arrays["config"].tobytes().decode()))


def load_bundle(name_or_path: str | Path = DEFAULT_MODEL):
    """The decoder-side model of a packaged name or a weights file (loaded once per process)."""
    name = str(name_or_path)
    return _load_bundle(name if name in MODELS else str(Path(name).resolve()))


@lru_cache(maxsize=4)
def _load_bundle(name_or_path: str):
    from nntools.codec import NNBundle
    arrays = load_arrays(name_or_path)
    return NNBundle.from_arrays(name_or_path, arrays, model_id(arrays))
