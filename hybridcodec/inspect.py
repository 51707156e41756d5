"""Bitstream inspector: the decoder run with a sink that keeps every syntax element as data.

``inspect_bitstream(data)`` decodes the picture with :class:`ElementCollector` as the trace sink, so
what it reports is exactly what the decoder parsed (no second parser): the picture header, the
substreams, per CTU the coding tree (CU sizes and positions, intra modes, QP, coded-block flags) and
the bits spent per syntax category, per CU, and per pixel.  ``format_text`` and ``to_json`` render it;
``hybridcodec.plots.inspection_map`` draws it.

Element bits are the decoder's estimates from its context states (the same numbers as the trace),
so per-CTU and per-CU sums add up to the estimated total, which is within a few bytes of the real
substream size.

The data model already has room for the hybrid mode: a CU may carry ``nn_compress_flag`` and
``nn_level`` (None while the picture does not signal them), and NN-coded areas are listed as
``NnRegion``s (today: the whole picture in mode "nn").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bitstream.container import PictureHeader, SubstreamType, read_container
from host.partition import UNIT, CodingNode, CodingUnit, PictureGeometry, component_blocks
from hybridcodec.decoder import decode_full

COMPONENT_NAMES = ("Y", "Cb", "Cr")
CHROMA_POSITIONED = frozenset({"cbf_cb", "cbf_cr"})      # elements whose x, y are chroma coordinates
CTU_END = "end_of_slice_segment_flag"


@dataclass
class Element:
    """One decoded syntax element, as the trace reports it."""
    ctu: int
    name: str
    value: object
    where: dict
    bits: float
    category: str


class ElementCollector:
    """Trace sink keeping elements as data, each tagged with the index of the CTU it belongs to."""

    def __init__(self) -> None:
        self.elements: list[Element] = []
        self._ctu = 0

    def element(self, name: str, value, where: dict, bits: float, category: str) -> None:
        self.elements.append(Element(self._ctu, name, value, dict(where), bits, category))
        if name == CTU_END:
            self._ctu += 1


@dataclass
class CuInfo:
    x: int
    y: int
    size: int
    depth: int
    qp: int
    part_mode: str                       # "2Nx2N" or "NxN"
    luma_modes: list[int]                # per prediction block
    intra_chroma_pred_mode: int | None   # coded index (4 = DM); None in 4:0:0
    chroma_mode: int | None              # derived chroma intra mode
    cbf: dict[str, list[int]]            # per component, transform blocks in coding order
    bits: float = 0.0
    bits_by_category: dict[str, float] = field(default_factory=dict)
    coding: str = "host"                 # "host", or "nn" for a CU coded by the neural tool (hybrid)
    nn_compress_flag: int | None = None  # hybrid mode only
    nn_level: int | None = None          # hybrid mode only, for NN-coded CUs


@dataclass
class TreeNode:
    x: int
    y: int
    size: int
    split: bool
    children: list["TreeNode"] = field(default_factory=list)
    cu: CuInfo | None = None

    def leaves(self):
        if self.cu is not None:
            yield self.cu
        for child in self.children:
            yield from child.leaves()


@dataclass
class CtuInfo:
    index: int
    x: int
    y: int
    size: int
    tree: TreeNode
    bits: float = 0.0
    bits_by_category: dict[str, float] = field(default_factory=dict)

    @property
    def cus(self) -> list[CuInfo]:
        return list(self.tree.leaves())


@dataclass
class NnRegion:
    """An area coded by the neural tool (luma samples of the coded picture)."""
    x: int
    y: int
    width: int
    height: int
    level: int
    bits: float
    log2_lanes: int | None = None


@dataclass
class Inspection:
    file: str | None
    bytes: int
    width: int
    height: int
    mode: str                            # "host" or "nn" (whole picture)
    header: dict[str, object]            # picture_header() elements by their SYNTAX.md names
    substreams: list[dict[str, object]]
    bits_by_category: dict[str, float]
    ctus: list[CtuInfo] = field(default_factory=list)
    nn_regions: list[NnRegion] = field(default_factory=list)
    picture: np.ndarray | None = field(default=None, repr=False)   # decoded output (not in JSON)
    bits_map: np.ndarray | None = field(default=None, repr=False)  # estimated bits per luma sample,
                                                                   # coded size (padding included)

    @property
    def bpp(self) -> float:
        return 8 * self.bytes / (self.width * self.height)

    @property
    def cus(self) -> list[CuInfo]:
        return [cu for ctu in self.ctus for cu in ctu.cus]


def header_elements(h: PictureHeader) -> dict[str, object]:
    """The picture header as its coded elements (docs/SYNTAX.md §3)."""
    elements = {
        "pic_width_minus1": h.width - 1, "pic_height_minus1": h.height - 1,
        "bit_depth_minus8": h.bit_depth - 8, "chroma_format_idc": h.chroma_format,
        "log2_ctu_size_minus6": h.ctu_size.bit_length() - 7,
        "log2_min_cu_size_minus2": h.min_cu_size.bit_length() - 3,
        "log2_max_tu_size_minus5": h.max_tu_size.bit_length() - 6, "pic_qp": h.qp,
        "deblocking_enabled_flag": int(h.deblocking_enabled), "dst4_enabled_flag": int(h.dst4_enabled),
        "nn_compress_enable_flag": int(h.nn_compress_enable), "nn_level_offset": h.nn_level_offset,
        "output_channels_minus1": h.output_channels - 1,
        "output_bit_depth_16_flag": int(h.output_bit_depth == 16), "color_matrix": h.color_matrix,
    }
    if h.nn_compress_enable:
        elements["model_id"] = h.model_id.hex()
    elements["extension_length"] = len(h.extension)
    return elements


def inspect_bitstream(data: bytes, file: str | None = None) -> Inspection:
    """Decode ``data`` and describe it; raises ``BitstreamError`` where the decoder would."""
    collector = ElementCollector()
    result = decode_full(data, trace_sink=collector)
    header = result.header
    _, substreams = read_container(bytes(data))
    info = Inspection(file, len(data), header.width, header.height, "host", header_elements(header),
                      [{"type": kind.name, "bytes": len(payload)} for kind, payload in substreams], {},
                      picture=result.picture)
    geo = PictureGeometry.from_header(header)
    if result.host is None:
        payload = dict(substreams)[SubstreamType.NN_LATENTS]
        info.mode = "nn"
        # nn_picture(): nn_level u(8), log2_lanes u(8) (SYNTAX.md §7); the latent decoder has no trace hook.
        bits = 8.0 * len(payload)
        info.nn_regions = [NnRegion(0, 0, geo.coded_width, geo.coded_height, payload[0], bits,
                                    payload[1] if len(payload) > 1 else None)]
        info.bits_by_category = {"nn_latents": bits}
        info.bits_map = np.full((geo.coded_height, geo.coded_width), bits / (geo.coded_width * geo.coded_height))
        return info
    info.ctus, info.bits_map = _describe_host(result.host.ctus, collector.elements, geo, header.qp)
    info.bits_by_category = _sum_categories(e for e in collector.elements)
    return info


def _describe_host(roots: list[CodingNode], elements: list[Element], geo: PictureGeometry,
                   qp: int) -> tuple[list[CtuInfo], np.ndarray]:
    """CTU descriptions, with each element's bits assigned to its CU and spread over its area."""
    ctus, cu_objects, cu_infos = [], [], []
    for i, root in enumerate(roots):
        tree = _tree(root, 0, qp, geo, cu_objects, cu_infos)
        ctus.append(CtuInfo(i, root.x, root.y, 1 << root.log2_size, tree))
    cu_map = np.full((geo.coded_height // UNIT, geo.coded_width // UNIT), -1, dtype=np.int32)
    for k, cu in enumerate(cu_objects):
        cu_map[cu.y // UNIT:(cu.y + cu.size) // UNIT, cu.x // UNIT:(cu.x + cu.size) // UNIT] = k
    block_sizes = [{(b.c_idx, b.x, b.y): 1 << b.log2_size for b in component_blocks(cu, geo)} for cu in cu_objects]
    bits_map = np.zeros((geo.coded_height, geo.coded_width))
    shift = geo.chroma_shift
    current_cu, current_block = -1, None
    for e in elements:
        ctu = ctus[e.ctu]
        ctu.bits += e.bits
        ctu.bits_by_category[e.category] = ctu.bits_by_category.get(e.category, 0.0) + e.bits
        if "x" in e.where and "y" in e.where:
            x, y = e.where["x"], e.where["y"]
            if e.name == "split_cu_flag":
                _spread(bits_map, e.bits, x, y, 1 << e.where["log2"])
                continue
            scale = shift if e.name in CHROMA_POSITIONED else 0
            current_cu = int(cu_map[(y << scale) // UNIT, (x << scale) // UNIT])
            if e.name.startswith("cbf_"):
                c_idx = 0 if e.name == "cbf_luma" else 1 + (e.name == "cbf_cr")
                current_block = (c_idx, x, y)
            area = (cu_objects[current_cu].x, cu_objects[current_cu].y, cu_objects[current_cu].size)
        elif "c_idx" in e.where and current_block is not None:
            c_idx, x, y = current_block
            scale = shift if c_idx else 0
            area = (x << scale, y << scale, block_sizes[current_cu][current_block] << scale)
        else:
            _spread(bits_map, e.bits, ctu.x, ctu.y, ctu.size)
            continue
        cu = cu_infos[current_cu]
        cu.bits += e.bits
        cu.bits_by_category[e.category] = cu.bits_by_category.get(e.category, 0.0) + e.bits
        _spread(bits_map, e.bits, *area)
    return ctus, bits_map


def _tree(node: CodingNode, depth: int, qp: int, geo: PictureGeometry, cu_objects: list[CodingUnit],
          cu_infos: list[CuInfo]) -> TreeNode:
    size = 1 << node.log2_size
    if node.split:
        return TreeNode(node.x, node.y, size, True,
                        [_tree(c, depth + 1, qp, geo, cu_objects, cu_infos) for c in node.children])
    cu = node.cu
    info = _cu_info(cu, depth, qp, geo)
    cu_objects.append(cu)
    cu_infos.append(info)
    return TreeNode(node.x, node.y, size, False, cu=info)


def _cu_info(cu: CodingUnit, depth: int, qp: int, geo: PictureGeometry) -> CuInfo:
    cbf: dict[str, list[int]] = {name: [] for name in COMPONENT_NAMES[:geo.num_components]}
    for blk, flag in zip(component_blocks(cu, geo), cu.cbf):
        cbf[COMPONENT_NAMES[blk.c_idx]].append(int(flag))
    chroma = geo.num_components > 1
    return CuInfo(cu.x, cu.y, cu.size, depth, qp, "NxN" if cu.part_nxn else "2Nx2N", list(cu.luma_modes),
                  cu.chroma_mode_idx if chroma else None, cu.chroma_mode if chroma else None, cbf)


def _spread(bits_map: np.ndarray, bits: float, x: int, y: int, size: int) -> None:
    """Add ``bits`` uniformly over the square (clipped to the coded picture)."""
    region = bits_map[y:y + size, x:x + size]
    if region.size:
        region += bits / region.size


def _sum_categories(elements) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in elements:
        out[e.category] = out.get(e.category, 0.0) + e.bits
    return out


# ---- rendering -------------------------------------------------------------------------------------------

def to_json(info: Inspection) -> dict:
    """A JSON-ready dict (optional hybrid fields are left out while unset)."""
    def node(n: TreeNode) -> dict:
        out = {"x": n.x, "y": n.y, "size": n.size, "split": n.split}
        if n.split:
            out["children"] = [node(c) for c in n.children]
        else:
            out["cu"] = {k: (_round_dict(v) if isinstance(v, dict) and k == "bits_by_category"
                             else round(v, 3) if isinstance(v, float) else v)
                         for k, v in vars(n.cu).items() if v is not None}
        return out
    return {
        "file": info.file, "bytes": info.bytes, "width": info.width, "height": info.height,
        "bpp": round(info.bpp, 5), "mode": info.mode, "picture_header": info.header,
        "substreams": info.substreams, "bits_by_category": _round_dict(info.bits_by_category),
        "ctus": [{"index": c.index, "x": c.x, "y": c.y, "size": c.size, "bits": round(c.bits, 3),
                  "bits_by_category": _round_dict(c.bits_by_category), "coding_tree": node(c.tree)}
                 for c in info.ctus],
        "nn_regions": [{k: v for k, v in vars(r).items() if v is not None} for r in info.nn_regions],
    }


def _round_dict(d: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3) for k, v in d.items()}


def format_text(info: Inspection, ctus: list[int] | None = None, summary: bool = False) -> str:
    """Readable report: header, substreams, bits by category, then each CTU's coding tree (only
    the CTUs listed in ``ctus`` when given; one line per CTU with ``summary``)."""
    lines = [f"{info.file or '<bytes>'}: {info.bytes} bytes, {info.width}x{info.height}, "
             f"{info.bpp:.4f} bpp, mode {info.mode}",
             "picture_header()"]
    lines += [f"  {name} = {value}" for name, value in info.header.items()]
    lines.append("substreams: " + ", ".join(f"{s['type']} {s['bytes']} bytes" for s in info.substreams))
    lines.append("bits by category: " + _categories(info.bits_by_category))
    for r in info.nn_regions:
        lines.append(f"NN region ({r.x},{r.y}) {r.width}x{r.height}: nn_level = {r.level}"
                     + (f", log2_lanes = {r.log2_lanes}" if r.log2_lanes is not None else "")
                     + f", {r.bits:.0f} bits")
    for ctu in info.ctus:
        if ctus is not None and ctu.index not in ctus:
            continue
        area = sum(cu.size * cu.size for cu in ctu.cus)
        lines.append(f"CTU {ctu.index} ({ctu.x},{ctu.y}) {ctu.size}x{ctu.size}: {len(ctu.cus)} CUs, "
                     f"{ctu.bits:.1f} bits ({ctu.bits / area:.4f} bpp): " + _categories(ctu.bits_by_category))
        if not summary:
            _tree_lines(ctu.tree, 1, lines)
    return "\n".join(lines) + "\n"


def _categories(bits: dict[str, float]) -> str:
    total = sum(bits.values()) or 1.0
    return "  ".join(f"{k} {v:.1f} ({100 * v / total:.1f}%)" for k, v in bits.items())


def _tree_lines(node: TreeNode, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    if node.split:
        lines.append(f"{pad}split {node.size}x{node.size} ({node.x},{node.y})")
        for child in node.children:
            _tree_lines(child, indent + 1, lines)
        return
    cu = node.cu
    chroma = "" if cu.chroma_mode is None else \
        f" chroma {cu.chroma_mode}{' (DM)' if cu.intra_chroma_pred_mode == 4 else ''}"
    cbf = " ".join(f"{c}{''.join(map(str, flags))}" for c, flags in cu.cbf.items())
    nn = "" if cu.nn_compress_flag is None else f" nn_compress_flag {cu.nn_compress_flag}" + \
        ("" if cu.nn_level is None else f" level {cu.nn_level}")
    lines.append(f"{pad}CU {cu.size}x{cu.size} ({cu.x},{cu.y}) qp {cu.qp}{nn} {cu.part_mode} luma "
                 f"{','.join(map(str, cu.luma_modes))}{chroma} cbf {cbf}: {cu.bits:.1f} bits "
                 f"({cu.bits / (cu.size * cu.size):.3f} bpp)")


def inspect_file(path: str | Path) -> Inspection:
    return inspect_bitstream(Path(path).read_bytes(), str(path))
