"""Host picture encoder (encoder-only): decide every CTU first, then serialise the decisions.

The serialisation pass runs the same syntax functions as the decoder on a ``SyntaxWriter``; the final
reconstruction comes from the normative reconstruction and loop filter, so it is what the decoder makes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bitstream.container import PictureHeader
from bitstream.syntax_coder import RateEstimator, SyntaxWriter
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.decoder import end_of_ctu, loop_filter
from host.encoder.search import CtuSearch, SearchConfig
from host.partition import CodingNode, CodingUnit, ParseState, PictureGeometry
from host.reconstruct import PictureBuffer
from host.syntax import TreeSyntax, coding_tree_unit


@dataclass
class HostEncoding:
    payload: bytes
    planes: list[np.ndarray]               # the decoder's reconstruction, coded size
    ctus: list[CodingNode]
    bits_by_category: dict[str, float] = field(default_factory=dict)

    @property
    def cus(self) -> list[CodingUnit]:
        return [cu for root in self.ctus for cu in root.leaves()]


def serialise(header: PictureHeader, geo: PictureGeometry, ctus: list[CodingNode],
              trace_sink=None) -> tuple[bytes, dict[str, float]]:
    sc = SyntaxWriter(CONTEXT_TABLE, header.qp)
    sc.trace_sink = trace_sink
    syntax = TreeSyntax(geo, ParseState(geo), HOST_CONTEXTS)
    for i, root in enumerate(ctus):
        coding_tree_unit(syntax, sc, root.x, root.y, root)
        end_of_ctu(sc, i == len(ctus) - 1)
    return sc.finish(), dict(sc.bits_by_category)


def encode_host(header: PictureHeader, original: list[np.ndarray], cfg: SearchConfig,
                trace_sink=None, progress=None) -> HostEncoding:
    """``original``: planes at the coded size (padded by the caller)."""
    geo = PictureGeometry.from_header(header)
    buf = PictureBuffer(geo, header.bit_depth)
    state = ParseState(geo)
    est = RateEstimator(CONTEXT_TABLE, header.qp)
    search = CtuSearch(geo, header.qp, header.bit_depth, original, buf, state,
                       TreeSyntax(geo, state, HOST_CONTEXTS), est, cfg,
                       rd_sink=getattr(trace_sink, "rd_sink", None))   # the trace's rd channel
    ctus = []
    for x, y in geo.ctu_origins():
        ctus.append(search.search_ctu(x, y))
        est.terminate(0)
        if progress is not None:
            progress.update(1)
    payload, bits = serialise(header, geo, ctus, trace_sink)
    planes = buf.planes
    if header.deblocking_enabled:
        planes = loop_filter(planes, [cu for r in ctus for cu in r.leaves()], geo, header.qp,
                             header.bit_depth)
    return HostEncoding(payload, planes, ctus, bits)
