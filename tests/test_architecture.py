"""The normative/encoder-only boundary is enforced: decoding imports no encoder-only module."""
import subprocess
import sys

import hybridcodec
from hybridcodec.decoder import decode_full
from host.partition import CuMode
from pictures import synthetic_rgb

ENCODER_ONLY = ("host.encoder", "host.encoder.rdoq", "nntools.encoder", "nntools.training.train", "nntools.encoder.refine",
                "nntools.encoder.rdoq", "hybridcodec.encoder", "hybridcodec.encoder.nn_search")


def test_decoding_imports_no_encoder_module(tmp_path, force_nn):
    host = tmp_path / "host.hbc"
    host.write_bytes(hybridcodec.encode(synthetic_rgb(24, 40), qp=30, mode="host"))
    nn = tmp_path / "nn.hbc"
    nn.write_bytes(hybridcodec.encode(synthetic_rgb(24, 40), mode="nn", level=2))
    patches = tmp_path / "patches.hbc"
    patches.write_bytes(hybridcodec.encode(synthetic_rgb(24, 80), mode="nn", level=2, nn_patch_size=64,
                                           nn_patch_overlap=8))
    force_nn()                                       # a hybrid picture with NN-coded CUs
    hybrid = tmp_path / "hybrid.hbc"
    hybrid.write_bytes(hybridcodec.encode(synthetic_rgb(64, 64), qp=30))
    assert any(cu.mode == CuMode.NN for cu in decode_full(hybrid.read_bytes()).host.cus)
    script = (
        "import sys, hybridcodec\n"
        f"for path in {[str(host), str(nn), str(patches), str(hybrid)]!r}:\n"
        "    hybridcodec.decode(open(path, 'rb').read())\n"
        f"bad = [m for m in sys.modules if m.startswith({ENCODER_ONLY!r})]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
