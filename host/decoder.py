"""Host picture decoding (normative): parse each CTU, reconstruct its CUs, then the loop filters.

The loop filters run in order: deblocking, the neural loop filter, the adaptive loop filter.

Parsing never depends on samples, so a CTU is parsed completely before its CUs are reconstructed.
Every loop is bounded by the picture geometry; a corrupt substream ends in ``BitstreamError``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from bitstream.container import PictureHeader
from bitstream.errors import BitstreamError
from bitstream.syntax_coder import SyntaxCoder, SyntaxReader
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.alf import AlfCtbFlags, alf_picture
from host.deblock import deblock_picture
from host.edges import EdgeMap
from host.partition import CodingNode, CodingUnit, CuMode, ParseState, PictureGeometry
from host.reconstruct import PictureBuffer
from host.syntax import LoopFilterCtbFlags, NNTreeParams, TreeSyntax, coding_tree_unit

# The neural loop filter as the host decoder sees it: (deblocked planes, the picture's edges, CTU flags)
# -> output planes, which may be the deblocked planes filtered in place (implemented in
# nntools.loop_filter.picture, injected by the caller like the NN region decoder).
PostFilter = Callable[[list[np.ndarray], EdgeMap, LoopFilterCtbFlags], list[np.ndarray]]


class NNRegionDecoder(Protocol):
    """The neural tool as the host decoder sees it (implemented in hybridcodec.nn_blocks)."""
    params: NNTreeParams

    def decode_cu(self, cu: CodingUnit) -> list[np.ndarray]:
        """The next NN-coded CU's samples, one array per component, from the NN substream."""

    def finish(self) -> None:
        """Check that the NN substream was consumed exactly."""


@dataclass
class DecodedPicture:
    planes: list[np.ndarray]                 # coded size, after the loop filters
    ctus: list[CodingNode] = field(default_factory=list)   # empty unless decoded with keep_structure
    bits_by_category: dict[str, float] = field(default_factory=dict)
    lf_flags: LoopFilterCtbFlags | None = None   # nn_lf_ctb_flag of every CTU (nn_lf_enabled_flag = 1)
    alf_flags: AlfCtbFlags | None = None         # alf_ctb_flag of every CTU (alf_enabled_flag = 1)
    edges: EdgeMap | None = None                 # the deblocking edges of the coding structure

    @property
    def cus(self) -> list[CodingUnit]:
        return [cu for root in self.ctus for cu in root.leaves()]


def end_of_ctu(sc: SyntaxCoder, is_last: bool) -> None:
    """end_of_slice_segment_flag after every CTU: 1 only after the last one."""
    sc.category = "partition"
    flag = sc.terminate(int(is_last))
    sc.trace("end_of_slice_segment_flag", flag)
    if sc.reading and flag != int(is_last):
        raise BitstreamError("end_of_slice_segment_flag does not match the picture size")


def loop_filter(planes: list[np.ndarray], edges: EdgeMap, geo: PictureGeometry, qp: int,
                bit_depth: int, in_place: bool = False) -> list[np.ndarray]:
    bs_ver, bs_hor = edges.strengths()
    qp_map = np.full((geo.coded_height // 4, geo.coded_width // 4), qp, dtype=np.int32)
    return deblock_picture(planes, bs_ver, bs_hor, qp_map, geo.chroma_format, bit_depth, in_place=in_place)


def decode_host(header: PictureHeader, payload: bytes, trace_sink=None,
                nn: NNRegionDecoder | None = None, post_filter: PostFilter | None = None,
                keep_structure: bool = True) -> DecodedPicture:
    """The coding tree of the host substream; CUs with nn_compress_flag = 1 are reconstructed by ``nn``
    (required when nn_compress_enable_flag = 1), and the deblocked picture goes through ``post_filter``
    (required when nn_lf_enabled_flag = 1).  Without ``keep_structure`` each CTU's coding tree is
    dropped once it is reconstructed (only its edges are kept), so memory holds samples, not records."""
    geo = PictureGeometry.from_header(header)
    if header.nn_compress_enable_flag and nn is None:
        raise BitstreamError("picture uses the neural tool but no NN substream decoder was given")
    if header.nn_lf_enabled_flag and post_filter is None:
        raise BitstreamError("picture uses the neural loop filter but no loop filter was given")
    sc = SyntaxReader(CONTEXT_TABLE, header.pic_qp, payload, header.context_init_flag)
    sc.trace_sink = trace_sink
    lf = LoopFilterCtbFlags.from_header(header, geo)
    alf = AlfCtbFlags.from_header(header, geo)
    syntax = TreeSyntax(geo, ParseState(geo), HOST_CONTEXTS, nn.params if nn is not None else None, lf, alf)
    buf = PictureBuffer(geo, header.BitDepth)
    edges = EdgeMap(geo, header.nn_deblocking_enabled_flag)
    origins = geo.ctu_origins()
    ctus = []
    for i, (x, y) in enumerate(origins):
        root = coding_tree_unit(syntax, sc, x, y)
        for cu in root.leaves():
            if cu.mode == CuMode.NN:
                samples = nn.decode_cu(cu)
                if cu.nn_residual:
                    samples = buf.add_nn_residual(cu, samples)
                buf.reconstruct_nn_cu(cu, samples, header.pic_qp, header.dst4_enabled_flag)
            else:
                buf.reconstruct_cu(cu, header.pic_qp, header.dst4_enabled_flag)
            cu.coeffs = [None] * len(cu.coeffs)      # levels are not needed once reconstructed
            edges.add(cu)
        end_of_ctu(sc, i == len(origins) - 1)
        if keep_structure:
            ctus.append(root)
    if nn is not None:
        nn.finish()
    planes = buf.planes               # filtered in place from here on: one picture in memory
    del buf
    if header.deblocking_enabled_flag:
        planes = loop_filter(planes, edges, geo, header.pic_qp, header.BitDepth, in_place=True)
    if lf is not None:
        planes = post_filter(planes, edges, lf)
    if alf is not None:
        planes = alf_picture(planes, header, alf, in_place=True)
    return DecodedPicture(planes, ctus, dict(sc.bits_by_category), lf, alf, edges)
