"""The identifier of a weights file: a hash of exactly its integer arrays (normative).

Every neural tool's header field that names weights (``model_id``, ``nn_lf_model_id``) carries this
hash, so two decoders agree on a bitstream only if they hold the same numbers.
"""
from __future__ import annotations

import hashlib

import numpy as np

from bitstream.container import MODEL_ID_BYTES


def model_id(arrays: dict[str, np.ndarray]) -> bytes:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.digest()[:MODEL_ID_BYTES]
