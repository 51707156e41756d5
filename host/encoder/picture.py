"""Host picture encoder (encoder-only): decide every CTU first, then serialise the decisions.

The serialisation pass runs the same syntax functions as the decoder on a ``SyntaxWriter``; the final
reconstruction comes from the normative reconstruction and loop filter, so it is what the decoder makes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bitstream.container import PictureHeader
from bitstream.syntax_coder import RateEstimator, SyntaxWriter
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.alf import AlfCtbFlags
from host.decoder import end_of_ctu, loop_filter
from host.edges import EdgeMap, edge_map
from host.encoder.packed import PackedCtus
from host.encoder.alf import AlfSearchConfig
from host.encoder.loop_filters import decide_loop_filters
from host.encoder.search import CtuSearch, SearchConfig
from host.encoder.wavefront import search_picture
from host.partition import CodingNode, CodingUnit, CuMode, ParseState, PictureGeometry
from host.reconstruct import PictureBuffer
from host.syntax import LoopFilterCtbFlags, NNTreeParams, TreeSyntax, coding_tree_unit


@dataclass
class HostEncoding:
    header: PictureHeader                  # as written: without NN syntax if no CU chose the NN
    payload: bytes
    planes: list[np.ndarray]               # the decoder's reconstruction, coded size
    ctus: Sequence[CodingNode]             # PackedCtus: unpacked CTU by CTU on access
    bits_by_category: dict[str, float] = field(default_factory=dict)
    lf: LoopFilterCtbFlags | None = None    # nn_lf_ctb_flag of every CTU, when the loop filter is on
    lf_stats: dict = field(default_factory=dict)   # the loop-filter search's decisions
    alf: AlfCtbFlags | None = None          # alf_ctb_flag of every CTU, when the adaptive loop filter is on
    alf_stats: dict = field(default_factory=dict)  # the adaptive loop filter's decisions

    @property
    def cus(self) -> list[CodingUnit]:
        return [cu for root in self.ctus for cu in root.leaves()]

    @property
    def edges(self) -> EdgeMap:
        cus = (cu for root in self.ctus for cu in root.leaves())
        return edge_map(cus, PictureGeometry.from_header(self.header), self.header.nn_deblocking_enabled_flag)


def serialise(header: PictureHeader, geo: PictureGeometry, ctus: Sequence[CodingNode], trace_sink=None,
              nn_params: NNTreeParams | None = None,
              lf: LoopFilterCtbFlags | None = None, alf: AlfCtbFlags | None = None) -> tuple[bytes, dict[str, float]]:
    sc = SyntaxWriter(CONTEXT_TABLE, header.pic_qp, header.context_init_flag)
    sc.trace_sink = trace_sink
    syntax = TreeSyntax(geo, ParseState(geo), HOST_CONTEXTS, nn_params, lf, alf)
    for i, root in enumerate(ctus):
        coding_tree_unit(syntax, sc, root.x, root.y, root)
        end_of_ctu(sc, i == len(ctus) - 1)
    return sc.finish(), dict(sc.bits_by_category)


def encode_host(header: PictureHeader, original: list[np.ndarray], cfg: SearchConfig,
                trace_sink=None, progress=None, nn=None, rd_sink=None, post_search=None,
                workers: int = 1, alf_search: AlfSearchConfig | None = None) -> HostEncoding:
    """``original``: planes at the coded size (padded by the caller).  ``nn``: the NN candidate
    provider of a hybrid picture (``hybridcodec.encoder.nn_search.NNCandidates``), None for host-only:
    then the CTUs are searched in a wavefront (``host.encoder.wavefront``) by ``workers`` processes.
    ``trace_sink``: the syntax trace of the serialisation; ``rd_sink``: the search's decisions.
    ``post_search(header, deblocked planes, edges) -> (header, CTU flags, planes, stats)``: the neural
    loop filter's decisions (``nntools.encoder.loop_filter``), None to leave it off.  ``alf_search``: the
    adaptive loop filter's search options (``host.encoder.alf``), None to leave it off."""
    geo = PictureGeometry.from_header(header)
    buf = PictureBuffer(geo, header.BitDepth)
    state = ParseState(geo)
    est = RateEstimator(CONTEXT_TABLE, header.pic_qp, header.context_init_flag)
    nn_params = nn.params if nn is not None else None
    search = CtuSearch(geo, header.pic_qp, header.BitDepth, original, buf, state,
                       TreeSyntax(geo, state, HOST_CONTEXTS, nn_params), est, cfg,
                       rd_sink=rd_sink, nn=nn)
    if nn is None:
        ctus = search_picture(search, search_ctu, 1 if rd_sink is not None else workers, progress)
    else:
        ctus = PackedCtus()
        for x, y in geo.ctu_origins():
            root = search_ctu(search, x, y)
            nn.commit(root)
            ctus.append(root)
            est.terminate(0)
            if progress is not None:
                progress.update(1)
    edges = edge_map(ctus.cus(), geo, header.nn_deblocking_enabled_flag)
    if nn is not None and not edges.nn_units.any():
        header, nn_params = header.without_nn(), None     # same decisions and samples, no flags to pay
    planes = buf.planes
    if header.deblocking_enabled_flag:
        planes = loop_filter(planes, edges, geo, header.pic_qp, header.BitDepth, in_place=True)
    header, lf, lf_stats, alf, alf_stats, planes = decide_loop_filters(header, original, planes, edges, search.lam,
                                                                       post_search, alf_search)
    payload, bits = serialise(header, geo, ctus, trace_sink, nn_params, lf, alf)
    return HostEncoding(header, payload, planes, ctus, bits, lf, lf_stats, alf, alf_stats)


def trace_encoding(encoding: HostEncoding, trace_sink, nn_params: NNTreeParams | None = None) -> None:
    """Write the syntax trace of a finished encoding: serialisation is deterministic, so this is the
    trace of ``encoding.payload`` (for an encoder that picks between several searched pictures)."""
    serialise(encoding.header, PictureGeometry.from_header(encoding.header), encoding.ctus, trace_sink, nn_params,
              encoding.lf, encoding.alf)


def search_ctu(search: CtuSearch, x: int, y: int) -> CodingNode:
    """One CTU's decisions.  With nn_delta_level enabled, a CTU whose search chose NN CUs is searched
    again at the delta its NN CUs prefer (``nn.best_delta``), and the cheaper of the two is kept."""
    state = search.state
    state.ctu_delta_level = None
    nn, log2 = search.nn, search.geo.ctu_log2
    if nn is None or not nn.params.delta_level_enabled:
        return search.search_node(x, y, log2, 0)[1]
    nn.delta = 0
    start = search._checkpoint(x, y, 1 << log2)
    cost, root = search.search_node(x, y, log2, 0)
    delta = nn.best_delta([cu for cu in root.leaves() if cu.mode == CuMode.NN], search.lam)
    if delta:
        first = search._checkpoint(x, y, 1 << log2)
        search._restore(start)
        nn.delta = delta
        cost_delta, root_delta = search.search_node(x, y, log2, 0)
        nn.delta = 0
        if cost_delta < cost:
            return root_delta
        search._restore(first)
    return root
