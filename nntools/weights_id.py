"""The identifier of a weights file: a hash of exactly its integer arrays (normative).

Every neural tool's header field that names weights (``model_id``, ``nn_lf_model_id``) carries this
hash, so two decoders agree on a bitstream only if they hold the same numbers.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, TypeVar

import numpy as np

from bitstream.container import MODEL_ID_BYTES  # noqa: F401  (the header field's size, re-exported)
from bitstream.errors import ModelMismatchError

T = TypeVar("T")



def model_id(arrays: dict[str, np.ndarray]) -> bytes:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.digest()[:MODEL_ID_BYTES]


def installed_with_id(model_id_: bytes, names: Iterable[str], load: Callable[[str], T], what: str) -> T:
    """The installed model (``load(name)`` has ``.model_id``) that a bitstream names; otherwise a clear
    refusal rather than decoding with other weights."""
    names = list(names)
    for name in names:
        model = load(name)
        if model.model_id == model_id_:
            return model
    raise ModelMismatchError(f"the bitstream needs {what} with model id {model_id_.hex()}, which are not "
                             f"installed (installed: {', '.join(names) or 'none'})")
