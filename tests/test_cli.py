"""The command line: encode/decode PNG and raw YCbCr, hybrid options as the API has them, traces that diff
cleanly, errors, help, demo."""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from bitstream.container import read_container
from hybridcodec.tools.cli import build_parser, encoder_config, main
from hybridcodec.config import EncoderConfig
from hybridcodec.decoder import decode
from hybridcodec.encoder import Encoder
from hybridcodec.imageio import YuvFrame, read_image, write_image, write_yuv
from pictures import synthetic_rgb


def test_encode_decode_png_with_traces(tmp_path, capsys):
    src, hbc, out = tmp_path / "in.png", tmp_path / "a.hbc", tmp_path / "out.png"
    rec = tmp_path / "rec.png"
    write_image(src, synthetic_rgb(40, 56, 3))
    assert main(["encode", str(src), "-o", str(hbc), "--qp", "30", "--recon", str(rec), "--json",
                 "--trace", str(tmp_path / "enc.trace")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bytes"] == hbc.stat().st_size and report["psnr_y"] > 30
    assert main(["decode", str(hbc), "-o", str(out), "--trace", str(tmp_path / "dec.trace")]) == 0
    assert np.array_equal(read_image(out), read_image(rec))
    enc_trace = (tmp_path / "enc.trace").read_text()
    assert enc_trace and enc_trace == (tmp_path / "dec.trace").read_text()
    assert "split_cu_flag" in enc_trace and "sig_coeff_flag" in enc_trace


def test_hybrid_options_match_the_api(tmp_path, capsys, force_nn):
    """NN candidates win at (0, 0) only (distortion reported as 0; latents and bitstream are real)."""
    force_nn(lambda x, y, log2: (x, y) == (0, 0), distortion=0)
    src, hbc, out = tmp_path / "in.png", tmp_path / "h.hbc", tmp_path / "out.png"
    write_image(src, synthetic_rgb(64, 128, 2))
    assert main(["encode", str(src), "-o", str(hbc), "--qp", "35", "--ctu-size", "64", "--nn-decision", "ctu",
                 "--nn-sizes", "64,128", "--nn-flag-coding", "bypass", "--no-nn-deblocking", "--nn-level-offset", "-4",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cfg = EncoderConfig(qp=35, ctu_size=64, nn_decision="ctu", nn_sizes=(64, 128), nn_flag_coding="bypass",
                        nn_deblocking=False, nn_level_offset=-4)
    assert cfg.mode == "hybrid" and report["mode"] == "hybrid"                 # the default of both
    api = Encoder(cfg).encode(read_image(src))
    assert hbc.read_bytes() == api.bitstream
    assert report["area_by_mode"] == pytest.approx(api.stats.area_by_mode, abs=1e-5)
    assert report["area_by_mode"]["nn"] == pytest.approx(0.5, abs=1e-5)
    assert report["nn_trials"] == api.stats.nn_trials == 2                     # one NN trial per CTU
    header = read_container(api.bitstream)[0]
    assert (header.nn_compress_enable_flag, header.NnMinCbSize, header.nn_flag_coding, header.nn_deblocking_enabled_flag,
            header.nn_level_offset) == (True, 64, 2, False, -4)
    assert main(["decode", str(hbc), "-o", str(out)]) == 0
    decoded = read_image(out)
    assert np.array_equal(decoded, decode(api.bitstream)) and np.array_equal(decoded, api.reconstruction)


def test_threads_option_leaves_the_output_unchanged(tmp_path, capsys, force_nn):
    """--threads sets torch's thread count; NN-coded CUs come out the same at 1 and 2 threads."""
    import torch
    force_nn(lambda x, y, log2: x == 0, distortion=0)
    src, hbc, out = tmp_path / "in.png", tmp_path / "t.hbc", tmp_path / "out.png"
    write_image(src, synthetic_rgb(64, 128, 4))
    before = torch.get_num_threads()
    try:
        assert main(["encode", str(src), "-o", str(hbc), "--qp", "32", "--ctu-size", "64", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
        assert main(["decode", str(hbc), "-o", str(out), "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    api = Encoder(EncoderConfig(qp=32, ctu_size=64)).encode(read_image(src))
    assert api.stats.area_by_mode["nn"] > 0
    assert hbc.read_bytes() == api.bitstream and np.array_equal(read_image(out), api.reconstruction)
    with pytest.raises(SystemExit):
        main(["encode", str(src), "-o", str(hbc), "--threads", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_every_encoder_option_has_a_flag():
    args = build_parser().parse_args(["encode", "in.png", "-o", "out.hbc"])
    assert encoder_config(args) == EncoderConfig()                       # same defaults
    negated = {"deblocking", "dst4", "rdoq", "context_init"}   # --no-deblock, --no-dst4, --no-rdoq, --no-context-init
    assert {f.name for f in dataclasses.fields(EncoderConfig)} - negated <= set(vars(args))
    args = build_parser().parse_args(["encode", "in.png", "-o", "out.hbc", "--mode", "host", "--nn-decision", "ctu",
                                      "--nn-delta-level", "--nn-residual", "--nn-picture-check", "--no-nn-deblocking",
                                      "--no-host-picture-check",
                                      "--nn-min-variance", "12.5", "--nn-max-host-cost", "3", "--nn-sizes", "128,64",
                                      "--level", "2", "--no-rdoq"])
    assert encoder_config(args) == EncoderConfig(mode="host", nn_decision="ctu", nn_delta_level=True, nn_residual=True,
                                                 nn_picture_check=True, nn_deblocking=False, nn_min_variance=12.5,
                                                 host_picture_check=False,
                                                 nn_max_host_cost=3.0, nn_sizes=(64, 128), level=2, rdoq=False)


def test_raw_yuv_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 1024, (24, 40)).astype(np.uint16)] + \
             [rng.integers(0, 1024, (12, 20)).astype(np.uint16) for _ in range(2)]
    src, hbc, out = tmp_path / "in.yuv", tmp_path / "a.hbc", tmp_path / "out.yuv"
    write_yuv(src, planes, 10)
    assert main(["encode", str(src), "-s", "40x24", "--input-bit-depth", "10", "-o", str(hbc), "--qp", "0"]) == 0
    assert main(["decode", str(hbc), "-o", str(out)]) == 0
    frame = read_image(out, size=(40, 24), bit_depth=10, chroma_format="420")
    assert isinstance(frame, YuvFrame)
    assert all(np.abs(a.astype(int) - b).max() <= 64 for a, b in zip(frame.planes, planes))


def test_errors_are_reported_not_raised(tmp_path, capsys):
    bad = tmp_path / "bad.hbc"
    bad.write_bytes(b"HBC\x01garbage")
    assert main(["decode", str(bad), "-o", str(tmp_path / "x.png")]) == 1
    assert "error" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "missing.png"), "-o", str(bad)]) == 1
    src = tmp_path / "in.png"
    write_image(src, synthetic_rgb(8, 8))
    assert main(["encode", str(src), "-o", str(bad), "--nn-level-offset", "9"]) == 1      # EncoderConfig refuses it
    assert "nn_level_offset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["encode", str(src), "-o", str(bad), "--nn-sizes", "32,48"])
    assert "32,64,128" in capsys.readouterr().err


def test_help_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "hybridcodec", "encode", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for option in ("--qp", "--chroma-format", "--min-cu-size", "--no-rdoq", "--trace", "--size", "--nn-decision",
                   "--nn-flag-coding", "--nn-delta-level", "--no-nn-deblocking", "--nn-level-offset",
                   "--nn-picture-check", "--host-picture-check", "--nn-min-variance", "--nn-max-host-cost", "--nn-sizes",
                   "--level", "--nn-rdoq-scale", "--internal-bit-depth"):
        assert option in out
    assert "(default hybrid)" in out


def test_demo(tmp_path, capsys):
    from hybridcodec.tools.demo import main as demo
    assert demo(["--qp", "37", "--modes", "hybrid", "--nn-sizes", "128", "--out", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["mode"], r["qp"]) for r in rows] == [("hybrid", 37)] and rows[0]["bpp"] > 0
    assert 0 <= rows[0]["nn_area"] <= 1 and rows[0]["nn_trials"] == 2                 # the 2 CTUs inside the picture
    assert (tmp_path / "sample_hybrid_qp37.png").exists() and "| NN area |" in (tmp_path / "report.md").read_text()


_REPO = __import__("pathlib").Path(__file__).resolve().parents[1]
_SCRIPTS = sorted(str(p.relative_to(_REPO)) for p in (_REPO / "benchmarks").glob("*.py")
                  if "argparse" in p.read_text())
_MODULES = ["nntools.training.train", "nntools.training.export", "nntools.training.data", "nntools.training.refit_density", "hybridcodec.tools.demo"]


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("target", _MODULES + _SCRIPTS)
def test_every_command_line_prints_help(target, monkeypatch, capsys):
    """``--help`` of each module and benchmark script exits 0 with a usage line; argparse formats help
    strings with %, so a bare percent sign in one only fails when a user asks for help."""
    import runpy
    monkeypatch.setattr(sys, "argv", [target, "--help"])
    with pytest.raises(SystemExit) as stop:
        if target.endswith(".py"):
            monkeypatch.syspath_prepend(str(_REPO / "benchmarks"))     # as when run as a script
            runpy.run_path(str(_REPO / target), run_name="__main__")
        else:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
    assert stop.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["encode", "decode", "inspect", "rd", "demo"])
def test_every_subcommand_prints_help(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0 and f"hybridcodec {command}" in capsys.readouterr().out
