"""The example plugin (examples/plugins/, a CompressAI-style scale hyperprior) through the codec.

CI does not pip-install it: the test puts its folder on the path and registers its entry-point
function in code, which is what the entry point does once it is installed.
"""
import warnings
from pathlib import Path

import numpy as np
import pytest

import hybridcodec
from bitstream.container import read_container
from hybridcodec.encoder import Encoder
from nntools import registry
from nntools.conformance import check
from pictures import synthetic_rgb

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "hybridcodec-example-plugin"


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.setattr(registry, "_factories", {})
    monkeypatch.setattr(registry, "_loaded", {})
    registry.register("example-hyperprior", "hybridcodec_example_plugin:load", replace=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # it is not deterministic, and says so once
        yield registry.load("example-hyperprior")


def test_example_plugin_is_checked_as_a_float_codec(example):
    """Its float decoder is stable within a run and region by region, but not promised across thread
    counts (on the development machine one 10-bit sample moved by 1 between 1 and 2 threads): the
    check reports what it sees, and the codec's own declaration marks its streams."""
    report = check(example)
    by_name = {c.name: c for c in report.checks}
    assert set(by_name) == {"exact", "stream-independent", "threads", "repeat", "picture"}
    assert by_name["repeat"].passed and by_name["stream-independent"].passed, report.text()
    assert report.tool["deterministic"] is False
    assert "non-deterministic" in report.text()


def test_hybrid_codes_with_the_example_plugin(example, force_nn):
    force_nn(wins=lambda x, y, log2: (x + y) // 32 % 3 == 0)
    for options in (dict(qp=32), dict(qp=27, chroma_format="444")):
        result = Encoder(nn_model="example-hyperprior", **options).encode(synthetic_rgb(96, 128, seed=2))
        header = read_container(result.bitstream)[0]
        assert header.nn_model_name == "example-hyperprior" and header.nn_nondeterministic_flag
        assert 0 < result.stats.area_by_mode["nn"] < 1
        assert np.array_equal(hybridcodec.decode(result.bitstream), result.reconstruction)
    result = Encoder(mode="nn", level=2, nn_model="example-hyperprior").encode(synthetic_rgb(40, 72, seed=3))
    assert np.array_equal(hybridcodec.decode(result.bitstream), result.reconstruction)
