"""The inspector: what the decoder parsed, as text, JSON and pictures; bits add up at every level."""
import json

import numpy as np
import pytest

import hybridcodec
from bitstream.container import read_container
from hybridcodec.cli import main
from hybridcodec.inspect import CtuInfo, CuInfo, Inspection, TreeNode, format_text, inspect_bitstream, to_json
from hybridcodec.plots import inspection_map
from pictures import synthetic_rgb

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def host_stream():
    return hybridcodec.encode(synthetic_rgb(72, 136, 3), qp=30, min_cu_size=4, ctu_size=64)


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
        assert all(0 <= m <= 34 for m in cu.luma_modes) and 0 <= cu.chroma_mode <= 34
    assert (covered == 1).all()
    assert any(cu.part_mode == "NxN" for cu in info.cus)
    total = sum(info.bits_by_category.values())
    assert sum(c.bits for c in info.ctus) == pytest.approx(total)
    assert info.bits_map.sum() == pytest.approx(total)
    # CU bits are everything but the coding-tree flags (split_cu_flag, end_of_slice_segment_flag).
    assert sum(cu.bits for cu in info.cus) == pytest.approx(total - info.bits_by_category["partition"])
    assert set(info.bits_by_category) == {"partition", "intra_mode", "cbf", "coeff"}
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


def test_hybrid_fields_are_carried_when_set():
    cu = CuInfo(0, 0, 16, 0, 32, "2Nx2N", [1], 4, 1, {"Y": [0]}, coding="nn", nn_compress_flag=1, nn_level=3)
    info = Inspection(None, 10, 16, 16, "hybrid", {}, [], {}, [CtuInfo(0, 0, 0, 64, TreeNode(0, 0, 16, False, cu=cu))])
    assert "nn_compress_flag 1 level 3" in format_text(info)
    cu_doc = to_json(info)["ctus"][0]["coding_tree"]["cu"]
    assert (cu_doc["nn_compress_flag"], cu_doc["nn_level"], cu_doc["coding"]) == (1, 3, "nn")


def test_nn_picture_and_maps(tmp_path, host_stream):
    nn = inspect_bitstream(hybridcodec.encode(synthetic_rgb(40, 56, 4), mode="nn", level=2))
    assert nn.mode == "nn" and not nn.ctus
    assert [(r.x, r.y, r.width, r.height, r.level) for r in nn.nn_regions] == [(0, 0, 56, 40, 2)]
    assert "nn_level = 2" in format_text(nn)
    for name, info in (("nn.png", nn), ("host.png", inspect_bitstream(host_stream))):
        inspection_map(info, tmp_path / name)
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


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
