"""Binary arithmetic coding engine of the CABAC family, bit-exact to VVC (H.266 §9.3.4.3).

9-bit range, two-rate probability estimation per context (10-bit and 14-bit estimates combined into a
15-bit probability), LPS range from the 5 MSBs of the LPS probability and ``range >> 5``, bypass bins
and the terminating bin.  Three engines share that model: ``CabacEncoder``, ``CabacDecoder`` and
``CabacEstimator`` (state updates and bit costs only).  Each bin-level method follows the syntax
calling convention ``value = engine.method(..., value)`` so that ``bitstream.syntax_coder`` can mix
the engines into its coders without a second call per bin.

Coding is integer arithmetic; only the bit-cost tables (estimates, which never influence a decoded
value) are derived once with floating point.  The per-bin methods are written for CPython speed:
flat lists indexed by context, locals instead of attributes, table lookups instead of arithmetic,
and runs of bypass bins coded as one multiplication (encoder) or one ``divmod`` (decoder).

Differences from the VVC text that do not change any coded bin: the encoder resolves carries by
incrementing already written bytes; a terminating bin equal to 1 does not end the substream (the
interval is renormalised like an LPS of range 2), so ``finish`` is the only way to end it.
"""
from __future__ import annotations

from math import log2

from bitstream.contexts import ContextStates
from bitstream.errors import BitstreamError

FRAC_BITS = 15                 # estimated bit costs are integers in units of 2^-15 bit
FRAC_ONE = 1 << FRAC_BITS
MAX_OVERRUN_BYTES = 4          # zero bytes the decoder may read past the end of a substream
_TOP_FLUSH = 17                # carry position at which the encoder holds 8 settled bits above the range
_SCALE = 7                     # extra precision bits of the decoder offset (as in the reference decoder)


def _lps_range_table() -> list[int]:
    """ivlLpsRange indexed by ((ivlCurrRange >> 5) << 6) | (pState >> 9)."""
    table = [0] * 1024
    for q_range_idx in range(8, 16):
        for state9 in range(64):
            lps_prob5 = state9 if state9 < 32 else 63 - state9   # ((valMps ? 32767 - pState : pState) >> 9)
            table[(q_range_idx << 6) | state9] = ((q_range_idx * lps_prob5) >> 1) + 4
    return table


LPS_RANGE = _lps_range_table()
RENORM_SHIFT = [9 - ((k << 3) | 7).bit_length() for k in range(32)]   # indexed by ivlLpsRange >> 3


def _expected_cost(width_of_range) -> int:
    """E[-log2(width / range)] in FRAC units, ranges weighted 1/range (their stationary law)."""
    ranges = range(256, 511)
    total = sum(1 / r for r in ranges)
    bits = sum(-log2(width_of_range(r) / r) / r for r in ranges) / total
    return round(bits * FRAC_ONE)


def _cost_tables() -> tuple[list[int], list[int]]:
    mps_cost, lps_cost = [], []
    for state9 in range(64):
        def lps(r: int, s: int = state9) -> int:
            return LPS_RANGE[((r >> 5) << 6) | s]
        mps_cost.append(_expected_cost(lambda r: r - lps(r)))
        lps_cost.append(_expected_cost(lps))
    return mps_cost, lps_cost


# Fractional-bits table: cost of coding the MPS / the LPS of a context whose combined 15-bit
# probability is ``state``, indexed by ``state >> 9`` (which is all the coder itself uses of it).
MPS_COST, LPS_COST = _cost_tables()
TERMINATE_COST = (_expected_cost(lambda r: r - 2), _expected_cost(lambda r: 2))
# The same costs by bin value instead of MPS/LPS (the MPS is 1 when state >> 9 >= 32), for the estimator.
COST_OF_ZERO = [LPS_COST[s] if s >= 32 else MPS_COST[s] for s in range(64)]
COST_OF_ONE = [MPS_COST[s] if s >= 32 else LPS_COST[s] for s in range(64)]


def bin_cost(prob0: int, prob1: int, value: int) -> int:
    """Estimated cost (FRAC units) of coding ``value`` with a context in state (prob0, prob1)."""
    state9 = (prob1 + (prob0 << 4)) >> 9
    return MPS_COST[state9] if value == state9 >> 5 else LPS_COST[state9]


class _AdaptiveContexts:
    """Context states shared by the three engines, and the running estimated bit count."""

    def __init__(self, states: ContextStates) -> None:
        self._prob0 = list(states.prob0)
        self._prob1 = list(states.prob1)
        self._shift0 = states.shift0          # never modified: shared, not copied
        self._shift1 = states.shift1
        self.frac = 0                         # estimated bits so far, FRAC units

    def copy_states_from(self, other: _AdaptiveContexts) -> None:
        """Continue with the current context probabilities of ``other`` (same context table)."""
        if len(other._prob0) != len(self._prob0):
            raise ValueError("context tables differ in size")
        self._prob0[:] = other._prob0
        self._prob1[:] = other._prob1


class CabacEncoder(_AdaptiveContexts):
    """Arithmetic encoder.  ``low`` keeps the undetermined bits: the 9-bit range window at the
    bottom and, above it, bits up to the carry position ``top``; settled bytes go to ``out``."""

    def __init__(self, states: ContextStates) -> None:
        super().__init__(states)
        self._low = 0
        self._range = 510
        self._top = 9
        self._out = bytearray()

    def decision(self, ctx: int, value: int = 0) -> int:
        """Encode one context-coded bin (``value`` is 0 or 1)."""
        p0 = self._prob0
        p1 = self._prob1
        a = p0[ctx]
        b = p1[ctx]
        state9 = (b + (a << 4)) >> 9
        if value:
            shift = self._shift0[ctx]
            p0[ctx] = a - (a >> shift) + (1023 >> shift)
            shift = self._shift1[ctx]
            p1[ctx] = b - (b >> shift) + (16383 >> shift)
        else:
            p0[ctx] = a - (a >> self._shift0[ctx])
            p1[ctx] = b - (b >> self._shift1[ctx])
        rng = self._range
        lps = LPS_RANGE[((rng & 0x1E0) << 1) | state9]
        rng -= lps
        if value == state9 >> 5:
            self.frac += MPS_COST[state9]
            if rng >= 256:
                self._range = rng
                return value
            self._low <<= 1
            self._range = rng << 1
            shift = 1
        else:
            self.frac += LPS_COST[state9]
            shift = RENORM_SHIFT[lps >> 3]
            self._low = (self._low + rng) << shift
            self._range = lps << shift
        top = self._top + shift
        self._top = top
        if top >= _TOP_FLUSH:
            self._put_byte()
        return value

    def bypass(self, value: int = 0) -> int:
        """Encode one equiprobable bin."""
        self._low = (self._low << 1) + self._range if value else self._low << 1
        self._top += 1
        self.frac += FRAC_ONE
        if self._top >= _TOP_FLUSH:
            self._put_byte()
        return value

    def bypass_bits(self, value: int, n: int) -> int:
        """Encode the ``n``-bit unsigned ``value`` as n bypass bins, MSB first."""
        if value < 0 or value >> n:
            raise ValueError(f"{value} does not fit in {n} bypass bins")
        self._low = (self._low << n) + value * self._range
        self._top += n
        self.frac += n << FRAC_BITS
        while self._top >= _TOP_FLUSH:
            self._put_byte()
        return value

    def bypass_unary(self, value: int, cmax: int) -> int:
        """Encode ``value`` as bypass ones followed by a zero (no zero when value == cmax)."""
        if not 0 <= value <= cmax:
            raise ValueError(f"unary value {value} outside 0..{cmax}")
        if value < cmax:
            self.bypass_bits(((1 << value) - 1) << 1, value + 1)
        else:
            self.bypass_bits((1 << cmax) - 1, cmax)
        return value

    def terminate(self, value: int = 0) -> int:
        """Encode a terminating bin (LPS range 2); 1 costs about 7 bits, 0 almost nothing."""
        rng = self._range - 2
        self.frac += TERMINATE_COST[1 if value else 0]
        if value:
            self._low = (self._low + rng) << 7
            self._range = 256
            self._top += 7
        elif rng < 256:
            self._low <<= 1
            self._range = rng << 1
            self._top += 1
        else:
            self._range = rng
        if self._top >= _TOP_FLUSH:
            self._put_byte()
        return value

    def finish(self) -> bytes:
        """Flush: pick the point of the final interval with the most trailing zeros, write it up to
        the byte holding its last 1; the decoder reads zeros past the end, so it decodes that point."""
        low = (self._low + 255) >> 8 << 8           # in [low, low + range) because range >= 256
        pad = (8 - self._top) % 8                   # bits [8, top) to write, padded to whole bytes
        self._low = low << pad
        self._top += pad
        while self._top >= 16:
            self._put_byte()
        return bytes(self._out)

    def _put_byte(self) -> None:
        """Move the top 8 settled bits (plus a possible carry into earlier bytes) to the output."""
        top = self._top - 8
        byte = self._low >> top
        if byte > 255:                              # carry: at most one, out is never all 0xFF here
            out = self._out
            i = len(out) - 1
            while out[i] == 255:
                out[i] = 0
                i -= 1
            out[i] += 1
            byte -= 256
        self._out.append(byte)
        self._low &= (1 << top) - 1
        self._top = top


class CabacDecoder(_AdaptiveContexts):
    """Arithmetic decoder.  ``value`` is the offset scaled by 2^7; ``bits_needed`` (-8..-1) counts
    the bits shifted in since the last byte was read, as in the reference decoder."""

    def __init__(self, states: ContextStates, data: bytes) -> None:
        super().__init__(states)
        self._data = bytes(data) + bytes(MAX_OVERRUN_BYTES)
        self._size = len(data)
        self._pos = 2
        self._range = 510
        self._value = (self._data[0] << 8) | self._data[1]
        self._bits_needed = -8
        if self._value >= 510 << _SCALE:
            raise BitstreamError("invalid CABAC substream: initial offset outside the range")

    def _read_byte(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        try:
            return self._data[pos]
        except IndexError:
            raise BitstreamError("truncated CABAC substream") from None

    def decision(self, ctx: int, value: int = 0) -> int:
        """Decode one context-coded bin (``value`` is ignored)."""
        p0 = self._prob0
        p1 = self._prob1
        a = p0[ctx]
        b = p1[ctx]
        state9 = (b + (a << 4)) >> 9
        rng = self._range
        lps = LPS_RANGE[((rng & 0x1E0) << 1) | state9]
        rng -= lps
        scaled = rng << _SCALE
        offset = self._value
        if offset < scaled:
            value = state9 >> 5
            self.frac += MPS_COST[state9]
            if rng >= 256:
                self._range = rng
            else:
                self._range = rng << 1
                offset <<= 1
                bits_needed = self._bits_needed + 1
                if bits_needed == 0:
                    offset += self._read_byte()
                    bits_needed = -8
                self._value = offset
                self._bits_needed = bits_needed
        else:
            value = (state9 >> 5) ^ 1
            self.frac += LPS_COST[state9]
            shift = RENORM_SHIFT[lps >> 3]
            offset = (offset - scaled) << shift
            self._range = lps << shift
            bits_needed = self._bits_needed + shift
            if bits_needed >= 0:
                offset += self._read_byte() << bits_needed
                bits_needed -= 8
            self._value = offset
            self._bits_needed = bits_needed
        if value:
            shift = self._shift0[ctx]
            p0[ctx] = a - (a >> shift) + (1023 >> shift)
            shift = self._shift1[ctx]
            p1[ctx] = b - (b >> shift) + (16383 >> shift)
        else:
            p0[ctx] = a - (a >> self._shift0[ctx])
            p1[ctx] = b - (b >> self._shift1[ctx])
        return value

    def bypass(self, value: int = 0) -> int:
        """Decode one equiprobable bin."""
        offset = self._value << 1
        bits_needed = self._bits_needed + 1
        if bits_needed == 0:
            offset += self._read_byte()
            bits_needed = -8
        self._bits_needed = bits_needed
        self.frac += FRAC_ONE
        scaled = self._range << _SCALE
        if offset >= scaled:
            self._value = offset - scaled
            return 1
        self._value = offset
        return 0

    def bypass_bits(self, value: int, n: int) -> int:
        """Decode n bypass bins as an unsigned integer, MSB first: one long division by the range."""
        if n <= 0:
            return 0
        offset = self._value << n
        bits_needed = self._bits_needed + n
        while bits_needed >= 0:
            offset += self._read_byte() << bits_needed
            bits_needed -= 8
        self._bits_needed = bits_needed
        self.frac += n << FRAC_BITS
        value, self._value = divmod(offset, self._range << _SCALE)
        return value

    def bypass_unary(self, value: int, cmax: int) -> int:
        """Decode bypass ones up to the first zero or ``cmax`` ones; return their count."""
        offset = self._value
        bits_needed = self._bits_needed
        scaled = self._range << _SCALE
        count = 0
        while count < cmax:
            offset <<= 1
            bits_needed += 1
            if bits_needed == 0:
                offset += self._read_byte()
                bits_needed = -8
            if offset < scaled:
                break
            offset -= scaled
            count += 1
        self._value = offset
        self._bits_needed = bits_needed
        self.frac += (count + (count < cmax)) << FRAC_BITS
        return count

    def terminate(self, value: int = 0) -> int:
        """Decode a terminating bin."""
        rng = self._range - 2
        scaled = rng << _SCALE
        offset = self._value
        if offset >= scaled:
            self.frac += TERMINATE_COST[1]
            offset = (offset - scaled) << 7
            self._range = 256
            bits_needed = self._bits_needed + 7
            if bits_needed >= 0:
                offset += self._read_byte() << bits_needed
                bits_needed -= 8
            self._value = offset
            self._bits_needed = bits_needed
            return 1
        self.frac += TERMINATE_COST[0]
        if rng < 256:
            rng <<= 1
            offset <<= 1
            bits_needed = self._bits_needed + 1
            if bits_needed == 0:
                offset += self._read_byte()
                bits_needed = -8
            self._value = offset
            self._bits_needed = bits_needed
        self._range = rng
        return 0

    def check_fully_consumed(self) -> None:
        """After the last bin: the substream must hold no bytes the decoder has not needed."""
        if self._pos < self._size:
            raise BitstreamError(f"{self._size - self._pos} trailing bytes after the CABAC substream")


class CabacEstimator(_AdaptiveContexts):
    """Rate estimator: the encoder's context adaptation and bit costs without producing bits."""

    def decision(self, ctx: int, value: int = 0) -> int:
        """Account one context-coded bin."""
        p0 = self._prob0
        p1 = self._prob1
        a = p0[ctx]
        b = p1[ctx]
        if value:
            self.frac += COST_OF_ONE[(b + (a << 4)) >> 9]
            shift = self._shift0[ctx]
            p0[ctx] = a - (a >> shift) + (1023 >> shift)
            shift = self._shift1[ctx]
            p1[ctx] = b - (b >> shift) + (16383 >> shift)
        else:
            self.frac += COST_OF_ZERO[(b + (a << 4)) >> 9]
            p0[ctx] = a - (a >> self._shift0[ctx])
            p1[ctx] = b - (b >> self._shift1[ctx])
        return value

    def bypass(self, value: int = 0) -> int:
        """Account one bypass bin."""
        self.frac += FRAC_ONE
        return value

    def bypass_bits(self, value: int, n: int) -> int:
        """Account n bypass bins."""
        if value < 0 or value >> n:
            raise ValueError(f"{value} does not fit in {n} bypass bins")
        self.frac += n << FRAC_BITS
        return value

    def bypass_unary(self, value: int, cmax: int) -> int:
        """Account a bypass unary code of ``value`` truncated at ``cmax``."""
        if not 0 <= value <= cmax:
            raise ValueError(f"unary value {value} outside 0..{cmax}")
        self.frac += (value + (value < cmax)) << FRAC_BITS
        return value

    def terminate(self, value: int = 0) -> int:
        """Account a terminating bin."""
        self.frac += TERMINATE_COST[1 if value else 0]
        return value
