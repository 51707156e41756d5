"""Integer CDF tables for the rANS coder of the neural tool's latents (built at model export).

The functions here use floating point (Gaussian integrals, logarithms) and are therefore NOT normative:
their result could differ in the last bit between machines or library versions.  They run once, when a
model is exported, and the integer tables they return are STORED with the model weights.  Encoder and
decoder both load those stored integers; no decoder ever calls this module.

Table conventions (shared with ``bitstream.rans``): a table with ``N`` regular symbols has
``N + 1`` symbols in total, the last one being the escape symbol, and a CDF of ``N + 2`` entries
``cdf[0] = 0 < cdf[1] < ... < cdf[N + 1] = 2**precision``.  Value ``v`` of a latent coded with table
``k`` is regular symbol ``v - offsets[k]`` when that lies in ``[0, N)``, otherwise the escape symbol
followed by the overflow in bypass bins.
"""
from collections.abc import Sequence

import numpy as np
from scipy.special import ndtr, ndtri

from bitstream.errors import InputError

MAX_PRECISION = 16


def quantized_cdf_from_pmf(pmf: np.ndarray, precision: int = MAX_PRECISION) -> np.ndarray:
    """Quantise ``pmf`` (plus an escape symbol carrying the missing mass) to an integer CDF.

    Every symbol, the escape included, gets a frequency of at least 1 so that any value stays codable;
    the frequencies sum to exactly ``2**precision``.  Frequencies start at ``max(1, floor(p * 2**precision))``
    and the remainder is assigned greedily where it costs the fewest expected bits, so the table is close
    to the minimum-KL quantisation.  Ties are broken by symbol index, making the result deterministic
    for a given platform.  Returns int32 of length ``len(pmf) + 2``.
    """
    pmf = np.asarray(pmf, dtype=np.float64)
    if pmf.ndim != 1 or not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise InputError("pmf must be a 1-D array of finite non-negative probabilities")
    if not 1 <= precision <= MAX_PRECISION:
        raise InputError(f"precision must be in [1, {MAX_PRECISION}], got {precision}")
    total = 1 << precision
    probs = np.append(pmf, max(0.0, 1.0 - float(pmf.sum())))
    if probs.size > total:
        raise InputError(f"{probs.size} symbols do not fit a {precision}-bit CDF")
    probs /= probs.sum()
    freqs = np.maximum(1, np.floor(probs * total)).astype(np.int64)
    _distribute_remainder(freqs, probs, total)
    cdf = np.zeros(freqs.size + 1, dtype=np.int32)
    np.cumsum(freqs, out=cdf[1:])
    return cdf


def _distribute_remainder(freqs: np.ndarray, probs: np.ndarray, total: int) -> None:
    """Adjust ``freqs`` in place by +-1 steps until they sum to ``total``, cheapest steps first.

    The expected-bit change of a step on symbol i is ``p_i * log2(f_i / (f_i +- 1))``; each round
    takes the best step on up to ``|remainder|`` distinct symbols (stable order breaks ties).
    """
    while (remainder := total - int(freqs.sum())) != 0:
        if remainder > 0:
            gain = probs * np.log2((freqs + 1) / freqs)
            order = np.argsort(-gain, kind="stable")[:remainder]
            freqs[order] += 1
        else:
            shrinkable = np.flatnonzero(freqs > 1)
            loss = probs[shrinkable] * np.log2(freqs[shrinkable] / (freqs[shrinkable] - 1))
            order = shrinkable[np.argsort(loss, kind="stable")[:-remainder]]
            freqs[order] -= 1


def gaussian_cdf_tables(
    scales: Sequence[float], precision: int = MAX_PRECISION, tail_mass: float = 1e-9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDF tables of zero-mean Gaussians of the given scales, integrated over unit bins.

    Table k covers the values ``[-M_k, M_k]`` with ``M_k = ceil(scale_k * Phi^-1(1 - tail_mass / 2))``;
    the mass beyond goes to the escape symbol.  Returns ``(cdfs, cdf_lengths, offsets)``: cdfs int32
    ``(K, max_length)`` padded with ``2**precision``, cdf_lengths int32 ``(K,)`` and offsets
    ``-M_k`` int32 ``(K,)``.  Store the result with the model (see module docstring).
    """
    scales = np.asarray(scales, dtype=np.float64)
    if scales.ndim != 1 or scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise InputError("scales must be a non-empty 1-D sequence of finite positive numbers")
    if not 0.0 < tail_mass < 1.0:
        raise InputError(f"tail_mass must be in (0, 1), got {tail_mass}")
    half_widths = np.ceil(scales * ndtri(1.0 - tail_mass / 2.0)).astype(np.int64)
    cdf_list = []
    for scale, half_width in zip(scales, half_widths):
        magnitudes = np.abs(np.arange(-half_width, half_width + 1, dtype=np.float64))
        # Upper-tail differences keep precision far from the mean, where 1 - Phi would cancel.
        pmf = ndtr(-(magnitudes - 0.5) / scale) - ndtr(-(magnitudes + 0.5) / scale)
        pmf[magnitudes == 0] = 1.0 - 2.0 * ndtr(-0.5 / scale)
        cdf_list.append(quantized_cdf_from_pmf(pmf, precision))
    cdf_lengths = np.array([cdf.size for cdf in cdf_list], dtype=np.int32)
    cdfs = np.full((len(cdf_list), int(cdf_lengths.max())), 1 << precision, dtype=np.int32)
    for row, cdf in zip(cdfs, cdf_list):
        row[: cdf.size] = cdf
    return cdfs, cdf_lengths, (-half_widths).astype(np.int32)


def log_scale_table(min_scale: float = 0.11, max_scale: float = 256.0, levels: int = 64) -> np.ndarray:
    """Geometrically spaced Gaussian scales: equal relative steps match the log-domain scale estimates."""
    if not 0.0 < min_scale < max_scale or levels < 2:
        raise InputError("need 0 < min_scale < max_scale and levels >= 2")
    return np.exp(np.linspace(np.log(min_scale), np.log(max_scale), levels))
