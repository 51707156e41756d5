"""BD-rate / BD-PSNR against exact cases and the bjontegaard package."""

import warnings

import bjontegaard
import numpy as np
import pytest

from bitstream.errors import InputError
from hybridcodec.eval.bdrate import METHODS, bd_psnr, bd_rate

# A typical intra curve (bpp, dB) and a second codec that is better at low rates and worse at high ones.
ANCHOR_RATE = [0.12, 0.25, 0.48, 0.86, 1.45, 2.30]
ANCHOR_PSNR = [27.1, 29.8, 32.6, 35.4, 38.3, 41.0]
TEST_RATE = [0.10, 0.21, 0.43, 0.83, 1.50, 2.45]
TEST_PSNR = [27.6, 30.3, 33.0, 35.6, 38.2, 40.9]


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_give_zero(method: str) -> None:
    assert bd_rate(ANCHOR_RATE, ANCHOR_PSNR, ANCHOR_RATE, ANCHOR_PSNR, method) == pytest.approx(0, abs=1e-12)
    assert bd_psnr(ANCHOR_RATE, ANCHOR_PSNR, ANCHOR_RATE, ANCHOR_PSNR, method) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_uniform_rate_scaling_is_exact(method: str) -> None:
    cheaper = [0.8 * r for r in ANCHOR_RATE]
    assert bd_rate(ANCHOR_RATE, ANCHOR_PSNR, cheaper, ANCHOR_PSNR, method) == pytest.approx(-20.0, abs=1e-9)
    dearer = [1.25 * r for r in ANCHOR_RATE]
    assert bd_rate(ANCHOR_RATE, ANCHOR_PSNR, dearer, ANCHOR_PSNR, method) == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_uniform_psnr_shift_is_exact(method: str) -> None:
    better = [p + 0.5 for p in ANCHOR_PSNR]
    assert bd_psnr(ANCHOR_RATE, ANCHOR_PSNR, ANCHOR_RATE, better, method) == pytest.approx(0.5, abs=1e-12)
    assert bd_rate(ANCHOR_RATE, ANCHOR_PSNR, ANCHOR_RATE, better, method) < 0


@pytest.mark.parametrize("method", METHODS)
def test_matches_bjontegaard_package(method: str) -> None:
    rng = np.random.default_rng(5)
    cases = [(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR)]
    for _ in range(40):
        n_anchor, n_test = rng.integers(4, 8, size=2)
        rate = np.sort(rng.uniform(0.05, 3, n_anchor))
        psnr = np.sort(rng.uniform(26, 44, n_anchor))
        test_rate = np.sort(rng.uniform(0.05, 3, n_test))
        test_psnr = np.sort(rng.uniform(26, 44, n_test))
        overlaps = all(max(a.min(), b.min()) < min(a.max(), b.max())
                       for a, b in ((rate, test_rate), (psnr, test_psnr)))
        if overlaps:
            cases.append((rate, psnr, test_rate, test_psnr))
    assert len(cases) > 30
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the package warns on small overlaps; we compare values anyway
        for ra, pa, rt, pt in cases:
            expected_rate = bjontegaard.bd_rate(ra, pa, rt, pt, method, require_matching_points=False)
            expected_psnr = bjontegaard.bd_psnr(ra, pa, rt, pt, method, require_matching_points=False)
            assert bd_rate(ra, pa, rt, pt, method) == pytest.approx(expected_rate, rel=1e-9, abs=1e-9)
            assert bd_psnr(ra, pa, rt, pt, method) == pytest.approx(expected_psnr, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_unsorted_input_gives_same_result(method: str) -> None:
    order = [3, 0, 5, 1, 4, 2]
    shuffled = [[values[i] for i in order] for values in (ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE[::-1], TEST_PSNR[::-1])]
    assert bd_rate(*shuffled, method) == pytest.approx(bd_rate(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR, method))
    assert bd_psnr(*shuffled, method) == pytest.approx(bd_psnr(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR, method))


def test_methods_agree_roughly_on_a_smooth_case() -> None:
    values = [bd_rate(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR, m) for m in METHODS]
    assert max(values) - min(values) < 2.0  # percentage points
    assert all(-15 < v < 0 for v in values)


def test_errors() -> None:
    with pytest.raises(InputError, match="at least 4"):
        bd_rate(ANCHOR_RATE[:3], ANCHOR_PSNR[:3], TEST_RATE, TEST_PSNR)
    with pytest.raises(InputError, match="do not overlap"):
        bd_rate(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, [p + 20 for p in TEST_PSNR])
    with pytest.raises(InputError, match="do not overlap"):
        bd_psnr(ANCHOR_RATE, ANCHOR_PSNR, [r * 100 for r in TEST_RATE], TEST_PSNR)
    with pytest.raises(InputError, match="method"):
        bd_rate(ANCHOR_RATE, ANCHOR_PSNR, TEST_RATE, TEST_PSNR, "spline")
    with pytest.raises(InputError, match="positive"):
        bd_rate([0.0, *ANCHOR_RATE[1:]], ANCHOR_PSNR, TEST_RATE, TEST_PSNR)
    with pytest.raises(InputError, match="finite"):
        bd_psnr(ANCHOR_RATE, [np.nan, *ANCHOR_PSNR[1:]], TEST_RATE, TEST_PSNR)
    with pytest.raises(InputError, match="rates but"):
        bd_rate(ANCHOR_RATE, ANCHOR_PSNR[:5], TEST_RATE, TEST_PSNR)
    with pytest.raises(InputError, match="distinct"):
        bd_rate(ANCHOR_RATE, [27.1, 27.1, 32.6, 35.4, 38.3, 41.0], TEST_RATE, TEST_PSNR, "pchip")
    with pytest.raises(InputError, match="numbers"):
        bd_rate(["a", "b", "c", "d"], ANCHOR_PSNR[:4], TEST_RATE, TEST_PSNR)
