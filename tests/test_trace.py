"""Trace channels: encoder and decoder traces are identical, a corrupted bitstream's trace shows
where decoding went wrong, the rd channel records the encoder's decisions, and tracing off is free."""
import io
import re

import pytest

from bitstream.container import SubstreamType, read_container, write_container
from bitstream.errors import BitstreamError
from bitstream.syntax_coder import ChannelTrace, SyntaxReader, SyntaxWriter
from hybridcodec.tools.cli import main
from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from hybridcodec.imageio import write_image
from hybridcodec.tools.inspector import inspect_bitstream
from host.contexts import CONTEXT_TABLE
from pictures import synthetic_rgb


@pytest.fixture(scope="module")
def coded():
    """A 4:2:0 picture with NxN partitions allowed, coded with all encoder channels traced."""
    out = io.StringIO()
    result = Encoder(qp=30, min_cu_size=4).encode(synthetic_rgb(48, 72, 1),
                                                   trace_sink=ChannelTrace(out, ("syntax", "cabac", "rd")))
    return result.bitstream, out.getvalue().splitlines()


def decoder_trace(data: bytes, channels=("syntax", "cabac")) -> tuple[list[str], Exception | None]:
    out = io.StringIO()
    try:
        decode_full(data, trace_sink=ChannelTrace(out, channels))
        error = None
    except BitstreamError as exc:
        error = exc
    return out.getvalue().splitlines(), error


def merge_bypass_runs(lines: list[str]) -> list[str]:
    """Without syntax lines between them, consecutive bypass runs are written as one."""
    out = []
    for line in lines:
        if line.startswith("  bypass ") and out and out[-1].startswith("  bypass "):
            out[-1] += line[len("  bypass "):]
        else:
            out.append(line)
    return out


def test_encoder_and_decoder_traces_are_identical(coded):
    data, encoder_lines = coded
    decoder_lines, error = decoder_trace(data)
    assert error is None
    assert [line for line in encoder_lines if not line.startswith("rd ")] == decoder_lines
    assert any(line.startswith("  bin ctx=") for line in decoder_lines)        # cabac channel
    assert any(line.startswith("  bypass ") for line in decoder_lines)
    assert decoder_lines[-2] == "  terminate = 1" and decoder_lines[-1].startswith("end_of_slice_segment_flag = 1")
    names = {line.split()[0] for line in decoder_lines if not line.startswith(" ")}
    assert {"split_cu_flag", "part_mode", "prev_intra_luma_pred_flag", "intra_chroma_pred_mode", "cbf_luma",
            "sig_coeff_flag", "coeff_abs_level_remaining", "end_of_slice_segment_flag"} <= names


def test_channels_can_be_selected(coded):
    data, encoder_lines = coded
    syntax_only, _ = decoder_trace(data, ("syntax",))
    cabac_only, _ = decoder_trace(data, ("cabac",))
    full = [line for line in encoder_lines if not line.startswith("rd ")]
    assert syntax_only == [line for line in full if not line.startswith(" ")]
    assert cabac_only == merge_bypass_runs([line for line in full if line.startswith(" ")])
    with pytest.raises(ValueError):
        ChannelTrace(io.StringIO(), ("syntax", "bins"))


def test_rd_channel_records_the_decisions_that_were_coded(coded):
    data, encoder_lines = coded
    rd_cus = {}
    for line in encoder_lines:
        m = re.match(r"rd coding_unit x=(\d+) y=(\d+) log2=(\d+) J=\S+ part_nxn=(\d) luma_modes=(\[[^]]*\])", line)
        if m:
            rd_cus.setdefault(tuple(map(int, m.groups()[:3])), set()).add(m.group(5))
    splits = [line for line in encoder_lines if line.startswith("rd split_cu_flag")]
    assert splits and all("J_unsplit=" in line and "J_split=" in line for line in splits)
    for cu in inspect_bitstream(data).cus:           # every coded CU was evaluated with its final modes
        assert str(cu.luma_modes) in rd_cus[(cu.x, cu.y, cu.size.bit_length() - 1)]


def test_corrupted_bitstream_trace_shows_where_decoding_went_wrong(coded):
    data, encoder_lines = coded
    reference = [line for line in encoder_lines if not line.startswith("rd ")]
    header, substreams = read_container(data)
    payload = substreams[0][1]
    first_mismatch = []
    for position in (len(payload) // 3, 2 * len(payload) // 3):
        corrupted = bytearray(payload)
        corrupted[position] ^= 0x5A
        bad = write_container(header, [(SubstreamType.HOST_CABAC, bytes(corrupted))])
        lines, error = decoder_trace(bad)
        n = next((i for i, (a, b) in enumerate(zip(reference, lines)) if a != b), min(len(lines), len(reference)))
        assert 0 < n < len(reference)          # agrees up to the damage, then differs (or stops with an error)
        assert lines != reference
        first_mismatch.append(n)
    assert first_mismatch[0] < first_mismatch[1]   # later damage is found later in the trace


def test_tracing_off_leaves_the_engine_untouched():
    writer = SyntaxWriter(CONTEXT_TABLE, 32)
    assert "decision" not in vars(writer)
    writer.trace_sink = ChannelTrace(io.StringIO(), ("cabac",))
    assert "decision" in vars(writer)
    writer.trace_sink = None
    assert not {"decision", "bypass_bits", "terminate"} & set(vars(writer))
    reader = SyntaxReader(CONTEXT_TABLE, 32, bytes(8))
    reader.trace_sink = io.StringIO()                        # a plain file: syntax only, engine untouched
    assert "decision" not in vars(reader)


def test_cli_trace_channels(tmp_path):
    src, hbc = tmp_path / "in.png", tmp_path / "a.hbc"
    write_image(src, synthetic_rgb(24, 40, 2))
    assert main(["encode", str(src), "-o", str(hbc), "--trace", str(tmp_path / "enc.trace"),
                 "--trace-channels", "syntax,cabac,rd"]) == 0
    assert main(["decode", str(hbc), "-o", str(tmp_path / "d.png"), "--trace", str(tmp_path / "dec.trace"),
                 "--trace-channels", "syntax,cabac"]) == 0
    encoder_lines = (tmp_path / "enc.trace").read_text().splitlines()
    assert any(line.startswith("rd ") for line in encoder_lines)
    assert [line for line in encoder_lines if not line.startswith("rd ")] == \
        (tmp_path / "dec.trace").read_text().splitlines()
    with pytest.raises(SystemExit):                          # only the encoder has RD decisions
        main(["decode", str(hbc), "-o", str(tmp_path / "d.png"), "--trace", "x", "--trace-channels", "rd"])
