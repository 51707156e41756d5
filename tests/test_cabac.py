"""CABAC engine: VVC conformance against bit-serial reference processes, round trips, carries,
bounded decoding, context initialisation and the fractional-bits table."""
from __future__ import annotations

import random

import pytest

from bitstream.cabac import (FRAC_ONE, LPS_COST, LPS_RANGE, MPS_COST, RENORM_SHIFT,
                             CabacDecoder, CabacEncoder, CabacEstimator, bin_cost)
from bitstream.contexts import (EQUIPROBABLE, ContextTable, init_probability,
                                window_shifts)
from bitstream.errors import BitstreamError


# ---- reference processes written directly from the H.266 text (bit-serial, slow, obvious) -------

class RefModel:
    """Context variables and the LPS range of §9.3.4.3.2, the state transition of §9.3.4.3.2.2."""

    def __init__(self, table: ContextTable, qp: int) -> None:
        s = table.initial_states(qp)
        self.p0, self.p1, self.sh0, self.sh1 = list(s.prob0), list(s.prob1), s.shift0, s.shift1

    def lps(self, ctx: int, rng: int) -> tuple[int, int]:
        p_state = self.p1[ctx] + 16 * self.p0[ctx]
        val_mps = p_state >> 14
        q = (32767 - p_state) if val_mps else p_state
        return ((rng >> 5) * (q >> 9) >> 1) + 4, val_mps

    def update(self, ctx: int, b: int) -> None:
        self.p0[ctx] = self.p0[ctx] - (self.p0[ctx] >> self.sh0[ctx]) + ((1023 * b) >> self.sh0[ctx])
        self.p1[ctx] = self.p1[ctx] - (self.p1[ctx] >> self.sh1[ctx]) + ((16383 * b) >> self.sh1[ctx])


class RefEncoder(RefModel):
    """The informative encoder of the standard: 10-bit low, PutBit with outstanding bits."""

    def __init__(self, table: ContextTable, qp: int) -> None:
        super().__init__(table, qp)
        self.low, self.rng, self.outstanding, self.first, self.bits = 0, 510, 0, True, []
        self.max_outstanding = 0

    def put_bit(self, b: int) -> None:
        if not self.first:
            self.bits.append(b)
        self.first = False
        self.bits += [1 - b] * self.outstanding
        self.outstanding = 0

    def renorm(self) -> None:
        while self.rng < 256:
            if self.low < 256:
                self.put_bit(0)
            elif self.low >= 512:
                self.low -= 512
                self.put_bit(1)
            else:
                self.low -= 256
                self.outstanding += 1
                self.max_outstanding = max(self.max_outstanding, self.outstanding)
            self.rng <<= 1
            self.low <<= 1

    def decision(self, ctx: int, b: int) -> None:
        lps, val_mps = self.lps(ctx, self.rng)
        self.rng -= lps
        if b != val_mps:
            self.low += self.rng
            self.rng = lps
        self.update(ctx, b)
        self.renorm()

    def bypass(self, b: int) -> None:
        self.low = (self.low << 1) + (self.rng if b else 0)
        if self.low >= 1024:
            self.put_bit(1)
            self.low -= 1024
        elif self.low < 512:
            self.put_bit(0)
        else:
            self.low -= 512
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)

    def terminate(self, b: int) -> None:
        self.rng -= 2
        if b:                      # continued like an LPS of range 2 (see bitstream.cabac)
            self.low += self.rng
            self.rng = 2
        self.renorm()


class RefDecoder(RefModel):
    """The normative decoding process: 9-bit ivlOffset, one bit read per renormalisation."""

    def __init__(self, table: ContextTable, qp: int, data: bytes) -> None:
        super().__init__(table, qp)
        self.bits = [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]
        self.pos = 0
        self.rng = 510
        self.offset = self.read_bits(9)

    def read_bits(self, n: int) -> int:
        value = 0
        for _ in range(n):
            value = (value << 1) | (self.bits[self.pos] if self.pos < len(self.bits) else 0)
            self.pos += 1
        return value

    def renorm(self) -> None:
        while self.rng < 256:
            self.rng <<= 1
            self.offset = (self.offset << 1) | self.read_bits(1)

    def decision(self, ctx: int) -> int:
        lps, val_mps = self.lps(ctx, self.rng)
        self.rng -= lps
        if self.offset >= self.rng:
            b = 1 - val_mps
            self.offset -= self.rng
            self.rng = lps
        else:
            b = val_mps
        self.update(ctx, b)
        self.renorm()
        return b

    def bypass(self) -> int:
        self.offset = (self.offset << 1) | self.read_bits(1)
        if self.offset >= self.rng:
            self.offset -= self.rng
            return 1
        return 0

    def terminate(self) -> int:
        self.rng -= 2
        if self.offset >= self.rng:
            self.offset -= self.rng
            self.rng = 2
            self.renorm()
            return 1
        self.renorm()
        return 0


# ---- helpers ----------------------------------------------------------------------------------

def make_table() -> ContextTable:
    table = ContextTable()
    table.add("mixed", [0, 7, 20, 35, 56, 63, EQUIPROBABLE, 27], shift_idx=[0, 4, 5, 8, 10, 13, 15, 9])
    return table


def random_ops(rnd: random.Random, count: int, num_ctx: int, skew: float = 0.0) -> list[tuple]:
    """Decisions (per-context probabilities from extreme to even), bypass bins, bypass runs, terminates."""
    p_one = [rnd.choice((0.001, 0.02, 0.3, 0.5, 0.9, 0.999)) for _ in range(num_ctx)]
    ops: list[tuple] = []
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.6 + skew:
            ctx = rnd.randrange(num_ctx)
            ops.append(("d", ctx, int(rnd.random() < p_one[ctx])))
        elif roll < 0.8:
            ops.append(("b", rnd.getrandbits(1)))
        elif roll < 0.95:
            n = rnd.randrange(0, 40)
            ops.append(("r", rnd.getrandbits(n), n))
        else:
            ops.append(("t", int(rnd.random() < 0.2)))
    return ops


def encode(ops: list[tuple], engine) -> None:
    for op in ops:
        if op[0] == "d":
            engine.decision(op[1], op[2])
        elif op[0] == "b":
            engine.bypass(op[1])
        elif op[0] == "r":
            engine.bypass_bits(op[1], op[2])
        else:
            engine.terminate(op[1])


def decode(ops: list[tuple], dec: CabacDecoder) -> list[tuple]:
    out = []
    for op in ops:
        if op[0] == "d":
            out.append(("d", op[1], dec.decision(op[1])))
        elif op[0] == "b":
            out.append(("b", dec.bypass()))
        elif op[0] == "r":
            out.append(("r", dec.bypass_bits(0, op[2]), op[2]))
        else:
            out.append(("t", dec.terminate()))
    return out


def to_bits(data: bytes) -> list[int]:
    return [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]


# ---- tables and context initialisation ---------------------------------------------------------

def test_lps_table_matches_formula_and_renorm_normalises() -> None:
    for rng in range(256, 511):
        for state in range(0, 32768, 97):
            q = (32767 - state) if state >> 14 else state
            assert LPS_RANGE[((rng & 0x1E0) << 1) | (state >> 9)] == ((rng >> 5) * (q >> 9) >> 1) + 4
    for lps in set(LPS_RANGE[8 << 6:]):
        assert 256 <= lps << RENORM_SHIFT[lps >> 3] < 512


def test_init_probability_follows_vvc_formula() -> None:
    for init_value in range(64):
        for qp in (-5, 0, 16, 22, 37, 51, 70):
            m, n = (init_value >> 3) - 4, (init_value & 7) * 18 + 1
            pre = min(max(((m * (min(max(qp, 0), 63) - 16)) >> 1) + n, 1), 127)
            assert init_probability(init_value, qp) == (pre << 3, pre << 7)
    p0, p1 = init_probability(EQUIPROBABLE, 30)
    assert p1 + 16 * p0 == 1 << 14
    assert window_shifts(0) == (2, 5) and window_shifts(13) == (5, 9)


def test_context_table_allocation() -> None:
    table = ContextTable()
    assert table.add("a", [1, 2, 3]) == 0
    assert table.add("b", 2, shift_idx=[4, 5]) == 3
    assert table.index("a") == (0, 3) and table.index("b") == (3, 2) and len(table) == 5
    assert table.get_or_add("b", 2, shift_idx=[4, 5]) == 3
    with pytest.raises(ValueError):
        table.get_or_add("b", 3)
    with pytest.raises(ValueError):
        table.add("a", [1])
    with pytest.raises(ValueError):
        table.add("c", [65])
    with pytest.raises(ValueError):
        table.add("c", [1, 2], shift_idx=[1])
    with pytest.raises(KeyError):
        table.index("missing")
    states = table.initial_states(32)
    assert len(states.prob0) == len(states.shift1) == 5
    assert states.shift0[3:] == [window_shifts(4)[0], window_shifts(5)[0]]
    assert table.initial_states(32, trained=True) == states           # nothing trained yet
    table.set_trained("b", [40, EQUIPROBABLE], [1, 8])
    trained = table.initial_states(32, trained=True)
    assert (trained.prob0[3], trained.prob1[3]) == init_probability(40, 32)
    assert trained.shift0[3:] == [window_shifts(1)[0], window_shifts(8)[0]]
    assert trained.prob0[:3] == states.prob0[:3] and table.initial_states(32) == states
    with pytest.raises(ValueError, match="2 contexts"):
        table.set_trained("b", [40], [1])
    table.freeze()
    with pytest.raises(ValueError, match="frozen"):
        table.add("d", 1)
    with pytest.raises(ValueError, match="frozen"):
        table.set_trained("b", [1, 2], [8, 8])


def test_fractional_bits_table_is_consistent_with_the_coder() -> None:
    for state9 in range(64):
        mps, lps = MPS_COST[state9] / FRAC_ONE, LPS_COST[state9] / FRAC_ONE
        assert 0 < mps <= 1.0 <= lps
        assert 0.97 < 2 ** -mps + 2 ** -lps <= 1.0001      # the two sub-intervals fill the range
    assert all(LPS_COST[s] > LPS_COST[s + 1] for s in range(31))            # rarer LPS, dearer
    assert all(MPS_COST[s] < MPS_COST[s + 1] for s in range(31))
    assert bin_cost(0, 0, 1) == LPS_COST[0] and bin_cost(0, 0, 0) == MPS_COST[0]
    for value in (0, 1):                    # p = 1/2 (the coder's own rounding favours the MPS)
        assert abs(bin_cost(512, 8192, value) - FRAC_ONE) < FRAC_ONE // 10


# ---- conformance and round trips ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_round_trip_and_conformance_with_reference(seed: int) -> None:
    rnd = random.Random(seed)
    table = make_table()
    qp = rnd.randrange(52)
    ops = random_ops(rnd, 3000, len(table))
    enc = CabacEncoder(table.initial_states(qp))
    encode(ops, enc)
    data = enc.finish()

    dec = CabacDecoder(table.initial_states(qp), data)
    assert decode(ops, dec) == [op if op[0] != "t" else ("t", op[1]) for op in ops]
    dec.check_fully_consumed()

    ref_dec = RefDecoder(table, qp, data)                  # the normative process decodes it too
    for op in ops:
        if op[0] == "d":
            assert ref_dec.decision(op[1]) == op[2]
        elif op[0] == "b":
            assert ref_dec.bypass() == op[1]
        elif op[0] == "r":
            expected = [(op[1] >> (op[2] - 1 - i)) & 1 for i in range(op[2])]
            assert [ref_dec.bypass() for _ in range(op[2])] == expected
        else:
            assert ref_dec.terminate() == op[1]

    ref_enc = RefEncoder(table, qp)                        # settled bits agree with the reference
    for op in ops:
        if op[0] == "d":
            ref_enc.decision(op[1], op[2])
        elif op[0] == "b":
            ref_enc.bypass(op[1])
        elif op[0] == "r":
            for i in range(op[2]):
                ref_enc.bypass((op[1] >> (op[2] - 1 - i)) & 1)
        else:
            ref_enc.terminate(op[1])
    assert to_bits(data)[:len(ref_enc.bits)] == ref_enc.bits


def test_long_carry_chains_are_propagated() -> None:
    """Bypass bins that keep low at the middle of the interval create long outstanding runs."""
    rnd = random.Random(7)
    table = make_table()
    ops: list[tuple] = []
    for _ in range(400):
        ops.append(("d", rnd.randrange(len(table)), rnd.getrandbits(1)))
        ops += [("b", 1 if i % 2 else 0) for i in range(rnd.randrange(20, 60))]
    ref = RefEncoder(table, 30)
    for op in ops:
        ref.decision(op[1], op[2]) if op[0] == "d" else ref.bypass(op[1])
    assert ref.max_outstanding >= 16                       # at least one carry through 0xFF bytes
    enc = CabacEncoder(table.initial_states(30))
    encode(ops, enc)
    data = enc.finish()
    assert to_bits(data)[:len(ref.bits)] == ref.bits
    assert decode(ops, CabacDecoder(table.initial_states(30), data)) == ops


@pytest.mark.parametrize("value", [0, 1])
def test_extreme_probability_runs(value: int) -> None:
    table = ContextTable()
    table.add("fast", [0 if value else 63], shift_idx=0)
    ops = [("d", 0, value)] * 20000 + [("d", 0, 1 - value)] * 50 + [("d", 0, value)] * 5000
    enc = CabacEncoder(table.initial_states(51))
    encode(ops, enc)
    data = enc.finish()
    assert len(data) < 100                  # saturated contexts: ~0.015 bit per MPS (LPS range 4)
    dec = CabacDecoder(table.initial_states(51), data)
    assert decode(ops, dec) == ops
    dec.check_fully_consumed()


def test_empty_and_bypass_only_streams() -> None:
    table = make_table()
    data = CabacEncoder(table.initial_states(20)).finish()
    CabacDecoder(table.initial_states(20), data).check_fully_consumed()
    enc = CabacEncoder(table.initial_states(20))
    enc.bypass_bits(0xDEADBEEF, 32)
    enc.bypass_bits(0, 0)
    dec = CabacDecoder(table.initial_states(20), enc.finish())
    assert dec.bypass_bits(0, 0) == 0 and dec.bypass_bits(0, 32) == 0xDEADBEEF


def test_estimator_tracks_encoder_costs_and_states() -> None:
    rnd = random.Random(3)
    table = make_table()
    ops = random_ops(rnd, 5000, len(table), skew=0.2)
    enc, est = CabacEncoder(table.initial_states(25)), CabacEstimator(table.initial_states(25))
    encode(ops, enc)
    encode(ops, est)
    assert est.frac == enc.frac and est._prob0 == enc._prob0 and est._prob1 == enc._prob1
    assert abs(8 * len(enc.finish()) - enc.frac / FRAC_ONE) < 0.01 * enc.frac / FRAC_ONE


# ---- bounded decoding ------------------------------------------------------------------------

def test_decoder_feeds_zeros_then_reports_truncation() -> None:
    table = make_table()
    dec = CabacDecoder(table.initial_states(30), b"\x12")
    assert 0 <= dec.bypass_bits(0, 16) < 1 << 16      # reads zeros within the tolerated overrun
    with pytest.raises(BitstreamError, match="truncated"):
        for _ in range(100):
            dec.decision(0)
            dec.bypass()
    with pytest.raises(BitstreamError, match="truncated"):
        CabacDecoder(table.initial_states(30), b"").bypass_bits(0, 1000)


def test_decoder_rejects_bad_start_and_trailing_bytes() -> None:
    table = make_table()
    with pytest.raises(BitstreamError, match="initial offset"):
        CabacDecoder(table.initial_states(30), b"\xff\x00")
    enc = CabacEncoder(table.initial_states(30))
    enc.decision(3, 1)
    dec = CabacDecoder(table.initial_states(30), enc.finish() + b"\x00\x00\x00")
    assert dec.decision(3) == 1
    with pytest.raises(BitstreamError, match="trailing"):
        dec.check_fully_consumed()


def test_writer_rejects_values_that_do_not_fit() -> None:
    enc = CabacEncoder(make_table().initial_states(30))
    with pytest.raises(ValueError):
        enc.bypass_bits(8, 3)
    with pytest.raises(ValueError):
        enc.bypass_bits(-1, 3)
    with pytest.raises(ValueError):
        enc.bypass_unary(5, 4)
