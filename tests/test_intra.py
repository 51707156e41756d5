"""Intra prediction against a literal transcription of HEVC 8.4.4.2, plus reference construction,
MPM and chroma-mode derivation."""
import numpy as np
import pytest

from bitstream.errors import InputError
from host.intra import (INTRA_DC, INTRA_HORIZONTAL, INTRA_PLANAR, INTRA_VERTICAL, NUM_INTRA_MODES,
                        chroma_candidate_modes, most_probable_modes, predict, predict_all_modes, reference_samples)

ANGLE = [None, None, 32, 26, 21, 17, 13, 9, 5, 2, 0, -2, -5, -9, -13, -17, -21, -26,
         -32, -26, -21, -17, -13, -9, -5, -2, 0, 2, 5, 9, 13, 17, 21, 26, 32]
INV_ANGLE = {11: -4096, 12: -1638, 13: -910, 14: -630, 15: -482, 16: -390, 17: -315, 18: -256,
             19: -315, 20: -390, 21: -482, 22: -630, 23: -910, 24: -1638, 25: -4096}


def _to_p(ref, n):
    """Module reference order -> HEVC p[x, y] dictionary."""
    p = {(-1, -1): int(ref[2 * n])}
    for j in range(2 * n):
        p[(-1, j)] = int(ref[2 * n - 1 - j])
        p[(j, -1)] = int(ref[2 * n + 1 + j])
    return p


def _spec_predict(ref, n, mode, is_luma, bit_depth):
    """HEVC 8.4.4.2.3/5/6 and DC, written sample by sample in spec notation (64: VVC-like extension)."""
    p = _to_p(ref, n)
    if mode != INTRA_DC and n != 4 and is_luma:
        thres = {8: 7, 16: 1, 32: 0, 64: 0}[n]
        if min(abs(mode - 26), abs(mode - 10)) > thres:
            pf = {}
            last = 2 * n - 1
            s = 1 << (bit_depth - 5)
            strong = (n >= 32 and abs(p[(-1, -1)] + p[(last, -1)] - 2 * p[(n - 1, -1)]) < s
                      and abs(p[(-1, -1)] + p[(-1, last)] - 2 * p[(-1, n - 1)]) < s)
            if strong:
                sh = (2 * n).bit_length() - 1
                pf[(-1, -1)] = p[(-1, -1)]
                for i in range(last):
                    pf[(-1, i)] = ((last - i) * p[(-1, -1)] + (i + 1) * p[(-1, last)] + (1 << (sh - 1))) >> sh
                    pf[(i, -1)] = ((last - i) * p[(-1, -1)] + (i + 1) * p[(last, -1)] + (1 << (sh - 1))) >> sh
                pf[(-1, last)] = p[(-1, last)]
                pf[(last, -1)] = p[(last, -1)]
            else:
                pf[(-1, last)] = p[(-1, last)]
                pf[(last, -1)] = p[(last, -1)]
                for y in range(last - 1, -1, -1):
                    pf[(-1, y)] = (p[(-1, y + 1)] + 2 * p[(-1, y)] + p[(-1, y - 1)] + 2) >> 2
                pf[(-1, -1)] = (p[(-1, 0)] + 2 * p[(-1, -1)] + p[(0, -1)] + 2) >> 2
                for x in range(0, last):
                    pf[(x, -1)] = (p[(x - 1, -1)] + 2 * p[(x, -1)] + p[(x + 1, -1)] + 2) >> 2
            p = pf
    pred = np.zeros((n, n), dtype=np.int64)   # pred[y, x]
    log2n = n.bit_length() - 1
    clip = (1 << bit_depth) - 1
    if mode == INTRA_PLANAR:
        for x in range(n):
            for y in range(n):
                pred[y, x] = ((n - 1 - x) * p[(-1, y)] + (x + 1) * p[(n, -1)] + (n - 1 - y) * p[(x, -1)]
                              + (y + 1) * p[(-1, n)] + n) >> (log2n + 1)
        return pred
    if mode == INTRA_DC:
        dc = (sum(p[(x, -1)] for x in range(n)) + sum(p[(-1, y)] for y in range(n)) + n) >> (log2n + 1)
        pred[:] = dc
        if is_luma and n < 32:
            pred[0, 0] = (p[(-1, 0)] + 2 * dc + p[(0, -1)] + 2) >> 2
            for x in range(1, n):
                pred[0, x] = (p[(x, -1)] + 3 * dc + 2) >> 2
            for y in range(1, n):
                pred[y, 0] = (p[(-1, y)] + 3 * dc + 2) >> 2
        return pred
    angle = ANGLE[mode]
    refm = {}
    if mode >= 18:
        for x in range(0, n + 1):
            refm[x] = p[(-1 + x, -1)]
        if angle < 0:
            if (n * angle) >> 5 < -1:
                for x in range((n * angle) >> 5, 0):
                    refm[x] = p[(-1, -1 + ((x * INV_ANGLE[mode] + 128) >> 8))]
        else:
            for x in range(n + 1, 2 * n + 1):
                refm[x] = p[(-1 + x, -1)]
        for x in range(n):
            for y in range(n):
                idx, fact = ((y + 1) * angle) >> 5, ((y + 1) * angle) & 31
                if fact:
                    pred[y, x] = ((32 - fact) * refm[x + idx + 1] + fact * refm[x + idx + 2] + 16) >> 5
                else:
                    pred[y, x] = refm[x + idx + 1]
                if mode == 26 and is_luma and n < 32 and x == 0:
                    pred[y, x] = min(max(p[(x, -1)] + ((p[(-1, y)] - p[(-1, -1)]) >> 1), 0), clip)
    else:
        for x in range(0, n + 1):
            refm[x] = p[(-1, -1 + x)]
        if angle < 0:
            if (n * angle) >> 5 < -1:
                for x in range((n * angle) >> 5, 0):
                    refm[x] = p[(-1 + ((x * INV_ANGLE[mode] + 128) >> 8), -1)]
        else:
            for x in range(n + 1, 2 * n + 1):
                refm[x] = p[(-1, -1 + x)]
        for x in range(n):
            for y in range(n):
                idx, fact = ((x + 1) * angle) >> 5, ((x + 1) * angle) & 31
                if fact:
                    pred[y, x] = ((32 - fact) * refm[y + idx + 1] + fact * refm[y + idx + 2] + 16) >> 5
                else:
                    pred[y, x] = refm[y + idx + 1]
                if mode == 10 and is_luma and n < 32 and y == 0:
                    pred[y, x] = min(max(p[(-1, y)] + ((p[(x, -1)] - p[(-1, -1)]) >> 1), 0), clip)
    return pred


def _smooth_ref(rng, n, bit_depth):
    """Gently varying references (so 32/64 luma also exercises the strong smoothing)."""
    base = rng.integers(0, 1 << bit_depth)
    ramp = np.round(np.linspace(0, rng.integers(-3, 4), 4 * n + 1)).astype(np.int64)
    return np.clip(base + ramp, 0, (1 << bit_depth) - 1)


@pytest.mark.parametrize("size", [4, 8, 16, 32, 64])
def test_all_modes_match_spec_transcription(size):
    rng = np.random.default_rng(size)
    cases = [(rng.integers(0, 256, 4 * size + 1), 8), (rng.integers(0, 1024, 4 * size + 1), 10),
             (_smooth_ref(rng, size, 8), 8)]
    for ref, bit_depth in cases:
        for is_luma in (True, False):
            all_modes = predict_all_modes(ref, size, is_luma, bit_depth)
            assert all_modes.shape == (NUM_INTRA_MODES, size, size) and all_modes.dtype == np.int32
            for mode in range(NUM_INTRA_MODES):
                single = predict(ref, size, mode, is_luma, bit_depth)
                assert np.array_equal(all_modes[mode], single), (size, mode, is_luma)
                if size <= 16 or mode % 3 == 0:   # keep the pure-Python reference fast
                    expected = _spec_predict(ref, size, mode, is_luma, bit_depth)
                    assert np.array_equal(single, expected), (size, mode, is_luma, bit_depth)


@pytest.mark.parametrize("size", [32, 64])
def test_strong_smoothing_of_flat_luma_references(size):
    rng = np.random.default_rng(11)
    ref = 100 + rng.integers(-3, 4, 4 * size + 1)
    ref[::size] = 100            # corner, ends and mid-points flat: the bi-linear filter is chosen
    for mode in (INTRA_PLANAR, 2, 18, 34):
        strong = predict(ref, size, mode, True, 8)
        assert (strong == 100).all()               # bi-linear interpolation of equal end points
        assert np.array_equal(strong, _spec_predict(ref, size, mode, True, 8))
        weak = predict(ref, size, mode, False, 8, filter_enabled=True)   # [1 2 1] only
        assert not (weak == 100).all()
    ref[size] = 120              # a bump at the left mid-point: back to [1 2 1]
    assert not (predict(ref, size, 2, True, 8) == 100).all()


@pytest.mark.parametrize("size", [4, 8, 16, 32, 64])
def test_dc_of_constant_reference_is_constant(size):
    for is_luma in (True, False):
        pred = predict_all_modes(np.full(4 * size + 1, 77), size, is_luma, 8)
        assert (pred == 77).all()   # every mode of a flat neighbourhood is flat


def test_pure_horizontal_and_vertical_copy():
    size = 8
    rng = np.random.default_rng(4)
    ref = rng.integers(0, 256, 4 * size + 1)
    top = ref[2 * size + 1:3 * size + 1]
    left = ref[2 * size - 1:size - 1:-1]
    vertical = predict(ref, size, INTRA_VERTICAL, False, 8)
    horizontal = predict(ref, size, INTRA_HORIZONTAL, False, 8)
    assert (vertical == top[None, :]).all()
    assert (horizontal == left[:, None]).all()
    # luma adds the gradient boundary filter on the first column / row only
    vertical_luma = predict(ref, size, INTRA_VERTICAL, True, 8)
    assert np.array_equal(vertical_luma[:, 1:], vertical[:, 1:])
    expected = np.clip(top[0] + ((left - ref[2 * size]) >> 1), 0, 255)
    assert np.array_equal(vertical_luma[:, 0], expected)


def test_reference_samples_order_and_substitution():
    plane = np.arange(32 * 32, dtype=np.int32).reshape(32, 32)
    avail = np.zeros((8, 8), dtype=bool)
    # nothing available: mid-grey
    assert (reference_samples(plane, avail, 8, 8, 8, 8) == 128).all()
    assert (reference_samples(plane, avail, 0, 0, 4, 10) == 512).all()
    # everything available: straight reads in the documented order
    avail[:] = True
    ref = reference_samples(plane, avail, 8, 8, 4, 8)
    assert ref[8] == plane[7, 7]                                   # corner
    assert ref[:8].tolist() == plane[15:7:-1, 7].tolist()          # left column, bottom first
    assert ref[9:].tolist() == plane[7, 8:16].tolist()             # top row, left to right
    # only the top row available (block at the left picture edge): left side copies top-left-most
    ref = reference_samples(plane, avail, 0, 8, 4, 8)
    assert (ref[:9] == plane[7, 0]).all() and ref[9:].tolist() == plane[7, 0:8].tolist()
    # top-right not yet decoded: copies the last available top sample
    avail[:] = False
    avail[0:2, 0:2] = True       # blocks above-left, above, and left of the block at (4, 4)
    avail[2, 0] = False
    ref = reference_samples(plane, avail, 4, 4, 4, 8)
    assert ref[:4].tolist() == [plane[7, 3]] * 4                   # below-left unavailable
    assert ref[4:8].tolist() == plane[7:3:-1, 3].tolist()
    assert ref[8] == plane[3, 3]
    assert ref[9:13].tolist() == plane[3, 4:8].tolist()
    assert ref[13:].tolist() == [plane[3, 7]] * 4                  # above-right unavailable


def test_reference_samples_outside_plane_unavailable():
    plane = np.arange(144, dtype=np.int32).reshape(12, 12)
    avail = np.ones((3, 3), dtype=bool)
    ref = reference_samples(plane, avail, 8, 8, 4, 8)   # below and right of the picture: outside
    assert ref[:4].tolist() == [plane[11, 7]] * 4        # rows 15..12 outside: copy row 11
    assert ref[4:8].tolist() == plane[11:7:-1, 7].tolist()
    assert ref[8] == plane[7, 7]
    assert ref[9:13].tolist() == plane[7, 8:12].tolist()
    assert ref[13:].tolist() == [plane[7, 11]] * 4       # columns 12..15 outside: copy column 11
    with pytest.raises(InputError):
        reference_samples(plane, np.ones((2, 2), dtype=bool), 8, 8, 4, 8)
    with pytest.raises(InputError):
        reference_samples(plane, avail, 6, 8, 4, 8)


def test_most_probable_modes():
    assert most_probable_modes(None, None) == (INTRA_PLANAR, INTRA_DC, INTRA_VERTICAL)
    assert most_probable_modes(INTRA_PLANAR, INTRA_PLANAR) == (0, 1, 26)
    assert most_probable_modes(10, 10) == (10, 9, 11)
    assert most_probable_modes(2, 2) == (2, 33, 3)
    assert most_probable_modes(34, 34) == (34, 33, 3)
    assert most_probable_modes(10, 26) == (10, 26, 0)
    assert most_probable_modes(0, 26) == (0, 26, 1)
    assert most_probable_modes(None, 0) == (1, 0, 26)
    assert most_probable_modes(5, None) == (5, 1, 0)



def test_chroma_candidate_modes():
    assert chroma_candidate_modes(18) == [0, 26, 10, 1, 18]
    assert chroma_candidate_modes(0) == [34, 26, 10, 1, 0]
    assert chroma_candidate_modes(26) == [0, 34, 10, 1, 26]
    assert chroma_candidate_modes(10) == [0, 26, 34, 1, 10]
    assert chroma_candidate_modes(1) == [0, 26, 10, 34, 1]
    for luma_mode in range(NUM_INTRA_MODES):
        assert len(set(chroma_candidate_modes(luma_mode))) == 5


def test_bad_arguments_raise_input_error():
    with pytest.raises(InputError):
        predict(np.zeros(17, dtype=np.int32), 4, 35, True, 8)
    with pytest.raises(InputError):
        predict(np.zeros(16, dtype=np.int32), 4, 1, True, 8)
    with pytest.raises(InputError):
        predict_all_modes(np.zeros(25, dtype=np.int32), 6, True, 8)
    with pytest.raises(InputError):
        most_probable_modes(40, None)
