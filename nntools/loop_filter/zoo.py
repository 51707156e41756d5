"""Named loop-filter weights files (the codec reaches them through ``nntools.registry``).

Names are stable: adding a model never changes another model's name or id.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from nntools.loop_filter.exact import LoopFilterWeights

WEIGHTS_DIR = Path(__file__).parent / "weights"
MODELS = {"cnnlf-32x8": "cnnlf_32x8.npz"}
DEFAULT_MODEL = "cnnlf-32x8"


def load_weights(name_or_path: str | Path = DEFAULT_MODEL) -> LoopFilterWeights:
    """A packaged model by name, or a weights file by path (loaded once per process)."""
    name = str(name_or_path)
    if name not in MODELS:
        path = Path(name).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no loop-filter model {name!r} (packaged: {', '.join(MODELS)})")
        name = str(path)
    return _load(name)


@lru_cache(maxsize=8)
def _load(name: str) -> LoopFilterWeights:
    path = WEIGHTS_DIR / MODELS[name] if name in MODELS else Path(name)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return LoopFilterWeights.from_arrays(name, arrays)
