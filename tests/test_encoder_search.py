"""The RD search's shortcuts are exact: the batched candidate evaluation costs what trying candidates one
by one costs, a CU's luma-then-chroma rate equals its rate in syntax order, and the speed heuristics
still produce bitstreams that decode to the encoder's reconstruction."""
import numpy as np
import pytest

from bitstream.syntax_coder import RateEstimator
from host.contexts import CONTEXT_TABLE, HOST_CONTEXTS
from host.encoder.picture import encode_host
from host.encoder.search import CtuSearch, SearchConfig
from host.intra import chroma_candidate_modes, predict_all_modes_unchecked
from host.partition import CodingUnit, ParseState, PictureGeometry, component_blocks
from host.reconstruct import PictureBuffer
from host.syntax import TreeSyntax
from hybridcodec import Encoder, EncoderConfig, decode
from hybridcodec.encoder.source import prepare_source
from pictures import synthetic_rgb


def make_search(image: np.ndarray, cfg: SearchConfig, **options) -> CtuSearch:
    encoder = Encoder(EncoderConfig(**{"mode": "host", **options}))
    src = prepare_source(image, encoder.config)
    header = encoder.header_for(src)
    geo = PictureGeometry.from_header(header)
    state = ParseState(geo)
    return CtuSearch(geo, header.pic_qp, header.BitDepth, src.planes, PictureBuffer(geo, header.BitDepth), state,
                     TreeSyntax(geo, state, HOST_CONTEXTS), RateEstimator(CONTEXT_TABLE, header.pic_qp), cfg)


@pytest.mark.parametrize("rdoq", [False, True])
@pytest.mark.parametrize("chroma_format,log2", [("420", 3), ("444", 3), ("420", 4), ("420", 5)])
def test_batched_candidates_cost_what_single_trials_cost(rdoq, chroma_format, log2):
    """Code a first CU, then cost luma and chroma modes of its right neighbour both ways: batched
    (one candidate per call, to read each cost) and tried one by one with the sequential coder."""
    search = make_search(synthetic_rgb(64, 96, seed=log2), SearchConfig(rdoq=rdoq), qp=27,
                         chroma_format=chroma_format)
    first = CodingUnit(0, 0, log2)
    search.state.mark_cu(first, 0)
    search._decide_luma(first)
    search._decide_chroma(first)
    cu = CodingUnit(1 << log2, 0, log2)
    search.state.mark_cu(cu, 0)
    blocks = component_blocks(cu, search.geo)
    cu.cbf, cu.coeffs = [0] * len(blocks), [None] * len(blocks)
    preds = predict_all_modes_unchecked(search.buf.reference(blocks[0]), 1 << log2, True, search.bit_depth)

    def code_luma_mode(mode):
        cu.luma_modes = [mode]
        search.syntax.luma_intra_modes(search.est, cu)
    for mode in (0, 1, 7, 10, 18, 26, 33):
        start = search._checkpoint(cu.x, cu.y, cu.size)
        batched = search._try_single_blocks(cu, [mode], blocks, [0], preds[[mode]][:, None], code_luma_mode,
                                          "luma")[0]
        search._restore(start)
        assert batched == search._try(cu, lambda: search._code_luma(cu, 0, mode))

    search._code_luma(cu, 0, 26)
    modes = chroma_candidate_modes(26)
    chroma = [i for i, b in enumerate(blocks) if b.c_idx > 0]

    def code_chroma_mode(idx):
        cu.chroma_mode_idx, cu.chroma_mode = idx, modes[idx]
        search.syntax.chroma_intra_mode(search.est, cu)
    for idx in range(5):
        start = search._checkpoint(cu.x, cu.y, cu.size)
        preds = np.stack([[search.buf.predict_block(blocks[i], modes[idx]) for i in chroma]])
        batched = search._try_single_blocks(cu, [idx], blocks, chroma, preds, code_chroma_mode, "chroma")[0]
        search._restore(start)
        cu.chroma_mode_idx, cu.chroma_mode = idx, modes[idx]
        assert batched == search._try(cu, lambda: search._code_chroma(cu, chroma, blocks))


def test_luma_then_chroma_rate_equals_syntax_order_rate():
    """search_cu counts a CU's bits coding all luma before all chroma; the bitstream interleaves them.
    Both must give the same bits and leave the same context states (luma and chroma contexts are
    disjoint)."""
    enc = Encoder(EncoderConfig(qp=27, mode="host"))           # the encoder's CUs: the decoder drops levels
    src = prepare_source(synthetic_rgb(96, 136, seed=4), enc.config)
    coded = encode_host(enc.header_for(src), src.planes, enc.search_config())
    geo = PictureGeometry.from_header(coded.header)
    coders = []
    for _ in range(2):
        state = ParseState(geo)
        coders.append((TreeSyntax(geo, state, HOST_CONTEXTS), RateEstimator(CONTEXT_TABLE, coded.header.pic_qp)))
    (in_order, est_a), (luma_first, est_b) = coders
    for cu in coded.cus:
        depth = geo.ctu_log2 - cu.log2_size
        in_order.coding_unit(est_a, cu.x, cu.y, cu.log2_size, depth, cu)
        luma_first.state.mark_cu(cu, depth)
        blocks = component_blocks(cu, geo)
        luma_first.luma_intra_modes(est_b, cu)
        for i, blk in enumerate(blocks):
            if blk.c_idx == 0:
                luma_first.transform_block(est_b, cu, i, blk)
        luma_first.chroma_intra_mode(est_b, cu)
        for i, blk in enumerate(blocks):
            if blk.c_idx > 0:
                luma_first.transform_block(est_b, cu, i, blk)
        assert est_a.frac == est_b.frac
    assert est_a.snapshot().prob0 == est_b.snapshot().prob0
    assert est_a.snapshot().prob1 == est_b.snapshot().prob1


@pytest.mark.parametrize("options", [
    dict(zero_cbf_split_stop=True),
    dict(large_cu_bottom_up=True),
    dict(large_cu_bottom_up=True, ctu_size=64, max_tu_size=32),
    dict(chroma_rd_modes=1),
    dict(chroma_rd_modes=2, chroma_format="444", min_cu_size=4),
    dict(zero_cbf_split_stop=False, large_cu_bottom_up=False, chroma_rd_modes=5, rdoq=True),
])
def test_heuristics_keep_decoder_and_encoder_in_step(options):
    image = synthetic_rgb(96, 136, seed=8)
    result = Encoder(EncoderConfig(qp=32, mode="host", **options)).encode(image)
    assert np.array_equal(decode(result.bitstream), result.reconstruction)
