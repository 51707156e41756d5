"""The command line: encode/decode PNG and raw YCbCr, traces that diff cleanly, errors, help, demo."""
import json
import subprocess
import sys

import numpy as np

from hybridcodec.cli import main
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


def test_help_and_module_entry_point():
    out = subprocess.run([sys.executable, "-m", "hybridcodec", "encode", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for option in ("--qp", "--chroma-format", "--min-cu-size", "--no-rdoq", "--trace", "--size"):
        assert option in out


def test_demo(tmp_path, capsys):
    from hybridcodec.demo import main as demo
    assert demo(["--qp", "37", "--modes", "host", "--out", str(tmp_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["bpp"] > 0 and (tmp_path / "sample_qp37.png").exists()
