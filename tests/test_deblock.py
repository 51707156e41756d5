"""Deblocking: behaviour on steps and natural edges, and equality with a per-segment transcription of
HEVC 8.7.2.5 (loops over edges, segments and lines)."""
import numpy as np
import pytest

from bitstream.errors import InputError
from host.deblock import BETA_TABLE, TC_TABLE, deblock_picture
from host.quant import chroma_qp


def _blocky_picture(rng, height, width, amplitude, noise=2, base=500, block=8):
    blocks = rng.integers(-amplitude, amplitude + 1, (height // block, width // block))
    plane = base + np.kron(blocks, np.ones((block, block), dtype=np.int64))
    return (plane + rng.integers(0, noise + 1, (height, width))).astype(np.int32)


def _edge_step(plane, columns=range(8, 10**6, 8)):
    cols = [c for c in columns if c < plane.shape[1]]
    return np.abs(plane[:, cols].astype(np.int64) - plane[:, [c - 1 for c in cols]]).mean()


# ---- literal per-segment transcription ----------------------------------------------------------

def _luma_edge_reference(s, x, y0, bs, qp_p, qp_q, bit_depth):
    """Filter the 4 lines y0..y0+3 across the vertical edge at column x of int plane s (in place)."""
    qpl = (qp_p + qp_q + 1) >> 1
    beta = int(BETA_TABLE[min(max(qpl, 0), 51)]) * (1 << (bit_depth - 8))
    tc = int(TC_TABLE[min(max(qpl + 2 * (bs - 1), 0), 53)]) * (1 << (bit_depth - 8))
    P = lambda i, k: int(s[y0 + k, x - 1 - i])   # noqa: E731  (HEVC p_i,k)
    Q = lambda i, k: int(s[y0 + k, x + i])       # noqa: E731
    dp0, dp3 = abs(P(2, 0) - 2 * P(1, 0) + P(0, 0)), abs(P(2, 3) - 2 * P(1, 3) + P(0, 3))
    dq0, dq3 = abs(Q(2, 0) - 2 * Q(1, 0) + Q(0, 0)), abs(Q(2, 3) - 2 * Q(1, 3) + Q(0, 3))
    d = dp0 + dq0 + dp3 + dq3
    if d >= beta:
        return

    def dsam(k, dpq):
        return (2 * dpq < (beta >> 2) and abs(P(3, k) - P(0, k)) + abs(Q(0, k) - Q(3, k)) < (beta >> 3)
                and abs(P(0, k) - Q(0, k)) < ((5 * tc + 1) >> 1))

    strong = dsam(0, dp0 + dq0) and dsam(3, dp3 + dq3)
    de_p = (dp0 + dp3) < ((beta + (beta >> 1)) >> 3)
    de_q = (dq0 + dq3) < ((beta + (beta >> 1)) >> 3)
    top = (1 << bit_depth) - 1
    clip3 = lambda lo, hi, v: min(max(v, lo), hi)   # noqa: E731
    for k in range(4):
        p0, p1, p2, p3 = (P(i, k) for i in range(4))
        q0, q1, q2, q3 = (Q(i, k) for i in range(4))
        row = y0 + k
        if strong:
            new_p = [clip3(p0 - 2 * tc, p0 + 2 * tc, (p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3),
                     clip3(p1 - 2 * tc, p1 + 2 * tc, (p2 + p1 + p0 + q0 + 2) >> 2),
                     clip3(p2 - 2 * tc, p2 + 2 * tc, (2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3)]
            new_q = [clip3(q0 - 2 * tc, q0 + 2 * tc, (p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3),
                     clip3(q1 - 2 * tc, q1 + 2 * tc, (p0 + q0 + q1 + q2 + 2) >> 2),
                     clip3(q2 - 2 * tc, q2 + 2 * tc, (p0 + q0 + q1 + 3 * q2 + 2 * q3 + 4) >> 3)]
            for i in range(3):
                s[row, x - 1 - i] = new_p[i]
                s[row, x + i] = new_q[i]
            continue
        delta = (9 * (q0 - p0) - 3 * (q1 - p1) + 8) >> 4
        if abs(delta) >= tc * 10:
            continue
        delta = clip3(-tc, tc, delta)
        s[row, x - 1] = clip3(0, top, p0 + delta)
        s[row, x] = clip3(0, top, q0 - delta)
        half = tc >> 1
        if de_p:
            s[row, x - 2] = clip3(0, top, p1 + clip3(-half, half, (((p2 + p0 + 1) >> 1) - p1 + delta) >> 1))
        if de_q:
            s[row, x + 1] = clip3(0, top, q1 + clip3(-half, half, (((q2 + q0 + 1) >> 1) - q1 - delta) >> 1))


def _chroma_line_reference(s, x, row, qp_p, qp_q, chroma_format, bit_depth):
    qpc = chroma_qp((qp_p + qp_q + 1) >> 1, chroma_format)
    tc = int(TC_TABLE[min(max(qpc + 2, 0), 53)]) * (1 << (bit_depth - 8))
    p1, p0, q0, q1 = (int(s[row, x + k]) for k in (-2, -1, 0, 1))
    delta = min(max((((q0 - p0) << 2) + p1 - q1 + 4) >> 3, -tc), tc)
    s[row, x - 1] = min(max(p0 + delta, 0), (1 << bit_depth) - 1)
    s[row, x] = min(max(q0 - delta, 0), (1 << bit_depth) - 1)


def _vertical_pass_reference(plane, bs, qp_map, bit_depth, chroma_format=None, sub=1):
    s = plane.astype(np.int64).copy()
    height, width = s.shape
    if chroma_format is None:
        for x in range(8, width, 8):
            for seg in range(height // 4):
                if bs[seg, x // 8] > 0:
                    _luma_edge_reference(s, x, 4 * seg, int(bs[seg, x // 8]),
                                         int(qp_map[seg, x // 4 - 1]), int(qp_map[seg, x // 4]), bit_depth)
        return s
    for x in range(8, width, 8):
        lx = x * sub
        for row in range(height):
            lrow = (row * sub) // 4
            if bs[lrow, lx // 8] == 2:
                _chroma_line_reference(s, x, row, int(qp_map[lrow, (lx - 1) // 4]),
                                       int(qp_map[lrow, lx // 4]), chroma_format, bit_depth)
    return s


def _deblock_reference(planes, bs_ver, bs_hor, qp_map, chroma_format, bit_depth):
    luma = _vertical_pass_reference(planes[0], bs_ver, qp_map, bit_depth)
    luma = _vertical_pass_reference(luma.T, bs_hor.T, qp_map.T, bit_depth).T
    out = [luma]
    sub = 2 if chroma_format == 1 else 1
    for plane in planes[1:]:
        c = _vertical_pass_reference(plane, bs_ver, qp_map, bit_depth, chroma_format, sub)
        out.append(_vertical_pass_reference(c.T, bs_hor.T, qp_map.T, bit_depth, chroma_format, sub).T)
    return out


# ---- tests --------------------------------------------------------------------------------------

@pytest.mark.parametrize("band", [8, 16, 64])
@pytest.mark.parametrize("chroma_format,bit_depth", [(1, 8), (3, 10), (0, 8)])
def test_matches_per_segment_transcription(chroma_format, bit_depth, band):
    """The banded filter (any band of lines) equals a whole-picture transcription, segment by segment."""
    rng = np.random.default_rng(chroma_format + bit_depth)
    height, width = 48, 64
    scale = 1 << (bit_depth - 8)
    luma = _blocky_picture(rng, height, width, 12 * scale, noise=3 * scale, base=120 * scale)
    luma[:, 40:] = rng.integers(0, 1 << bit_depth, (height, width - 40))   # textured region
    planes = [luma]
    if chroma_format:
        ch, cw = (height // 2, width // 2) if chroma_format == 1 else (height, width)
        planes += [_blocky_picture(rng, ch, cw, 10 * scale, base=128 * scale) for _ in range(2)]
    bs_ver = rng.integers(0, 3, (height // 4, width // 8))
    bs_hor = rng.integers(0, 3, (height // 8, width // 4))
    qp_map = np.kron(rng.integers(22, 48, (height // 8, width // 8)), np.ones((2, 2), dtype=np.int64))
    out = deblock_picture(planes, bs_ver, bs_hor, qp_map, chroma_format, bit_depth, band)
    expected = _deblock_reference(planes, bs_ver, bs_hor, qp_map, chroma_format, bit_depth)
    assert len(out) == len(planes)
    for got, want, original in zip(out, expected, planes):
        assert got.dtype == np.int32
        assert np.array_equal(got, want)
        assert not np.array_equal(got, original)   # the case really filters something


def test_small_step_is_smoothed_at_bs2():
    rng = np.random.default_rng(1)
    planes = [_blocky_picture(rng, 64, 64, 4, noise=0)]
    bs_ver, bs_hor = np.full((16, 8), 2), np.full((8, 16), 2)
    out = deblock_picture(planes, bs_ver, bs_hor, np.full((16, 16), 37), 0, 8)[0]
    assert _edge_step(out) < 0.5 * _edge_step(planes[0])
    assert _edge_step(out.T) < 0.5 * _edge_step(planes[0].T)


def test_natural_edge_above_beta_untouched():
    plane = np.zeros((32, 32), dtype=np.int32)
    plane[:, 16:] = 200                                     # a strong real edge on the grid
    plane += (np.arange(32)[None, :] % 3 == 0).astype(np.int32) * 30   # texture: d >= beta
    out = deblock_picture([plane], np.full((8, 4), 2), np.full((4, 8), 2), np.full((8, 8), 30), 0, 8)[0]
    assert np.array_equal(out, plane)
    # a step of 120 on a flat background passes the d < beta test but the per-line |delta| < 10 tC
    # check leaves it alone at low QP
    step = np.zeros((32, 32), dtype=np.int32)
    step[:, 16:] = 120
    out = deblock_picture([step], np.full((8, 4), 2), np.full((4, 8), 2), np.full((8, 8), 22), 0, 8)[0]
    assert np.array_equal(out, step)


def test_bs_zero_leaves_picture_untouched():
    rng = np.random.default_rng(2)
    planes = [_blocky_picture(rng, 32, 48, 5)] + [_blocky_picture(rng, 16, 24, 5, block=4) for _ in range(2)]
    out = deblock_picture(planes, np.zeros((8, 6), int), np.zeros((4, 12), int), np.full((8, 12), 45), 1, 8)
    for got, original in zip(out, planes):
        assert np.array_equal(got, original)


def test_chroma_filtered_only_at_bs2_on_16_luma_grid_for_420():
    rng = np.random.default_rng(3)
    luma = np.full((32, 64), 128, dtype=np.int32)
    chroma = _blocky_picture(rng, 16, 32, 6, noise=0, block=4)
    bs_ver = np.full((8, 8), 1)
    bs_hor = np.zeros((4, 16), int)
    out = deblock_picture([luma, chroma, chroma], bs_ver, bs_hor, np.full((8, 16), 40), 1, 8)
    assert np.array_equal(out[1], chroma)                   # bS 1: chroma untouched
    bs_ver[:] = 2
    out = deblock_picture([luma, chroma, chroma], bs_ver, bs_hor, np.full((8, 16), 40), 1, 8)
    changed_columns = np.nonzero((out[1] != chroma).any(axis=0))[0]
    assert set(changed_columns) <= {7, 8, 15, 16, 23, 24} and len(changed_columns) > 0


def test_deterministic_and_input_not_modified():
    rng = np.random.default_rng(4)
    planes = [_blocky_picture(rng, 64, 64, 8)] + [_blocky_picture(rng, 32, 32, 8, block=4) for _ in range(2)]
    copies = [p.copy() for p in planes]
    args = (rng.integers(0, 3, (16, 8)), rng.integers(0, 3, (8, 16)), rng.integers(20, 50, (16, 16)), 1, 8)
    first = deblock_picture(planes, *args)
    second = deblock_picture(planes, *args)
    for a, b, original, copy in zip(first, second, planes, copies):
        assert np.array_equal(a, b)
        assert np.array_equal(original, copy)


def test_output_clipped_to_bit_depth():
    plane = np.zeros((16, 16), dtype=np.int32)
    plane[:, 8:] = 1023
    plane[:, :8] = 1000
    out = deblock_picture([plane], np.full((4, 2), 2), np.full((2, 4), 2), np.full((4, 4), 51), 0, 10)[0]
    assert out.min() >= 0 and out.max() <= 1023 and not np.array_equal(out, plane)


@pytest.mark.parametrize("bad", [
    dict(planes=[np.zeros((12, 16), np.int32)]),
    dict(bs_ver=np.zeros((4, 3), int)),
    dict(bs_ver=np.full((4, 2), 3)),
    dict(qp_map=np.zeros((4, 3), int)),
    dict(chroma_format=1),
    dict(bit_depth=9),
])
def test_bad_arguments_raise_input_error(bad):
    args = dict(planes=[np.zeros((16, 16), np.int32)], bs_ver=np.zeros((4, 2), int),
                bs_hor=np.zeros((2, 4), int), qp_map=np.zeros((4, 4), int), chroma_format=0, bit_depth=8)
    args.update(bad)
    with pytest.raises(InputError):
        deblock_picture(**args)
