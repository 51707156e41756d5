"""Named loop-filter weights and their lookup by the ``nn_lf_model_id`` a bitstream carries.

Names are stable: adding a model never changes another model's name or id.  Weights files outside the
package (an experiment's export) are registered by path for the process that uses them.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from nntools.loop_filter.exact import LoopFilterWeights
from nntools.weights_id import installed_with_id

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODELS = {"cnnlf-32x8": "cnnlf_32x8.npz"}
DEFAULT_MODEL = "cnnlf-32x8"
_REGISTERED: list[str] = []


def load_weights(name_or_path: str | Path = DEFAULT_MODEL) -> LoopFilterWeights:
    """A packaged model by name, or a weights file by path (registered for decoding in this process)."""
    name = str(name_or_path)
    if name not in MODELS:
        path = Path(name).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no loop-filter model {name!r} (packaged: {', '.join(MODELS)})")
        name = str(path)
        if name not in _REGISTERED:
            _REGISTERED.append(name)
    return _load(name)


@lru_cache(maxsize=8)
def _load(name: str) -> LoopFilterWeights:
    path = WEIGHTS_DIR / MODELS[name] if name in MODELS else Path(name)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return LoopFilterWeights.from_arrays(name, arrays)


def available_models() -> list[str]:
    return [n for n, f in MODELS.items() if (WEIGHTS_DIR / f).exists()] + _REGISTERED


def weights_for(model_id: bytes) -> LoopFilterWeights:
    """The installed loop filter whose identifier the bitstream carries; otherwise a clear refusal."""
    return installed_with_id(model_id, available_models(), _load, "loop-filter weights")
