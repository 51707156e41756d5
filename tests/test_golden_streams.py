"""Golden streams: the bitstreams of small pictures in every mode are byte-identical to hashes computed
before the decoder refactor (issue 27), so that a change of format is always a decision, never an
accident.  After a deliberate format change, regenerate with ``python tests/test_golden_streams.py``.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import hybridcodec
from hybridcodec.imageio import read_image
from pictures import synthetic_gray, synthetic_rgb, synthetic_screen

SAMPLE = Path(hybridcodec.__file__).with_name("data") / "sample.png"
GOLDEN = Path(__file__).with_name("golden_streams.json")

# name -> (picture, encoder options, steer NN candidates to win)
CASES = {
    "host-420-q22": (lambda: synthetic_rgb(64, 96), dict(mode="host", qp=22), False),
    "host-420-q37": (lambda: synthetic_rgb(72, 88, seed=1), dict(mode="host", qp=37), False),
    "host-444-ctu64-nxn": (lambda: synthetic_rgb(40, 56, seed=2),
                           dict(mode="host", qp=30, chroma_format="444", ctu_size=64, min_cu_size=4), False),
    "host-400-10bit": (lambda: synthetic_gray(48, 40, seed=3, dtype=np.uint16), dict(mode="host", qp=27), False),
    "host-tu64-no-lf": (lambda: synthetic_rgb(128, 128, seed=4),
                        dict(mode="host", qp=32, max_tu_size=64, nn_loop_filter=False), False),
    "host-sample-lf": (lambda: read_image(SAMPLE), dict(mode="host", qp=37), False),    # loop filter on
    "host-screen-ts": (lambda: synthetic_screen(48, 64), dict(mode="host", qp=32), False),
    "host-old-tools": (lambda: synthetic_rgb(64, 96), dict(mode="host", qp=27, context_init=False, min_cu_size=8,
                                                       cclm=False, max_ts_size=0, sign_hiding=False), False),
    "hybrid-sample-lf": (lambda: read_image(SAMPLE)[:128, :192], dict(qp=32), True),
    "nn-level2": (lambda: synthetic_rgb(24, 40), dict(mode="nn", level=2), False),
    "nn-patches": (lambda: synthetic_rgb(88, 80), dict(mode="nn", level=2, nn_patch_size=64),
                   False),
    "hybrid-default": (lambda: synthetic_rgb(64, 64, seed=5), dict(qp=30), False),
    "hybrid-nn-cus": (lambda: synthetic_rgb(64, 64), dict(qp=30), True),
    "hybrid-nn-cus-tools": (lambda: synthetic_rgb(64, 128, seed=6),
                            dict(qp=34, nn_cbcr_separate=True, nn_residual=True, nn_dc=True, nn_delta_level=True,
                                 nn_flag_coding="one"), True),
}


def stream_hash(name: str) -> str:
    make, options, _ = CASES[name]
    return hashlib.sha256(hybridcodec.encode(make(), **options)).hexdigest()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bitstream_unchanged(name, force_nn):
    if CASES[name][2]:
        force_nn()
    expected = json.loads(GOLDEN.read_text())[name]
    assert stream_hash(name) == expected, f"{name}: the bitstream changed"


if __name__ == "__main__":       # regenerate after a deliberate format change
    import pytest as _pytest
    from steering import steer_nn
    hashes = {}
    for name in sorted(CASES):
        with _pytest.MonkeyPatch.context() as mp:
            if CASES[name][2]:
                steer_nn(mp)
            hashes[name] = stream_hash(name)
    GOLDEN.write_text(json.dumps(hashes, indent=1) + "\n")
    print(f"{len(hashes)} hashes written to {GOLDEN}", file=sys.stderr)
