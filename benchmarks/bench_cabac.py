"""Throughput of the CABAC engine: encode, decode and estimate bins/s for each kind of bin.

Run: ``python benchmarks/bench_cabac.py [num_bins]`` (best of 3 runs per figure).
Workloads: context-coded bins over 64 contexts with skewed probabilities (as coefficient flags),
single bypass bins, bypass runs of 2-16 bins in one ``bypass_bits`` call (signs, Rice suffixes), and
a realistic mix (75 % context-coded, 25 % bypass of which most in runs).
"""
from __future__ import annotations

import argparse
import random
import time
from typing import Callable

from bitstream.contexts import ContextTable
from bitstream.syntax_coder import RateEstimator, SyntaxCoder, SyntaxReader, SyntaxWriter

QP = 32


def make_workloads(num_bins: int) -> dict[str, list[tuple]]:
    rnd = random.Random(0)
    p_one = [rnd.choice((0.02, 0.1, 0.3, 0.5, 0.8, 0.95)) for _ in range(64)]

    def context_bin() -> tuple:
        ctx = rnd.randrange(64)
        return ("d", ctx, int(rnd.random() < p_one[ctx]))

    def bypass_run() -> tuple:
        n = rnd.randrange(2, 17)
        return ("r", rnd.getrandbits(n), n)

    mixed: list[tuple] = []
    mixed_bins = 0
    while mixed_bins < num_bins:
        roll = rnd.random()
        if roll < 0.75:
            mixed.append(context_bin())
        else:
            mixed.append(("b", rnd.getrandbits(1)) if roll < 0.8 else bypass_run())
        mixed_bins += count_bins(mixed[-1:])
    runs = [bypass_run() for _ in range(num_bins // 9)]
    return {
        "context-coded": [context_bin() for _ in range(num_bins)],
        "bypass (single)": [("b", rnd.getrandbits(1)) for _ in range(num_bins)],
        "bypass (runs)": runs,
        "mixed": mixed,
    }


def count_bins(ops: list[tuple]) -> int:
    return sum(op[2] if op[0] == "r" else 1 for op in ops)


def code(sc: SyntaxCoder, ops: list[tuple]) -> None:
    decision, bypass, bypass_bits = sc.decision, sc.bypass, sc.bypass_bits
    for op in ops:
        kind = op[0]
        if kind == "d":
            decision(op[1], op[2])
        elif kind == "b":
            bypass(op[1])
        else:
            bypass_bits(op[1], op[2])


REPEATS = 3                  # best of 3: the machine is shared, the minimum is the least disturbed


def best_time(make_coder: Callable[[], SyntaxCoder], ops: list[tuple]) -> tuple[float, SyntaxCoder]:
    """Fastest of REPEATS runs of ``ops`` on fresh coders; returns it with the last coder."""
    best = float("inf")
    for _ in range(REPEATS):
        coder = make_coder()
        start = time.perf_counter()
        code(coder, ops)
        best = min(best, time.perf_counter() - start)
    return best, coder


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("num_bins", type=int, nargs="?", default=300_000, help="bins per workload")
    num_bins = p.parse_args().num_bins
    table = ContextTable()
    table.add("bench", 64)
    print(f"{'workload':<16} {'bins':>8} {'encode':>12} {'decode':>12} {'estimate':>12}   (bins/s)")
    for name, ops in make_workloads(num_bins).items():
        bins = count_bins(ops)
        t_enc, writer = best_time(lambda: SyntaxWriter(table, QP), ops)
        data = writer.finish()
        t_dec, reader = best_time(lambda: SyntaxReader(table, QP, data), ops)
        reader.finish()
        t_est, _ = best_time(lambda: RateEstimator(table, QP), ops)
        print(f"{name:<16} {bins:>8} {bins / t_enc:>12,.0f} {bins / t_dec:>12,.0f} {bins / t_est:>12,.0f}"
              f"   {8 * len(data) / bins:.3f} bits/bin")


if __name__ == "__main__":
    main()
