"""Bjontegaard delta rate and PSNR between two rate-distortion curves.

BD-rate is the mean horizontal gap between the curves log10(rate) = f(PSNR) over the PSNR range both
cover, turned into a percentage (negative = the test codec needs fewer bits). BD-PSNR is the mean vertical
gap of PSNR = g(log10(rate)) over the common log-rate range, in dB.

Interpolation methods:

* ``"cubic"``: one least-squares cubic polynomial through all points (VCEG-M33, the classic Excel sheet).
  With more than 4 points it does not pass through them and can oscillate.
* ``"pchip"``: piecewise cubic Hermite with Fritsch-Butland monotone slopes, as scipy's
  PchipInterpolator and the ``bjontegaard`` package's 'pchip'. Passes through every point, never overshoots.
* ``"akima"``: piecewise cubic Hermite with Akima's slopes, the ``bjontegaard`` package's recommended
  method (closest to the JVET CTC sheet's piecewise-cubic results).

The piecewise curves are integrated exactly, piece by piece.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bitstream.errors import InputError

METHODS = ("cubic", "pchip", "akima")
MIN_POINTS = 4


def bd_rate(rate_anchor: Sequence[float], psnr_anchor: Sequence[float], rate_test: Sequence[float],
            psnr_test: Sequence[float], method: str = "akima") -> float:
    """Average bit-rate difference of test versus anchor at equal PSNR, in percent."""
    log_rate_anchor, psnr_anchor_ = _curve(rate_anchor, psnr_anchor, "anchor")
    log_rate_test, psnr_test_ = _curve(rate_test, psnr_test, "test")
    mean_log_gap = _mean_gap(psnr_anchor_, log_rate_anchor, psnr_test_, log_rate_test, method, "PSNR")
    return float((10.0 ** mean_log_gap - 1.0) * 100.0)


def bd_psnr(rate_anchor: Sequence[float], psnr_anchor: Sequence[float], rate_test: Sequence[float],
            psnr_test: Sequence[float], method: str = "akima") -> float:
    """Average PSNR difference of test versus anchor at equal bit-rate, in dB."""
    log_rate_anchor, psnr_anchor_ = _curve(rate_anchor, psnr_anchor, "anchor")
    log_rate_test, psnr_test_ = _curve(rate_test, psnr_test, "test")
    return float(_mean_gap(log_rate_anchor, psnr_anchor_, log_rate_test, psnr_test_, method, "log rate"))


def _curve(rates: Sequence[float], psnrs: Sequence[float], label: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        rate = np.asarray(rates, dtype=np.float64).ravel()
        psnr = np.asarray(psnrs, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise InputError(f"{label} rates and PSNRs must be numbers") from exc
    if rate.size != psnr.size:
        raise InputError(f"{label} has {rate.size} rates but {psnr.size} PSNR values")
    if rate.size < MIN_POINTS:
        raise InputError(f"{label} needs at least {MIN_POINTS} rate-distortion points, got {rate.size}")
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(psnr))) or np.any(rate <= 0):
        raise InputError(f"{label} rates must be finite and positive, PSNRs finite")
    return np.log10(rate), psnr


def _mean_gap(x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              method: str, x_name: str) -> float:
    """Mean of y_test(x) - y_anchor(x) over the x range both curves cover."""
    if method not in METHODS:
        raise InputError(f"unknown BD interpolation method {method!r}; use one of {METHODS}")
    low = max(x_anchor.min(), x_test.min())
    high = min(x_anchor.max(), x_test.max())
    if not low < high:
        raise InputError(f"the two curves do not overlap in {x_name}; BD values are undefined")
    integral_test = _integrate(x_test, y_test, method, low, high)
    integral_anchor = _integrate(x_anchor, y_anchor, method, low, high)
    return (integral_test - integral_anchor) / (high - low)


def _integrate(x: np.ndarray, y: np.ndarray, method: str, low: float, high: float) -> float:
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if method == "cubic":
        antiderivative = np.polyint(np.polyfit(x, y, 3))
        return float(np.polyval(antiderivative, high) - np.polyval(antiderivative, low))
    if np.any(np.diff(x) == 0):
        raise InputError("piecewise interpolation needs distinct values along the integration axis")
    slopes = _pchip_slopes(x, y) if method == "pchip" else _akima_slopes(x, y)
    return _integrate_hermite(x, y, slopes, low, high)


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch-Butland slopes: weighted harmonic mean of neighbouring secants, 0 at local extrema."""
    h = np.diff(x)
    secant = np.diff(y) / h
    slopes = np.zeros_like(y)
    same_sign = secant[:-1] * secant[1:] > 0
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / secant[:-1] + w2 / secant[1:])
    slopes[1:-1] = np.where(same_sign, harmonic, 0.0)
    slopes[0] = _pchip_end_slope(h[0], h[1], secant[0], secant[1])
    slopes[-1] = _pchip_end_slope(h[-1], h[-2], secant[-1], secant[-2])
    return slopes


def _pchip_end_slope(h0: float, h1: float, s0: float, s1: float) -> float:
    """Shape-preserving three-point end slope (Moler, Numerical Computing with MATLAB, pchip)."""
    slope = ((2 * h0 + h1) * s0 - h0 * s1) / (h0 + h1)
    if np.sign(slope) != np.sign(s0):
        return 0.0
    if np.sign(s0) != np.sign(s1) and abs(slope) > abs(3 * s0):
        return 3 * s0
    return slope


def _akima_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Akima (1970) slopes from secants extended by two linear extrapolations at each end."""
    secant = np.diff(y) / np.diff(x)
    extended = np.concatenate([[3 * secant[0] - 2 * secant[1], 2 * secant[0] - secant[1]], secant,
                               [2 * secant[-1] - secant[-2], 3 * secant[-1] - 2 * secant[-2]]])
    weight_right = np.abs(extended[3:] - extended[2:-1])
    weight_left = np.abs(extended[1:-2] - extended[:-3])
    total = weight_left + weight_right
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = (weight_right * extended[1:-2] + weight_left * extended[2:-1]) / total
    # Equal weights (both zero, or relatively tiny) mean no preferred side: average the two secants.
    flat = total <= 1e-9 * np.max(total, initial=0.0)
    return np.where(flat, 0.5 * (extended[1:-2] + extended[2:-1]), weighted)


def _integrate_hermite(x: np.ndarray, y: np.ndarray, slopes: np.ndarray, low: float, high: float) -> float:
    """Exact integral over [low, high] (inside [x0, xn]) of the cubic Hermite curve through (x, y, slopes)."""
    total = 0.0
    for i in range(x.size - 1):
        a, b = max(low, x[i]), min(high, x[i + 1])
        if a < b:
            total += _hermite_piece_integral(x[i], x[i + 1], y[i], y[i + 1], slopes[i], slopes[i + 1], a, b)
    return total


def _hermite_piece_integral(x0: float, x1: float, y0: float, y1: float, d0: float, d1: float,
                            a: float, b: float) -> float:
    """Integral over [a, b] of the cubic with values y0, y1 and slopes d0, d1 at x0, x1."""
    h = x1 - x0
    secant = (y1 - y0) / h
    # Power form in t = x - x0: y0 + d0 t + c2 t^2 + c3 t^3.
    c2 = (3 * secant - 2 * d0 - d1) / h
    c3 = (d0 + d1 - 2 * secant) / (h * h)

    def antiderivative(t: float) -> float:
        return ((c3 / 4 * t + c2 / 3) * t + d0 / 2) * t * t + y0 * t

    return antiderivative(b - x0) - antiderivative(a - x0)
