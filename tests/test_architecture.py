"""The normative/encoder-only boundary is enforced: decoding imports no encoder-only module."""
import subprocess
import sys

import hybridcodec
from pictures import synthetic_rgb

ENCODER_ONLY = ("host.encoder", "host.rdoq", "nntools.encoder", "nntools.train",
                "hybridcodec.encoder")


def test_decoding_imports_no_encoder_module(tmp_path):
    host = tmp_path / "host.hbc"
    host.write_bytes(hybridcodec.encode(synthetic_rgb(24, 40), qp=30))
    nn = tmp_path / "nn.hbc"
    nn.write_bytes(hybridcodec.encode(synthetic_rgb(24, 40), mode="nn", level=2))
    script = (
        "import sys, hybridcodec\n"
        f"for path in {[str(host), str(nn)]!r}:\n"
        "    hybridcodec.decode(open(path, 'rb').read())\n"
        f"bad = [m for m in sys.modules if m.startswith({ENCODER_ONLY!r})]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
