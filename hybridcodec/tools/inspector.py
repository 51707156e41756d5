"""Bitstream inspector: the decoder run with a sink that keeps every syntax element as data.

``inspect_bitstream(data)`` decodes the picture with :class:`ElementCollector` as the trace sink, so
what it reports is exactly what the decoder parsed (no second parser): the picture header (as
``bitstream.container.picture_header`` parses and traces it), the
substreams, per CTU the coding tree (CU sizes and positions, intra modes, QP, coded-block flags; in
hybrid pictures nn_compress_flag and the NN level) and the bits spent per syntax category, per CU, and
per pixel; for a picture the neural tool codes as patches, the patch grid (the decoder's own
``nntools.patches.PatchGrid`` of the header).  ``format_text`` and ``to_json`` render it;
``hybridcodec.tools.plots.inspection_map`` draws it.

Element bits are the decoder's estimates from its context states (the same numbers as the trace),
so per-CTU and per-CU sums add up to the estimated total, which is within a few bytes of the real
substream size.  The NN substream has no element trace: its CUs are decoded through
:class:`NNLatentMeter`, which gives each NN-coded CU the ideal code length of the latent values it
read (the same estimate the encoder's RD search uses).  What the rANS stream spends beyond that (the
lanes' final states and the log2_lanes byte) is the picture-level category ``nn_flush``, counted in
no CTU or CU.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bitstream.container import (NN_FLAG_BYPASS, NN_FLAG_ONE_CONTEXT, NN_PATCH_SIZES, PictureHeader, SubstreamType,
                                 read_container)
from bitstream.errors import BitstreamError
from bitstream.header_coder import CONTAINER_CATEGORY, HEADER_CATEGORY, NN_STREAM_CATEGORY
from host.decoder import decode_host
from host.partition import UNIT, CodingNode, CodingUnit, CuMode, PictureGeometry, component_blocks, visible_area
from hybridcodec.decoder import DecodeResult, decode_full, loop_filter_for
from hybridcodec.picture import output_picture

COMPONENT_NAMES = ("Y", "Cb", "Cr")
CHROMA_POSITIONED = frozenset({"cbf_cb", "cbf_cr"})      # elements whose x, y are chroma coordinates
CTU_END = "end_of_slice_segment_flag"
FLAG_CODING_NAMES = {0: "contexts", NN_FLAG_ONE_CONTEXT: "one context", NN_FLAG_BYPASS: "bypass"}


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
        self.header: dict[str, object] = {}      # picture_header() elements in coding order
        self.nn_stream: dict[str, object] = {}   # nn_picture() and the block codec's own prefix elements
        self._ctu = 0

    def element(self, name: str, value, where: dict, bits: float, category: str) -> None:
        if category == HEADER_CATEGORY:
            self.header[name] = value
        if category == NN_STREAM_CATEGORY:
            self.nn_stream[name] = value
        if category in (HEADER_CATEGORY, CONTAINER_CATEGORY, NN_STREAM_CATEGORY):
            return
        self.elements.append(Element(self._ctu, name, value, dict(where), bits, category))
        if name == CTU_END:
            self._ctu += 1


class NNLatentMeter:
    """Decodes NN-coded CUs with the picture's ``NNBlockDecoder`` (same samples, same checks) and
    records per CU the bits its block codec reports for it: the ``bits`` its open stream counts (for the
    built-in codec, the ideal code length of the latents read).  A codec that does not count them has
    its whole substream spread over its CUs by area, and no ``nn_flush``."""

    def __init__(self, decoder, payload_bytes: int) -> None:
        self.decoder, self.payload_bytes = decoder, payload_bytes
        self.params = decoder.params
        self.bits: dict[tuple[int, int], float] = {}
        self._areas: dict[tuple[int, int], int] = {}
        self.counted = decoder.stream is None or getattr(decoder.stream, "bits", None) is not None

    def decode_cu(self, cu: CodingUnit) -> list[np.ndarray]:
        start = self.decoder.stream.bits if self.counted and self.decoder.stream is not None else 0.0
        planes = self.decoder.decode_cu(cu)
        self.bits[(cu.x, cu.y)] = self.decoder.stream.bits - start if self.counted else 0.0
        self._areas[(cu.x, cu.y)] = cu.size * cu.size
        return planes

    def finish(self) -> None:
        self.decoder.finish()
        if not self.counted:
            total = sum(self._areas.values())
            self.bits = {xy: 8.0 * self.payload_bytes * a / total for xy, a in self._areas.items()}


@dataclass
class CuInfo:
    x: int
    y: int
    size: int
    depth: int
    qp: int
    part_mode: str                       # "2Nx2N" or "NxN"
    luma_modes: list[int]                # per prediction block (NN-coded CUs: DC, inferred)
    intra_chroma_pred_mode: int | None   # coded index (4 = DM); None in 4:0:0
    chroma_mode: int | None              # derived chroma intra mode
    cbf: dict[str, list[int]]            # per component, transform blocks in coding order (NN CUs: host chroma only)
    transform_skip: dict[str, list[int]] = field(default_factory=dict)   # transform_skip_flag, same layout
    bits: float = 0.0
    bits_by_category: dict[str, float] = field(default_factory=dict)
    coding: str = "host"                 # "host", or "nn" for a CU coded by the neural tool (hybrid)
    nn_compress_flag: int | None = None  # coded or inferred; None when nn_compress_enable = 0
    nn_level: int | None = None          # Level_Final of an NN-coded CU
    nn_residual: int | None = None       # NN-coded CU: 1 residual of the planar prediction, 2 minus a coded DC
    nn_dc: list[int] | None = None       # NN-coded CU in DC mode: nn_dc_offset per NN-coded component
    nn_compress_flag_cbcr: int | None = None   # NN-coded CU with separate chroma: 1 NN chroma, 0 host chroma


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
    nn_delta_level: int | None = None    # coded with the CTU's first NN-coded CU when enabled
    nn_lf_ctb_flag: list[int] | None = None   # loop filter on (1) per component [luma, chroma]; coded or inferred
    alf_ctb_flag: list[int] | None = None     # adaptive loop filter on (1) per component [Y, Cb, Cr]; coded or inferred

    @property
    def cus(self) -> list[CuInfo]:
        return list(self.tree.leaves())


@dataclass
class NnRegion:
    """A picture coded entirely by the neural tool (luma samples of the coded picture)."""
    x: int
    y: int
    width: int
    height: int
    level: int
    bits: float
    elements: dict = field(default_factory=dict)    # the block codec's traced prefix elements (log2_lanes)


@dataclass
class NnPatch:
    """One patch of a picture coded by the neural tool as patches (nntools.patches): the region it
    codes, in luma samples of the 16-aligned picture (the decoder crops past the coded picture)."""
    index: int                           # decoding order (raster order of patches)
    x: int
    y: int
    width: int
    height: int


def patch_grid(header: PictureHeader):
    """The ``nntools.patches.PatchGrid`` of a picture coded as patches, None for any other picture."""
    if not (header.nn_compress_enable_flag and header.NnPatchSize):
        return None
    from nntools.patches import PatchGrid
    geo = PictureGeometry.from_header(header)
    return PatchGrid(geo.coded_width, geo.coded_height, header.NnPatchSize)


@dataclass
class Inspection:
    file: str | None
    bytes: int
    width: int
    height: int
    mode: str                            # "host", "hybrid" (NN-coded CUs possible) or "nn" (whole picture)
    header: dict[str, object]            # picture_header() elements by their SYNTAX.md names
    substreams: list[dict[str, object]]
    bits_by_category: dict[str, float]
    ctus: list[CtuInfo] = field(default_factory=list)
    nn_regions: list[NnRegion] = field(default_factory=list)
    nn_patches: list[NnPatch] = field(default_factory=list)        # whole-picture NN coding as patches
    area_by_mode: dict[str, float] = field(default_factory=dict)   # share of the picture per path
    nn_base_level: int | None = None     # hybrid: Level_Map[bit depth][QP] + nn_level_offset, clipped
    picture: np.ndarray | None = field(default=None, repr=False)   # decoded output (not in JSON)
    bits_map: np.ndarray | None = field(default=None, repr=False)  # estimated bits per luma sample,
                                                                   # coded size (padding included)

    @property
    def bpp(self) -> float:
        return 8 * self.bytes / (self.width * self.height)

    @property
    def cus(self) -> list[CuInfo]:
        return [cu for ctu in self.ctus for cu in ctu.cus]


def inspect_bitstream(data: bytes, file: str | None = None) -> Inspection:
    """Decode ``data`` and describe it; raises ``BitstreamError`` where the decoder would."""
    collector = ElementCollector()
    result, meter = _decode(data, collector)
    header = result.header
    _, substreams = read_container(bytes(data))
    info = Inspection(file, len(data), header.PicWidthInLumaSamples, header.PicHeightInLumaSamples, "host",
                      collector.header,
                      [{"type": kind.name, "bytes": len(payload)} for kind, payload in substreams], {},
                      area_by_mode={"host": 1.0, "nn": 0.0}, picture=result.picture)
    geo = PictureGeometry.from_header(header)
    if result.host is None:
        payload = dict(substreams)[SubstreamType.NN_LATENTS]
        info.mode = "nn"
        info.area_by_mode = {"host": 0.0, "nn": 1.0}
        # nn_picture()'s nn_level and the codec's traced prefix (SYNTAX.md §7); its payload has no element trace
        bits = 8.0 * len(payload)
        elements = {k: v for k, v in collector.nn_stream.items() if k != "nn_level"}
        info.nn_regions = [NnRegion(0, 0, geo.coded_width, geo.coded_height, collector.nn_stream["nn_level"], bits,
                                    elements)]
        info.bits_by_category = {"nn_latents": bits}
        grid = patch_grid(header)
        if grid is not None:
            info.nn_patches = [NnPatch(k, x, y, *grid.shape_at(x, y)[::-1]) for k, (x, y) in enumerate(grid.origins())]
        info.bits_map = np.full((geo.coded_height, geo.coded_width), bits / (geo.coded_width * geo.coded_height))
        return info
    info.ctus, info.bits_map = _describe_host(result.host.ctus, collector.elements, geo, header, meter)
    lf = result.host.lf_flags
    if lf is not None:
        per_row = lf.flags.shape[2]
        for ctu in info.ctus:
            ctu.nn_lf_ctb_flag = [int(v) for v in lf.flags[:, ctu.index // per_row, ctu.index % per_row]]
    alf = result.host.alf_flags
    if alf is not None:
        per_row = alf.flags.shape[2]
        for ctu in info.ctus:
            ctu.alf_ctb_flag = [int(v) for v in alf.flags[:, ctu.index // per_row, ctu.index % per_row]]
    info.bits_by_category = _sum_categories(collector.elements)
    if meter is not None:
        info.mode = "hybrid"
        info.nn_base_level = meter.params.base_level
        nn_cus = [cu for cu in info.cus if cu.coding == "nn"]
        latents = sum(meter.bits.values())
        info.bits_by_category["nn_latents"] = latents
        if meter.counted:
            info.bits_by_category["nn_flush"] = 8.0 * meter.payload_bytes - latents
        width, height = header.PicWidthInLumaSamples, header.PicHeightInLumaSamples
        nn_area = sum(visible_area(cu.x, cu.y, cu.size, width, height) for cu in nn_cus) / (width * height)
        info.area_by_mode = {"host": 1.0 - nn_area, "nn": nn_area}
    return info


def _decode(data: bytes, sink: ElementCollector) -> tuple[DecodeResult, NNLatentMeter | None]:
    """``decode_full``, except that the NN-coded CUs of a hybrid picture go through an ``NNLatentMeter``
    (the same dispatch as ``decode_full``'s hybrid branch; every other picture is left to it)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BitstreamError(f"expected bytes, got {type(data).__name__}")
    header, substreams = read_container(bytes(data))
    streams = dict(substreams)
    if not (header.nn_compress_enable_flag and SubstreamType.HOST_CABAC in streams and len(streams) == len(substreams)):
        return decode_full(data, trace_sink=sink), None
    read_container(bytes(data), sink)               # the header's elements
    from hybridcodec.nn_blocks import NNBlockDecoder, block_codec_of
    payload = streams.get(SubstreamType.NN_LATENTS)
    meter = NNLatentMeter(NNBlockDecoder(header, block_codec_of(header), payload, meter=True), len(payload or b""))
    host = decode_host(header, streams[SubstreamType.HOST_CABAC], trace_sink=sink, nn=meter,
                       post_filter=loop_filter_for(header))
    return DecodeResult(header, output_picture(host.planes, header), host), meter


def _describe_host(roots: list[CodingNode], elements: list[Element], geo: PictureGeometry, header: PictureHeader,
                   meter: NNLatentMeter | None) -> tuple[list[CtuInfo], np.ndarray]:
    """CTU descriptions, with each element's bits assigned to its CU and spread over its area.

    Coding-tree flags (split_cu_flag, nn_compress_flag of a node that is split, end_of_slice_segment_flag)
    count for the CTU only; a CU's own nn_compress_flag and nn_delta_level count for the CU."""
    ctus, cu_objects, cu_infos, cu_ctu = [], [], [], []
    for i, root in enumerate(roots):
        tree = _tree(root, 0, header, geo, cu_objects, cu_infos)
        ctus.append(CtuInfo(i, root.x, root.y, 1 << root.log2_size, tree))
        cu_ctu += [i] * (len(cu_objects) - len(cu_ctu))
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
        _add(ctu.bits_by_category, e.category, e.bits)
        if e.name == "nn_delta_level":
            ctu.nn_delta_level = int(e.value)
        if "x" in e.where and "y" in e.where:
            x, y = e.where["x"], e.where["y"]
            if e.name in ("nn_lf_ctb_flag", "alf_ctb_flag"):    # CTU-level: counts for the CTU only
                _spread(bits_map, e.bits, ctu.x, ctu.y, ctu.size)
                continue
            if e.name == "split_cu_flag" or (e.name == "nn_compress_flag" and
                                             cu_objects[cu_map[y // UNIT, x // UNIT]].log2_size != e.where["log2"]):
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
        _add(cu.bits_by_category, e.category, e.bits)
        _spread(bits_map, e.bits, *area)
    if meter is not None:
        for k, cu in enumerate(cu_objects):
            if cu.mode == CuMode.NN:
                bits = meter.bits[(cu.x, cu.y)]
                for counts in (cu_infos[k], ctus[cu_ctu[k]]):
                    counts.bits += bits
                    _add(counts.bits_by_category, "nn_latents", bits)
                _spread(bits_map, bits, cu.x, cu.y, cu.size)
    return ctus, bits_map


def _tree(node: CodingNode, depth: int, header: PictureHeader, geo: PictureGeometry, cu_objects: list[CodingUnit],
          cu_infos: list[CuInfo]) -> TreeNode:
    size = 1 << node.log2_size
    if node.split:
        return TreeNode(node.x, node.y, size, True,
                        [_tree(c, depth + 1, header, geo, cu_objects, cu_infos) for c in node.children])
    cu = node.cu
    info = _cu_info(cu, depth, header, geo)
    cu_objects.append(cu)
    cu_infos.append(info)
    return TreeNode(node.x, node.y, size, False, cu=info)


def _cu_info(cu: CodingUnit, depth: int, header: PictureHeader, geo: PictureGeometry) -> CuInfo:
    cbf: dict[str, list[int]] = {name: [] for name in COMPONENT_NAMES[:geo.num_components]}
    skip: dict[str, list[int]] = {name: [] for name in COMPONENT_NAMES[:geo.num_components]}
    nn = cu.mode == CuMode.NN
    for i, (blk, flag) in enumerate(zip(component_blocks(cu, geo), cu.cbf)):
        if not nn or (blk.c_idx and not cu.nn_cbcr):       # NN CUs: only host-coded chroma has blocks
            cbf[COMPONENT_NAMES[blk.c_idx]].append(int(flag))
            skip[COMPONENT_NAMES[blk.c_idx]].append(int(i in cu.ts_blocks))
    chroma = geo.num_components > 1
    return CuInfo(cu.x, cu.y, cu.size, depth, header.pic_qp, "NxN" if cu.part_nxn else "2Nx2N", list(cu.luma_modes),
                  cu.chroma_mode_idx if chroma else None, cu.chroma_mode if chroma else None, cbf,
                  coding="nn" if nn else "host", nn_compress_flag=int(nn) if header.nn_compress_enable_flag else None,
                  nn_level=cu.nn_level if nn else None, nn_residual=cu.nn_residual if nn else None,
                  nn_dc=list(cu.nn_dc) if nn and cu.nn_dc else None,
                  nn_compress_flag_cbcr=cu.nn_cbcr if nn and header.nn_cbcr_separate_flag else None,
                  transform_skip=skip if header.transform_skip_enabled_flag else {})


def _add(counts: dict[str, float], category: str, bits: float) -> None:
    counts[category] = counts.get(category, 0.0) + bits


def _spread(bits_map: np.ndarray, bits: float, x: int, y: int, size: int) -> None:
    """Add ``bits`` uniformly over the square (clipped to the coded picture)."""
    region = bits_map[y:y + size, x:x + size]
    if region.size:
        region += bits / region.size


def _sum_categories(elements) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in elements:
        _add(out, e.category, e.bits)
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

    def ctu(c: CtuInfo) -> dict:
        out = {"index": c.index, "x": c.x, "y": c.y, "size": c.size, "bits": round(c.bits, 3),
               "bits_by_category": _round_dict(c.bits_by_category)}
        if c.nn_delta_level is not None:
            out["nn_delta_level"] = c.nn_delta_level
        if c.nn_lf_ctb_flag is not None:
            out["nn_lf_ctb_flag"] = c.nn_lf_ctb_flag
        if c.alf_ctb_flag is not None:
            out["alf_ctb_flag"] = c.alf_ctb_flag
        return out | {"coding_tree": node(c.tree)}

    doc = {
        "file": info.file, "bytes": info.bytes, "width": info.width, "height": info.height,
        "bpp": round(info.bpp, 5), "mode": info.mode, "picture_header": info.header,
        "substreams": info.substreams, "area_by_mode": _round_dict(info.area_by_mode, 5),
        "bits_by_category": _round_dict(info.bits_by_category),
    }
    if block_codec(info):
        doc["block_codec"] = block_codec(info)
    if info.nn_base_level is not None:
        doc["nn_base_level"] = info.nn_base_level
    doc |= {"ctus": [ctu(c) for c in info.ctus],
            "nn_regions": [{k: v for k, v in vars(r).items() if v is not None} for r in info.nn_regions]}
    if info.nn_patches:
        doc["nn_patches"] = [vars(p) for p in info.nn_patches]
    return doc


def block_codec(info: Inspection) -> dict | None:
    """The block codec plugin a picture names (nn_model_name, model_id, nn_nondeterministic_flag)."""
    h = info.header
    if not h.get("nn_compress_enable_flag"):
        return None
    return {"name": h["nn_model_name"], "model_id": h["model_id"],
            "deterministic": not h["nn_nondeterministic_flag"]}


def _round_dict(d: dict[str, float], digits: int = 3) -> dict[str, float]:
    return {k: round(v, digits) for k, v in d.items()}


def format_text(info: Inspection, ctus: list[int] | None = None, summary: bool = False) -> str:
    """Readable report: header, substreams, area per path, bits by category, then each CTU's coding
    tree (only the CTUs listed in ``ctus`` when given; one line per CTU with ``summary``)."""
    lines = [f"{info.file or '<bytes>'}: {info.bytes} bytes, {info.width}x{info.height}, "
             f"{info.bpp:.4f} bpp, mode {info.mode}",
             "picture_header()"]
    lines += [f"  {name} = {value}" for name, value in info.header.items()]
    codec = block_codec(info)
    if codec:
        lines.append(f"block codec: {codec['name']}, model id {codec['model_id']}, "
                     + ("deterministic" if codec["deterministic"] else
                        "NOT deterministic (nn_nondeterministic_flag = 1: other machines may decode other samples)"))
    if info.nn_base_level is not None:
        h = info.header
        size = 32 << h["log2_nn_min_cu_size_minus5"]
        lines.append(f"neural tool: base level {info.nn_base_level} (Level_Map[QP] + nn_level_offset), "
                     f"nn_compress_flag on CUs of {size}x{size} and larger, "
                     f"coded with {FLAG_CODING_NAMES[h['nn_flag_coding']]}")
    lines.append("substreams: " + ", ".join(f"{s['type']} {s['bytes']} bytes" for s in info.substreams))
    n_nn = sum(cu.coding == "nn" for cu in info.cus)
    lines.append("area: " + ", ".join(f"{mode} {100 * share:.1f}%" for mode, share in info.area_by_mode.items())
                 + (f" ({n_nn} of {len(info.cus)} CUs NN-coded)" if info.mode == "hybrid" else ""))
    lines.append("bits by category: " + _categories(info.bits_by_category))
    if "nn_flush" in info.bits_by_category:
        lines.append("  (nn_latents: ideal code length of each NN CU's latents; nn_flush: the rest of the "
                     "NN substream, rANS lane states and log2_lanes, in no CU)")
    for r in info.nn_regions:
        lines.append(f"NN region ({r.x},{r.y}) {r.width}x{r.height}: nn_level = {r.level}"
                     + "".join(f", {k} = {v}" for k, v in r.elements.items())
                     + f", {r.bits:.0f} bits")
    if info.nn_patches:
        h = info.header
        columns = len({p.x for p in info.nn_patches})
        lines.append(f"NN patches: {len(info.nn_patches)} ({columns} x {len(info.nn_patches) // columns}) of at most "
                     f"P = {NN_PATCH_SIZES[h['nn_patch_size_idc']]} luma samples, one latent field synthesised "
                     "as a whole; in decoding order:")
        lines += [f"  patch {p.index} ({p.x},{p.y}) {p.width}x{p.height}" for p in info.nn_patches]
    for ctu in info.ctus:
        if ctus is not None and ctu.index not in ctus:
            continue
        cus = ctu.cus
        area = sum(cu.size * cu.size for cu in cus)
        nn_count = sum(cu.coding == "nn" for cu in cus)
        lines.append(f"CTU {ctu.index} ({ctu.x},{ctu.y}) {ctu.size}x{ctu.size}: {len(cus)} CUs"
                     + (f" ({nn_count} NN)" if nn_count else "")
                     + ("" if ctu.nn_delta_level is None else f", nn_delta_level {ctu.nn_delta_level}")
                     + ("" if ctu.nn_lf_ctb_flag is None else
                        f", nn_lf_ctb_flag luma {ctu.nn_lf_ctb_flag[0]} chroma {ctu.nn_lf_ctb_flag[1]}")
                     + ("" if ctu.alf_ctb_flag is None else
                        ", alf_ctb_flag Y {} Cb {} Cr {}".format(*ctu.alf_ctb_flag))
                     + f", {ctu.bits:.1f} bits ({ctu.bits / area:.4f} bpp): " + _categories(ctu.bits_by_category))
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
    nn = "" if cu.nn_compress_flag is None else f" nn_compress_flag {cu.nn_compress_flag}" + \
        ("" if cu.nn_level is None else f" level {cu.nn_level}")
    if cu.coding == "nn" and cu.nn_compress_flag_cbcr == 0:
        cbf = " ".join(f"{c}{''.join(map(str, flags))}" for c, flags in cu.cbf.items() if c != "Y")
        coding = {1: "NN-coded luma residual of the planar prediction",
                  2: f"NN-coded luma minus DC (nn_dc_offset {cu.nn_dc})"}.get(cu.nn_residual, "NN-coded luma") + \
            f", host chroma {cu.chroma_mode}{' (DM)' if cu.intra_chroma_pred_mode == 4 else ''} cbf {cbf}"
    elif cu.coding == "nn":
        coding = {1: "NN-coded residual of the planar prediction",
                  2: f"NN-coded minus DC (nn_dc_offset {cu.nn_dc})"}.get(cu.nn_residual, "NN-coded") + \
            " (inferred: luma DC, chroma DM, no transform blocks)"
    else:
        chroma = "" if cu.chroma_mode is None else \
            f" chroma {cu.chroma_mode}{' (DM)' if cu.intra_chroma_pred_mode == 4 else ''}"
        cbf = " ".join(f"{c}{''.join(map(str, flags))}" for c, flags in cu.cbf.items())
        coding = f"{cu.part_mode} luma {','.join(map(str, cu.luma_modes))}{chroma} cbf {cbf}"
        if any(any(flags) for flags in cu.transform_skip.values()):
            coding += " transform_skip " + " ".join(f"{c}{''.join(map(str, f))}" for c, f in cu.transform_skip.items())
    lines.append(f"{pad}CU {cu.size}x{cu.size} ({cu.x},{cu.y}) qp {cu.qp}{nn} {coding}: {cu.bits:.1f} bits "
                 f"({cu.bits / (cu.size * cu.size):.3f} bpp)")


def inspect_file(path: str | Path) -> Inspection:
    return inspect_bitstream(Path(path).read_bytes(), str(path))
