"""The inspector: what the decoder parsed, as text, JSON and pictures; bits add up at every level."""
import json

import numpy as np
import pytest

import hybridcodec
from bitstream.container import SubstreamType, read_container
from host.cclm import CCLM_MODES
from hybridcodec.tools.cli import main
from hybridcodec.encoder import Encoder
from hybridcodec.tools.inspector import format_text, inspect_bitstream, to_json
from hybridcodec.tools.plots import _patch_edges, inspection_map
from pictures import synthetic_rgb
from steering import steer_nn

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


NN_WINS = {(0, 0), (64, 32)}        # 32x32 CUs where the forced NN candidate wins


@pytest.fixture(scope="module")
def host_stream():
    return hybridcodec.encode(synthetic_rgb(72, 136, 3), qp=30, min_cu_size=4, ctu_size=64)


class RdDecisions:
    """Trace sink keeping the encoder's nn_compress_flag decisions (its rd channel)."""

    def __init__(self):
        self.nn = []

    def rd_sink(self, decision):
        if decision["decision"] == "nn_compress_flag":
            self.nn.append(decision)

    def __call__(self, line):
        pass


@pytest.fixture(scope="module")
def hybrid():
    """A 96x64 hybrid picture whose NN candidates win (distortion reported as 0) on two 32x32 CUs only:
    the NN latents, the bitstream and the decoded samples are real, only the choice is steered.  The
    host CU at (32, 0) is four flat 16x16 squares of different colours, so the host search splits it below
    nn_min_cu_size."""
    picture = synthetic_rgb(64, 96, 1)
    for k, colour in enumerate(((250, 20, 20), (20, 250, 20), (20, 20, 250), (240, 240, 240))):
        y, x = 16 * (k // 2), 32 + 16 * (k % 2)
        picture[y:y + 16, x:x + 16] = colour
    rd = RdDecisions()
    with pytest.MonkeyPatch.context() as mp:
        steer_nn(mp, lambda x, y, log2: log2 == 5 and (x, y) in NN_WINS, distortion=0)
        result = Encoder(qp=32, ctu_size=64, nn_sizes=(32,), nn_level_offset=-4,
                         nn_flag_coding="one").encode(picture, trace_sink=rd)
    return result, rd.nn


def test_coding_tree_tiles_the_picture_and_bits_add_up(host_stream):
    info = inspect_bitstream(host_stream, "p.hbc")
    assert info.mode == "host" and (info.width, info.height) == (136, 72)
    assert info.header["pic_qp"] == 30 and info.header["log2_ctu_size_minus6"] == 0
    assert len(info.ctus) == 3 * 2                                     # 64x64 CTUs over 136x72
    covered = np.zeros((72, 136), dtype=int)                           # coded size is a multiple of 8
    for cu in info.cus:
        covered[cu.y:cu.y + cu.size, cu.x:cu.x + cu.size] += 1
        assert cu.qp == 30 and cu.part_mode in ("2Nx2N", "NxN")
        assert len(cu.luma_modes) == (4 if cu.part_mode == "NxN" else 1)
        assert all(0 <= m <= 34 for m in cu.luma_modes) and (0 <= cu.chroma_mode <= 34 or cu.chroma_mode in CCLM_MODES)
    assert (covered == 1).all()
    assert any(cu.part_mode == "NxN" for cu in info.cus)
    total = sum(info.bits_by_category.values())
    assert sum(c.bits for c in info.ctus) == pytest.approx(total)
    assert info.bits_map.sum() == pytest.approx(total)
    # CU bits are everything but the coding-tree flags (split_cu_flag, end_of_slice_segment_flag) and the
    # CTU-level loop-filter flags (alf_ctb_flag).
    ctu_level = info.bits_by_category["partition"] + info.bits_by_category.get("loop_filter", 0.0)
    assert sum(cu.bits for cu in info.cus) == pytest.approx(total - ctu_level)
    assert set(info.bits_by_category) - {"loop_filter"} == {"partition", "intra_mode", "cbf", "coeff"}
    host_bytes = len(read_container(host_stream)[1][0][1])
    assert abs(total - 8 * host_bytes) < 0.02 * 8 * host_bytes + 16     # estimates track the real size


def test_text_and_json(host_stream):
    info = inspect_bitstream(host_stream, "p.hbc")
    text = format_text(info)
    assert "picture_header()" in text and "pic_qp = 30" in text and "HOST_CABAC" in text
    assert sum(line.lstrip().startswith("CU ") for line in text.splitlines()) == len(info.cus)
    assert format_text(info, ctus=[1]).count("\nCTU ") == 1
    doc = json.loads(json.dumps(to_json(info)))
    assert [c["index"] for c in doc["ctus"]] == list(range(len(info.ctus)))

    def leaves(node):
        return [node["cu"]] if not node["split"] else [cu for child in node["children"] for cu in leaves(child)]
    cus = [cu for c in doc["ctus"] for cu in leaves(c["coding_tree"])]
    assert len(cus) == len(info.cus) and "nn_compress_flag" not in cus[0]      # unset hybrid fields omitted
    assert set(cus[0]["cbf"]) == {"Y", "Cb", "Cr"}


def test_hybrid_picture_reports_nn_cus_levels_and_flags(hybrid):
    result, decisions = hybrid
    info = inspect_bitstream(result.bitstream, "h.hbc")
    assert info.mode == "hybrid"
    h = info.header
    assert (h["nn_compress_enable_flag"], h["nn_level_offset"], h["log2_nn_min_cu_size_minus5"], h["nn_flag_coding"],
            h["nn_delta_level_enabled_flag"], h["nn_deblocking_enabled_flag"], h["nn_residual_enabled_flag"]) == \
        (1, -4, 0, 1, 0, 1, 0)
    assert list(h).index("nn_deblocking_enabled_flag") < list(h).index("output_channels_minus1")  # coding order
    nn = [cu for cu in info.cus if cu.coding == "nn"]
    assert {(cu.x, cu.y, cu.size) for cu in nn} == {(x, y, 32) for x, y in NN_WINS}
    # The encoder's rd trace: the level each NN CU was chosen at, and the latent bits of that candidate.
    chosen = {(d["x"], d["y"]): d for d in decisions if d["nn_compress_flag"]}
    assert info.nn_base_level == 0                                     # Level_Map[8][32] = 4, offset -4
    for cu in nn:
        assert (cu.nn_compress_flag, cu.nn_level, cu.nn_residual, cu.cbf) == \
            (1, chosen[(cu.x, cu.y)]["nn_level"], 0, {"Y": [], "Cb": [], "Cr": []})
        assert cu.bits_by_category["nn_latents"] == pytest.approx(chosen[(cu.x, cu.y)]["nn_bits"])
    assert all(ctu.nn_delta_level is None for ctu in info.ctus)     # nn_delta_level is off
    host_cus = [cu for cu in info.cus if cu.coding == "host"]
    assert host_cus and all((cu.nn_compress_flag, cu.nn_level, cu.nn_residual) == (0, None, None) for cu in host_cus)
    assert any(cu.size < 32 for cu in host_cus)                        # flag inferred 0 below nn_min_cu_size
    assert info.area_by_mode == pytest.approx(result.stats.area_by_mode)
    assert info.area_by_mode["nn"] == pytest.approx(1 / 3)
    # Bits: CTUs add up to everything but the NN stream's flush; latents + flush = the NN substream.
    nn_bytes = len(dict(read_container(result.bitstream)[1])[SubstreamType.NN_LATENTS])
    bits = info.bits_by_category
    assert bits["nn_latents"] + bits["nn_flush"] == pytest.approx(8 * nn_bytes)
    assert 0 < bits["nn_flush"] < 0.1 * 8 * nn_bytes
    assert sum(c.bits for c in info.ctus) == pytest.approx(sum(bits.values()) - bits["nn_flush"])
    assert info.bits_map.sum() == pytest.approx(sum(c.bits for c in info.ctus))
    assert np.array_equal(info.picture, result.reconstruction)


def test_hybrid_text_json_and_map(tmp_path, hybrid):
    info = inspect_bitstream(hybrid[0].bitstream, "h.hbc")
    text = format_text(info)
    for line in ("mode hybrid", "nn_compress_enable_flag = 1", "nn_level_offset = -4", "log2_nn_min_cu_size_minus5 = 0",
                 "nn_flag_coding = 1", "nn_delta_level_enabled_flag = 0", "nn_deblocking_enabled_flag = 1",
                 "base level 0", "area: host 66.7%, nn 33.3% (2 of", "nn_flush",
                 "CU 32x32 (64,32) qp 32 nn_compress_flag 1 level 0 NN-coded"):
        assert line in text
    doc = json.loads(json.dumps(to_json(info)))
    assert doc["area_by_mode"] == {"host": pytest.approx(2 / 3, abs=1e-5), "nn": pytest.approx(1 / 3, abs=1e-5)}
    assert doc["nn_base_level"] == 0 and "nn_delta_level" not in doc["ctus"][1]
    cu = doc["ctus"][0]["coding_tree"]["children"][0]["cu"]
    assert (cu["x"], cu["y"], cu["coding"], cu["nn_compress_flag"], cu["nn_level"]) == (0, 0, "nn", 1, 0)
    assert "nn_latents" in cu["bits_by_category"]
    path = tmp_path / "h.hbc"
    path.write_bytes(hybrid[0].bitstream)
    assert main(["inspect", str(path), "--json", "-o", str(tmp_path / "h.json"), "--map", str(tmp_path / "h.png")]) == 0
    assert json.loads((tmp_path / "h.json").read_text())["area_by_mode"] == doc["area_by_mode"]
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG_MAGIC


def test_nn_picture_and_maps(tmp_path, host_stream):
    nn = inspect_bitstream(hybridcodec.encode(synthetic_rgb(40, 56, 4), mode="nn", level=2))
    assert nn.mode == "nn" and not nn.ctus
    assert [(r.x, r.y, r.width, r.height, r.level) for r in nn.nn_regions] == [(0, 0, 56, 40, 2)]
    assert "nn_level = 2" in format_text(nn)
    for name, info in (("nn.png", nn), ("host.png", inspect_bitstream(host_stream))):
        inspection_map(info, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_patch_picture_reports_its_patch_grid(tmp_path, capsys):
    """136x72 (coded 136x72, aligned 144x80) coded by the NN as 64x64 patches: 3 x 2 patches in raster
    order, those of the last column and row cut at the aligned picture's edge."""
    result = Encoder(mode="nn", level=1, nn_patch_size=64, nn_patch_overlap=16).encode(synthetic_rgb(72, 136, 5))
    info = inspect_bitstream(result.bitstream, "p.hbc")
    assert info.mode == "nn" and np.array_equal(info.picture, result.reconstruction)
    h = info.header
    assert h["nn_patch_size_idc"] == 1 and "nn_patch_overlap" not in h                # 64 = 32 << 1
    order = list(h)
    assert order.index("nn_residual_enabled_flag") < order.index("nn_patch_size_idc") < \
        order.index("output_channels_minus1")                                          # coding order
    expected = [(0, 0, 0, 64, 64), (1, 64, 0, 64, 64), (2, 128, 0, 16, 64),
                (3, 0, 64, 64, 16), (4, 64, 64, 64, 16), (5, 128, 64, 16, 16)]
    assert [(p.index, p.x, p.y, p.width, p.height) for p in info.nn_patches] == expected
    text = format_text(info)
    assert "nn_patch_size_idc = 1" in text
    assert "NN patches: 6 (3 x 2) of at most P = 64 luma samples" in text and "patch 2 (128,0) 16x64" in text
    doc = json.loads(json.dumps(to_json(info)))
    assert doc["nn_patches"][5] == {"index": 5, "x": 128, "y": 64, "width": 16, "height": 16}
    # The map outlines every patch, clipped to the picture.
    edges = _patch_edges(info.nn_patches, 136, 72)
    assert len(edges) == 4 * 6 and max(x for seg in edges for x, _ in seg) == 135.5
    path = tmp_path / "p.hbc"
    path.write_bytes(result.bitstream)
    assert main(["inspect", str(path), "--summary", "--map", str(tmp_path / "p.png")]) == 0
    assert "patch 1 (64,0) 64x64" in capsys.readouterr().out
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC
    # A picture coded in one piece has no patch grid.
    whole = inspect_bitstream(hybridcodec.encode(synthetic_rgb(64, 128, 5), mode="nn", level=1))
    assert whole.nn_patches == [] and whole.header["nn_patch_size_idc"] == 0
    assert "nn_patches" not in to_json(whole)


def test_cli(tmp_path, capsys, host_stream):
    path = tmp_path / "p.hbc"
    path.write_bytes(host_stream)
    assert main(["inspect", str(path), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "CTU 5 " in out and "\n  CU " not in out
    assert main(["inspect", str(path), "--json", "-o", str(tmp_path / "p.json"), "--map", str(tmp_path / "m.png")]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["picture_header"]["pic_qp"] == 30
    assert (tmp_path / "m.png").read_bytes()[:8] == PNG_MAGIC
    (tmp_path / "bad.hbc").write_bytes(host_stream[:-5])
    assert main(["inspect", str(tmp_path / "bad.hbc")]) == 1
    assert "error" in capsys.readouterr().err
