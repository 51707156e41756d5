"""Neural-tool plugins: registration, streams that name their plugin, the determinism check.

The plugins are the tiny ones of ``tiny_plugin`` (defined in the test suite, so CI needs nothing extra).
"""
import dataclasses
import hashlib
import json
import warnings
from importlib.metadata import EntryPoint

import numpy as np
import pytest

import hybridcodec
from bitstream.container import read_container, write_container
from bitstream.errors import BitstreamError, InputError, ModelMismatchError
from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools import registry
from nntools.conformance import check
from pictures import synthetic_rgb
from test_golden_streams import CASES, GOLDEN
from tiny_plugin import BlockMeans, FloatDecoding, Jittery


@pytest.fixture
def plugins(monkeypatch):
    """A registry holding the built-in tools and the tiny plugins (restored afterwards)."""
    monkeypatch.setattr(registry, "_factories", {})
    monkeypatch.setattr(registry, "_loaded", {})
    for cls in (BlockMeans, Jittery, FloatDecoding):
        registry.register(cls.name, cls)
    return registry


def coded(image, **options):
    result = Encoder(**options).encode(image)
    decoded = decode_full(result.bitstream)
    assert np.array_equal(decoded.picture, result.reconstruction)
    return result, decoded


@pytest.mark.parametrize("options", [dict(qp=27), dict(qp=37, chroma_format="444"), dict(qp=32, ctu_size=64)])
def test_hybrid_codes_with_a_plugin_and_decodes_exactly(plugins, force_nn, options):
    force_nn(wins=lambda x, y, log2: (x // 32 + y // 32) % 2 == 0)       # some CUs NN, some host
    result, decoded = coded(synthetic_rgb(72, 100, seed=3), nn_model="tiny-means", **options)
    header = decoded.header
    assert (header.nn_model_name, header.model_id) == ("tiny-means", BlockMeans().model_id)
    assert 0 < result.stats.area_by_mode["nn"] < 1


def test_whole_picture_check_with_a_plugin(plugins, force_nn):
    force_nn()                           # the whole-picture NN coding wins the picture-level check
    result, decoded = coded(synthetic_rgb(48, 80, seed=5), nn_model="tiny-means", nn_picture_check=True)
    assert decoded.host is None and decoded.header.nn_model_name == "tiny-means"


def test_whole_picture_mode_with_a_plugin(plugins):
    for image in (synthetic_rgb(40, 56, seed=1), synthetic_rgb(33, 17, seed=2)[..., 0]):
        result, decoded = coded(image, mode="nn", level=3, nn_model="tiny-means")
        assert decoded.header.nn_model_name == "tiny-means" and result.stats.area_by_mode["nn"] == 1.0
    with pytest.raises(InputError, match="levels 0..5"):
        Encoder(mode="nn", level=7, nn_model="tiny-means").encode(synthetic_rgb(16, 16))
    with pytest.raises(InputError, match="does not code patches"):
        Encoder(mode="nn", nn_model="tiny-means", nn_patch_size=64).encode(synthetic_rgb(16, 16))


def test_stream_decodes_only_with_the_same_plugin_and_weights(plugins, force_nn):
    force_nn()
    data = Encoder(nn_model="tiny-means", qp=32).encode(synthetic_rgb(64, 64)).bitstream
    registry.unregister("tiny-means")
    with pytest.raises(registry.ToolNotInstalledError, match="'tiny-means'.*not installed"):
        hybridcodec.decode(data)
    registry.register("tiny-means", lambda: BlockMeans(salt=b"retrained"))
    with pytest.raises(ModelMismatchError, match="other weights"):
        hybridcodec.decode(data)
    registry.register("tiny-means", BlockMeans, replace=True)
    hybridcodec.decode(data)
    registry.register("tiny-means", FloatDecoding, replace=True)                 # calls itself another name
    with pytest.raises(ValueError, match="calls itself 'tiny-float'"):
        hybridcodec.decode(data)


def test_plugin_found_through_its_entry_point(plugins, monkeypatch, force_nn):
    force_nn()
    registry.unregister("tiny-means")
    entry = EntryPoint("tiny-means", "tiny_plugin:BlockMeans", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {"tiny-means": entry})
    data = Encoder(nn_model="tiny-means", qp=32).encode(synthetic_rgb(64, 64)).bitstream
    registry._loaded.clear()                                   # a fresh decoder process
    assert read_container(data)[0].nn_model_name == "tiny-means"
    hybridcodec.decode(data)
    listed = {t["name"]: t for t in registry.describe_all()}
    assert listed["tiny-means"]["source"].startswith("entry point tiny_plugin:BlockMeans")
    assert listed["hyperprior-4p"]["kind"] == "block_codec" and listed["cnnlf-32x8"]["kind"] == "loop_filter"


def test_unknown_or_wrong_kind_of_tool_is_an_input_error(plugins):
    with pytest.raises(InputError, match="no neural tool named 'nope'"):
        Encoder(nn_model="nope").encode(synthetic_rgb(16, 16))
    with pytest.raises(InputError, match="loop filter, not a block codec"):
        Encoder(nn_model="cnnlf-32x8").encode(synthetic_rgb(16, 16))
    with pytest.raises(ValueError, match="already registered"):
        registry.register("hyperprior-4p", BlockMeans)
    with pytest.raises(ValueError, match="neural tool name"):
        registry.register("bad name", BlockMeans)


def test_swapping_plugins_changes_no_host_only_bitstream(plugins):
    golden = json.loads(GOLDEN.read_text())
    for name in ("host-420-q22", "host-sample-lf", "host-400-10bit"):
        make, options, _ = CASES[name]
        for model in ("tiny-means", "tiny-float", "hyperprior-4p"):
            data = hybridcodec.encode(make(), **options, nn_model=model)
            assert hashlib.sha256(data).hexdigest() == golden[name], (name, model)


def test_determinism_check_passes_for_built_in_tools_and_fails_clearly(plugins):
    for name in ("hyperprior-4p", "cnnlf-32x8", "tiny-means"):
        report = check(name)
        assert report.passed, report.text()
    report = check("tiny-jittery")
    assert not report.passed
    failed = {c.name: c.detail for c in report.checks if not c.passed}
    assert "threads" in failed and set(failed) <= {"threads", "exact", "picture"}
    assert "2 threads vs 1" in failed["threads"] and "samples differ (at most by 1)" in failed["threads"]
    assert "declares itself deterministic but is not" in report.text()


def test_non_deterministic_plugin_is_marked_and_warned_once(plugins, force_nn, monkeypatch):
    from hybridcodec import encoder as encoder_module
    from hybridcodec.tools.inspector import format_text, inspect_bitstream, to_json
    monkeypatch.setattr(encoder_module, "_WARNED", set())
    force_nn()
    with pytest.warns(UserWarning, match="'tiny-float' is not deterministic"):
        data = Encoder(nn_model="tiny-float").encode(synthetic_rgb(64, 64)).bitstream
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Encoder(nn_model="tiny-float").encode(synthetic_rgb(64, 64))      # once per process
    assert read_container(data)[0].nn_nondeterministic_flag
    info = inspect_bitstream(data)
    assert "NOT deterministic" in format_text(info)
    assert to_json(info)["block_codec"] == {"name": "tiny-float", "model_id": FloatDecoding().model_id.hex(),
                                            "deterministic": False}
    nn_bits = [cu.bits_by_category["nn_latents"] for cu in info.cus if cu.coding == "nn"]
    assert sum(nn_bits) == pytest.approx(info.bits_by_category["nn_latents"]) and min(nn_bits) > 0
    registry.register("tiny-float", type("Deterministic", (BlockMeans,), {"name": "tiny-float"}), replace=True)
    hybridcodec.decode(data)                   # a deterministic tool may decode a stream marked otherwise
    header, streams = read_container(data)
    registry.register("tiny-float", FloatDecoding, replace=True)
    with pytest.raises(BitstreamError, match="marked deterministic"):
        hybridcodec.decode(write_container(dataclasses.replace(header, nn_nondeterministic_flag=False), streams))


def test_cli_lists_and_checks_tools(plugins, capsys):
    from hybridcodec.tools.cli import main
    assert main(["models", "--json"]) == 0
    tools = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert tools["tiny-means"]["levels"] == 6 and tools["tiny-float"]["deterministic"] is False
    assert main(["models"]) == 0
    assert "tiny-float" in capsys.readouterr().out
    assert main(["check", "tiny-means"]) == 0
    assert main(["check", "tiny-jittery"]) == 1
    assert "FAIL  threads" in capsys.readouterr().out
    assert main(["check", "nope"]) == 1
    assert "no neural tool named 'nope'" in capsys.readouterr().err


def test_inspector_spreads_the_substream_of_a_codec_that_does_not_count_bits(plugins, force_nn):
    from hybridcodec.tools.inspector import inspect_bitstream
    import tiny_plugin

    class Uncounted(tiny_plugin.BlockMeans):
        name = "tiny-uncounted"

        def open_regions(self, payload, chroma_format, bit_depth, trace_sink=None, meter=False):
            reader = tiny_plugin.Reader(self, payload, chroma_format, bit_depth)
            return type("NoBits", (), {"decode": reader.decode, "finish": reader.finish})()

    registry.register(Uncounted.name, Uncounted)
    force_nn(wins=lambda x, y, log2: log2 == 5)
    data = Encoder(nn_model=Uncounted.name, qp=32).encode(synthetic_rgb(64, 96, seed=4)).bitstream
    info = inspect_bitstream(data)
    payload = dict(read_container(data)[1])[1]
    nn_bits = [cu.bits_by_category["nn_latents"] for cu in info.cus if cu.coding == "nn"]
    assert len(nn_bits) > 1 and sum(nn_bits) == pytest.approx(8 * len(payload))
    assert "nn_flush" not in info.bits_by_category


@pytest.mark.parametrize("model,mode", [("tiny-means", "hybrid"), ("tiny-means", "nn"), ("hyperprior-4p", "nn")])
def test_encoder_and_decoder_traces_agree_with_any_codec(plugins, force_nn, model, mode):
    import io
    from bitstream.syntax_coder import ChannelTrace
    force_nn()
    enc, dec = io.StringIO(), io.StringIO()
    result = Encoder(mode=mode, nn_model=model, qp=32, level=2).encode(synthetic_rgb(64, 64, seed=8),
                                                                      trace_sink=ChannelTrace(enc, ("syntax",)))
    decode_full(result.bitstream, trace_sink=ChannelTrace(dec, ("syntax",)))
    assert enc.getvalue() == dec.getvalue()
    assert f"nn_model_name = {model}" in dec.getvalue()
    assert ("log2_lanes" in dec.getvalue()) == (model == "hyperprior-4p")


def test_rd_runs_a_mode_with_a_plugin(plugins, tmp_path, capsys):
    import csv
    from hybridcodec.imageio import write_image
    from hybridcodec.tools.cli import main
    write_image(tmp_path / "pic.png", synthetic_rgb(40, 56, seed=1))
    out = tmp_path / "rd"
    argv = ["rd", str(tmp_path / "pic.png"), "--modes", "host,nn@tiny-means", "--qp", "27", "37", "--levels", "1", "4",
            "--anchors", "none", "--out", str(out), "--jobs", "1", "--no-progress"]
    assert main(argv) == 0
    assert "nn (nn_model=tiny-means)" in capsys.readouterr().out
    rows = list(csv.DictReader(open(out / "points.csv")))
    assert {r["codec"] for r in rows} == {"host", "nn"} and all(r["exact"] == "True" for r in rows)
    assert main(argv[:3] + ["host,hybrid@nope"] + argv[4:]) == 1
