"""SyntaxCoder back-ends: binarizations, rate estimation, statistics, tracing, robustness to bad data."""
from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitstream.contexts import ContextTable
from bitstream.errors import BitstreamError
from bitstream.syntax_coder import MAX_EGK_PREFIX, RateEstimator, SyntaxCoder, SyntaxReader, SyntaxWriter
from corruption import truncated_or_flipped

TABLE = ContextTable()
CTX = TABLE.add("test", [5, 20, 35, 44, 58], shift_idx=[1, 4, 8, 9, 12])
QP = 30


class BinRecorder(SyntaxCoder):
    """Back-end that records the bin string, to check binarizations against the standard."""

    def __init__(self) -> None:
        super().__init__(TABLE)
        self.frac = 0
        self.bins = ""
        self.ctxs: list[int | None] = []

    def decision(self, ctx: int, value: int = 0) -> int:
        self.bins += str(int(value))
        self.ctxs.append(ctx)
        return value

    def bypass(self, value: int = 0) -> int:
        self.bins += str(value)
        self.ctxs.append(None)
        return value

    def bypass_bits(self, value: int, n: int) -> int:
        for i in range(n - 1, -1, -1):
            self.bypass((value >> i) & 1)
        return value

    def bypass_unary(self, value: int, cmax: int) -> int:
        for i in range(min(value + 1, cmax)):
            self.bypass(int(i < value))
        return value


def bins_of(method: str, *args) -> str:
    rec = BinRecorder()
    assert getattr(rec, method)(*args) == args[0]
    return rec.bins


def test_binarizations_match_the_standard() -> None:
    assert bins_of("fl", 5, 4) == "0101"
    assert [bins_of("tu", v, 5) for v in (0, 3, 5)] == ["0", "1110", "11111"]
    assert [bins_of("tr", v, 8, 1) for v in (0, 1, 5, 7, 8)] == ["00", "01", "1101", "11101", "1111"]
    assert [bins_of("tr", v, 4, 0) for v in (0, 2, 4)] == ["0", "110", "1111"]
    assert [bins_of("egk", v, 0) for v in (0, 1, 2, 3, 6, 7)] == [
        "0", "100", "101", "11000", "11011", "1110000"]
    assert [bins_of("egk", v, 1) for v in (0, 1, 2, 5, 6)] == ["00", "01", "1000", "1011", "110000"]
    rec = BinRecorder()
    rec.tu(4, 6, [10, 11])
    assert rec.ctxs == [10, 11, 11, 11, 11]
    rec = BinRecorder()
    rec.tr(9, 12, 2, [7])
    assert rec.bins == "11001" and rec.ctxs == [7, 7, 7, None, None]


def code_all_binarizations(sc: SyntaxCoder, rnd: random.Random) -> list[int]:
    """Every binarization over its value range, with context-coded and bypass variants."""
    ctxs = [CTX, CTX + 1, CTX + 2]
    out = []
    for cmax in (1, 2, 7, 16):
        for v in range(cmax + 1):
            out += [sc.tu(v, cmax, ctxs), sc.tu(v, cmax)]
    for rice in range(4):
        cmax = 4 << rice
        for v in range(cmax + 1):
            out += [sc.tr(v, cmax, rice, ctxs[1:]), sc.tr(v, cmax, rice)]
    for k in range(5):
        for v in list(range(70)) + [rnd.randrange(1 << 20), (1 << (MAX_EGK_PREFIX + 1 + k)) - (1 << k) - 1]:
            out.append(sc.egk(v, k))
    for n in (0, 1, 5, 16, 31):
        out += [sc.fl(rnd.getrandbits(n), n) for _ in range(5)]
    for _ in range(500):
        out.append(sc.decision(CTX + rnd.randrange(5), int(rnd.random() < 0.8)))
    out.append(sc.terminate(1))
    return out


def test_binarization_round_trips_and_estimator_agrees() -> None:
    writer = SyntaxWriter(TABLE, QP)
    written = code_all_binarizations(writer, random.Random(1))
    data = writer.finish()
    reader = SyntaxReader(TABLE, QP, data)
    assert code_all_binarizations(reader, random.Random(1)) == written
    reader.finish()
    estimator = RateEstimator(TABLE, QP)
    assert code_all_binarizations(estimator, random.Random(1)) == written
    assert estimator.bits == writer.bits == reader.bits
    assert abs(8 * len(data) - writer.bits) < 0.01 * writer.bits


def test_estimate_matches_written_length_on_a_long_skewed_sequence() -> None:
    rnd = random.Random(5)
    writer, estimator = SyntaxWriter(TABLE, 37), RateEstimator(TABLE, 37)
    for _ in range(20000):
        ctx = CTX + rnd.randrange(5)
        value = int(rnd.random() < (0.05, 0.2, 0.5, 0.7, 0.97)[ctx - CTX])
        writer.decision(ctx, value)
        estimator.decision(ctx, value)
    assert estimator.bits == writer.bits
    assert abs(8 * len(writer.finish()) - estimator.bits) < 0.02 * estimator.bits


def test_writer_rejects_out_of_range_values() -> None:
    writer = SyntaxWriter(TABLE, QP)
    for call in (lambda: writer.tu(6, 5, [CTX]), lambda: writer.tu(-1, 5), lambda: writer.tr(9, 8, 1),
                 lambda: writer.tr(3, 6, 2), lambda: writer.egk(-1, 0), lambda: writer.fl(16, 4),
                 lambda: writer.egk(1 << (MAX_EGK_PREFIX + 1), 0)):
        with pytest.raises(ValueError):
            call()


def test_reader_bounds_exp_golomb_prefix() -> None:
    writer = SyntaxWriter(TABLE, QP)
    writer.bypass_bits((1 << 40) - 1, 40)
    with pytest.raises(BitstreamError, match="Exp-Golomb"):
        SyntaxReader(TABLE, QP, writer.finish()).egk(0, 0)


def test_bits_by_category() -> None:
    writer = SyntaxWriter(TABLE, QP)
    writer.category = "split"
    writer.tu(3, 4, [CTX])
    writer.category = "coeff"
    writer.egk(100, 1)                                       # 5 + 1 + 6 bypass bins
    writer.category = "split"
    writer.decision(CTX, 1)
    cats = writer.bits_by_category
    assert set(cats) == {"split", "coeff"} and cats["coeff"] == 12.0
    assert sum(cats.values()) == pytest.approx(writer.bits)
    cats["coeff"] = 0.0                                      # a copy: the coder is unaffected
    assert writer.bits_by_category["coeff"] == 12.0


def test_snapshot_restore_and_load_states() -> None:
    rnd = random.Random(2)
    values = [int(rnd.random() < 0.9) for _ in range(300)]
    est = RateEstimator(TABLE, QP)
    est.category = "a"
    est.tu(2, 3, [CTX])
    snap = est.snapshot()
    est.category = "b"
    for v in values:
        est.decision(CTX + 3, v)
    after_once, cats_once = est.bits, est.bits_by_category
    for _ in range(2):                                       # restorable any number of times
        est.restore(snap)
        assert est.bits == snap.frac / (1 << 15) and est.category == "a"
        est.category = "b"
        for v in values:
            est.decision(CTX + 3, v)
        assert est.bits == after_once and est.bits_by_category == cats_once

    writer = SyntaxWriter(TABLE, QP)                         # continuing from a writer's states
    for v in values:
        writer.decision(CTX + 4, v)
    fork = RateEstimator(TABLE, QP)
    fork.load_states(writer)
    start_w, start_f = writer.bits, fork.bits
    for v in reversed(values):
        writer.decision(CTX + 4, v)
        fork.decision(CTX + 4, v)
    assert fork.bits - start_f == pytest.approx(writer.bits - start_w, abs=1e-9)
    fresh = RateEstimator(TABLE, QP)
    for v in reversed(values):
        fresh.decision(CTX + 4, v)
    assert fresh.bits != fork.bits - start_f                 # the loaded states did matter


def coded_elements(sc: SyntaxCoder, rnd: random.Random) -> None:
    for y in range(3):
        for x in range(4):
            sc.trace("split_flag", sc.decision(CTX + x % 3, rnd.getrandbits(1)), x=x, y=y)
            sc.trace("level", sc.egk(rnd.randrange(50), 1), x=x, y=y, c=0)


def test_trace_is_identical_for_writer_and_reader() -> None:
    writer = SyntaxWriter(TABLE, QP)
    sink = io.StringIO()
    writer.trace_sink = sink
    coded_elements(writer, random.Random(3))
    reader = SyntaxReader(TABLE, QP, writer.finish())
    lines: list[str] = []
    reader.trace_sink = lines.append
    coded_elements(reader, random.Random(3))
    assert sink.getvalue().splitlines() == lines and len(lines) == 24
    assert lines[1].startswith("level x=0 y=0 c=0 = ") and lines[1].endswith(" bits)")
    assert sum(float(line.split("(")[1].split()[0]) for line in lines) == pytest.approx(writer.bits, abs=0.05)
    silent = SyntaxWriter(TABLE, QP)
    silent.trace("nothing", 1, x=0)                          # no sink: a no-op
    assert silent.trace_sink is None and silent.bits == 0


# ---- robustness: arbitrary bytes make the reader succeed or raise BitstreamError, never hang ----

def fixed_pattern(sc: SyntaxCoder) -> list[int]:
    rnd = random.Random(11)
    out = []
    for i in range(10):
        out.append(sc.decision(CTX + i % 5, rnd.getrandbits(1)))
        out.append(sc.tu(rnd.randrange(6), 5, [CTX, CTX + 1]))
        out.append(sc.tr(rnd.randrange(17), 16, 2, [CTX + 2]))
        out.append(sc.egk(rnd.randrange(3000), i % 3))
        out.append(sc.fl(rnd.getrandbits(7), 7))
        out.append(sc.tu(rnd.randrange(4), 3))
        out.append(sc.terminate(int(i == 9)))
    return out


_WRITER = SyntaxWriter(TABLE, QP)
PATTERN = fixed_pattern(_WRITER)
VALID = _WRITER.finish()


def test_fixed_pattern_decodes() -> None:
    reader = SyntaxReader(TABLE, QP, VALID)
    assert fixed_pattern(reader) == PATTERN
    reader.finish()


malformed_substreams = st.one_of(
    truncated_or_flipped(VALID),
    st.binary(max_size=3 * len(VALID)),
    st.binary(max_size=8).map(lambda tail: VALID + tail),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed_substreams)
def test_reader_on_malformed_data_raises_only_bitstream_error(data: bytes) -> None:
    try:
        reader = SyntaxReader(TABLE, QP, data)
        values = fixed_pattern(reader)
        reader.finish()
    except BitstreamError:
        return
    assert len(values) == len(PATTERN)
