"""Throughput and flush overhead of the interleaved rANS coder on a 768x512 picture's latent.

Run: ``python benchmarks/bench_rans.py [num_symbols]`` (default 300 000: 192 channels of 48x32 are
295 k).  Two synthetic latents coded with the 64-scale Gaussian tables: "low rate" (scales from the
bottom of the table, ~0.3 bit/symbol, typical at low bpp) and "mixed" (all scales, ~4.6 bit/symbol).
For each lane count (and the one ``lane_count_for`` picks for 1 % overhead): encode and decode
symbols/s (best of 3), and the size above the ideal code length (mostly the per-lane flush).
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np

from bitstream.cdf_tables import gaussian_cdf_tables, log_scale_table
from bitstream.rans import RansTables, estimate_bits, lane_count_for, rans_decode, rans_encode

LANE_COUNTS = (16, 64, 256, 1024, 2048)


def best_time(run: Callable[[], object], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main(num_symbols: int) -> None:
    scales = log_scale_table()
    tables = RansTables(*gaussian_cdf_tables(scales))
    rng = np.random.default_rng(0)
    print(f"{num_symbols} symbols")
    for name, max_index in (("low rate", 12), ("mixed", 64)):
        indexes = rng.integers(0, max_index, num_symbols)
        values = np.round(rng.normal(0.0, scales[indexes])).astype(np.int32)
        ideal_bits = estimate_bits(values, indexes, tables)
        estimate_rate = num_symbols / best_time(lambda: estimate_bits(values, indexes, tables))
        chosen = lane_count_for(ideal_bits)
        print(f"\n{name}: {ideal_bits / num_symbols:.3f} bit/symbol,"
              f" estimate_bits {estimate_rate / 1e6:.1f} M sym/s, lane_count_for -> {chosen}")
        print(f"{'lanes':>6} {'encode M sym/s':>15} {'decode M sym/s':>15} {'overhead':>9} {'bits/lane':>9}")
        for lanes in sorted({*LANE_COUNTS, chosen}):
            data = rans_encode(values, indexes, tables, lanes=lanes)
            assert np.array_equal(rans_decode(data, indexes, tables, lanes=lanes), values)
            encode_time = best_time(lambda: rans_encode(values, indexes, tables, lanes=lanes))
            decode_time = best_time(lambda: rans_decode(data, indexes, tables, lanes=lanes))
            extra_bits = len(data) * 8 - ideal_bits
            print(f"{lanes:>6} {num_symbols / encode_time / 1e6:>15.2f}"
                  f" {num_symbols / decode_time / 1e6:>15.2f}"
                  f" {100 * extra_bits / ideal_bits:>8.2f}% {extra_bits / lanes:>9.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("num_symbols", type=int, nargs="?", default=300_000, help="latent symbols per run")
    main(parser.parse_args().num_symbols)
