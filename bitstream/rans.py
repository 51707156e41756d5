"""Vectorised interleaved rANS coder for the neural tool's latents (normative).

Symbols of a pass are dealt round-robin to ``lanes`` independent rANS states (symbol i -> lane
i % lanes).  One coding *step* codes the next symbol of every lane at once with NumPy, so the Python
loop runs about ``n / lanes`` times per pass.  All arithmetic is integer (int64 holding 32-bit states),
so the result is bit-exact on every machine.

Coder parameters: 32-bit states in ``[2**16, 2**32)``, 16-bit renormalisation words, table precision
``P <= 16`` (hence at most one word per symbol).  A symbol with start ``c`` and frequency ``f`` is coded
``x -> (x // f << P) + x % f + c`` after emitting the low word of ``x`` when ``x >= f << (32 - P)``.

Binarisation of a value ``v`` coded with table ``k`` (see ``bitstream.cdf_tables``): regular symbol
``s = v - offsets[k]`` if ``0 <= s < E`` with escape symbol ``E = cdf_lengths[k] - 2``; otherwise the
escape symbol, then bypass bins coded inside the same lane with uniform frequencies:
``escape_length`` (6 bits, the bit length ``w`` of ``u``) and the ``w - 1`` bits of ``u`` below its
leading one, in chunks of up to 16 bits, least significant chunk first, where
``u = 2 * (s - E)`` for ``s >= E`` and ``u = -2 * s - 1`` for ``s < 0``.

Bitstream layout: a sequence of big-endian 16-bit words.  Within one step the decoder performs
*batches* (the regular symbols of all lanes, then escape_length of the escaping lanes, then each
escape chunk of the lanes that have it); every batch reads the words of its renormalising lanes in
ascending lane order.  The encoder runs the same batches in exactly reverse order, emits the words of
a batch in descending lane order and reverses the whole word list at the end, so the decoder's reads
mirror the encoder's emissions word for word.  A lane's final state (two words, high first) is read
just before the first pass that uses that lane; lanes no pass uses cost nothing.  Pass lengths and
the lane count are not in the stream: the caller knows them (see ``lane_count_for``: each used lane
costs ~24 bits of flush, so the lane count trades Python steps against size).

Table arguments: every entry point takes ``cdfs, cdf_lengths, offsets`` (the integer arrays stored with
the model, see ``bitstream.cdf_tables``) or a ``RansTables`` in place of ``cdfs``, which validates the
arrays once and is the cheap choice for repeated calls (e.g. rate estimation in RD search).
"""
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bitstream.errors import BitstreamError, InputError

STATE_LOWER_BOUND = 1 << 16  # L: states live in [L, 2**32)
WORD_BITS = 16
WORD_MASK = (1 << WORD_BITS) - 1
ESCAPE_LENGTH_BITS = 6
MAX_ESCAPE_LENGTH = 34  # bit length of u for int32 values and int32 offsets
MAX_LANES = 1 << 16
FLUSH_BITS_PER_LANE = 24  # typical cost of a used lane: 16 (initial state) + ~8 (final state rounding)
_WORD_DTYPE = np.dtype(">u2")


@dataclass(frozen=True)
class RansTables:
    """Validated integer CDF tables as stored with the model (entries past a table's end are ignored)."""

    cdfs: np.ndarray
    cdf_lengths: np.ndarray
    offsets: np.ndarray
    precision: int = 16

    def __post_init__(self) -> None:
        cdfs = np.asarray(self.cdfs)
        lengths = np.asarray(self.cdf_lengths)
        offsets = np.asarray(self.offsets)
        if not 1 <= self.precision <= 16:
            raise InputError(f"precision must be in [1, 16], got {self.precision}")
        for name, array in (("cdfs", cdfs), ("cdf_lengths", lengths), ("offsets", offsets)):
            if array.dtype.kind not in "iu":
                raise InputError(f"{name} must be an integer array")
        if cdfs.ndim != 2 or lengths.shape != (cdfs.shape[0],) or offsets.shape != lengths.shape:
            raise InputError("need cdfs (K, W), cdf_lengths (K,) and offsets (K,)")
        if cdfs.shape[0] == 0 or np.any(lengths < 2) or np.any(lengths > cdfs.shape[1]):
            raise InputError("cdf_lengths must lie in [2, cdfs.shape[1]] for a non-empty table set")
        total = 1 << self.precision
        if cdfs.shape[1] > total + 1:
            raise InputError(f"a {self.precision}-bit CDF has at most {total + 1} entries")
        int32 = np.iinfo(np.int32)
        if np.any(offsets < int32.min) or np.any(offsets.astype(np.int64) + lengths - 3 > int32.max):
            raise InputError("offsets and every regular symbol's value must fit int32")
        width = cdfs.shape[1]
        column = np.arange(width)
        in_table = column[None, :] < lengths[:, None]
        # Entries past a table's end repeat 2**precision so each row is non-decreasing.
        padded = np.where(in_table, cdfs.astype(np.int64), total)
        is_last = column[None, :] == lengths[:, None] - 1
        increasing = np.diff(padded, axis=1) > 0
        if (np.any(padded[:, 0] != 0) or np.any(padded[is_last] != total)
                or np.any(~increasing & in_table[:, 1:])):
            raise InputError("every CDF must rise strictly from 0 to 2**precision")
        object.__setattr__(self, "cdfs", padded)
        object.__setattr__(self, "cdf_lengths", lengths.astype(np.int64))
        object.__setattr__(self, "offsets", offsets.astype(np.int64))

    @property
    def count(self) -> int:
        return self.cdfs.shape[0]

    @property
    def width(self) -> int:
        return self.cdfs.shape[1]

    @property
    def flat_cdfs(self) -> np.ndarray:
        """Row-major view: entry ``k * width + s`` is ``cdfs[k, s]``."""
        return self.cdfs.ravel()

    @cached_property
    def symbol_of_slot(self) -> np.ndarray:
        """Entry ``k << precision | slot`` is the symbol s of table k with cdf[s] <= slot < cdf[s + 1].

        Built on first decode (uint16, ``count * 2**precision`` entries: 8 MiB for 64 tables); one
        gather per decoded symbol is several times faster than a binary search.
        """
        freqs = np.diff(self.cdfs, axis=1).ravel()  # padding contributes zero
        symbols = np.tile(np.arange(self.width - 1, dtype=np.uint16), self.count)
        return np.repeat(symbols, freqs)

    def checked_indexes(self, indexes: np.ndarray) -> np.ndarray:
        indexes = np.asarray(indexes)
        if indexes.ndim != 1 or indexes.dtype.kind not in "iu":
            raise InputError("indexes must be a 1-D integer array")
        if indexes.size and (indexes.min() < 0 or indexes.max() >= self.count):
            raise InputError(f"table indexes must lie in [0, {self.count})")
        return indexes.astype(np.int64)


TableArg = np.ndarray | RansTables
OptionalArray = np.ndarray | None


def as_tables(cdfs: TableArg, cdf_lengths: OptionalArray = None, offsets: OptionalArray = None,
              precision: int = 16) -> RansTables:
    """Accept either a ready ``RansTables`` (validated once, reused) or the three stored arrays."""
    if isinstance(cdfs, RansTables):
        return cdfs
    return RansTables(cdfs, cdf_lengths, offsets, precision)


@dataclass(frozen=True)
class _Binarisation:
    """Coding decisions of one pass (encoder side and rate estimation); escapes are rare, so their
    bypass payload is kept only for the escaping positions."""

    start: np.ndarray  # per value: cdf start of its regular or escape symbol
    freq: np.ndarray
    escape_positions: np.ndarray  # ascending positions of escaped values
    escape_length: np.ndarray  # per escape: w, the bit length of u
    escape_bits: np.ndarray  # per escape: u without its leading one

    @property
    def chunk_count(self) -> np.ndarray:
        return -(-np.maximum(self.escape_length - 1, 0) // WORD_BITS)

    @property
    def bypass_bits(self) -> np.ndarray:
        return ESCAPE_LENGTH_BITS + np.maximum(self.escape_length - 1, 0)


def _binarise(values: np.ndarray, indexes: np.ndarray, tables: RansTables) -> _Binarisation:
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iu" or values.shape != indexes.shape:
        raise InputError("symbols must be a 1-D integer array as long as indexes")
    if values.size and (values.min() < np.iinfo(np.int32).min or values.max() > np.iinfo(np.int32).max):
        raise InputError("symbols must fit int32")
    shifted = values.astype(np.int64) - tables.offsets[indexes]
    escape_symbol = tables.cdf_lengths[indexes] - 2
    escape = (shifted < 0) | (shifted >= escape_symbol)
    position = indexes * tables.width + np.where(escape, escape_symbol, shifted)
    start = tables.flat_cdfs[position].astype(np.int32)       # <= 2**16: kept compact until coded
    freq = (tables.flat_cdfs[position + 1] - start).astype(np.int32)
    escape_positions = np.flatnonzero(escape)
    shifted, escape_symbol = shifted[escape_positions], escape_symbol[escape_positions]
    overflow = np.where(shifted < 0, -2 * shifted - 1, 2 * (shifted - escape_symbol))
    length = _bit_length(overflow)
    leading_one = np.where(length > 0, np.left_shift(1, np.maximum(length - 1, 0)), 0)
    return _Binarisation(start, freq, escape_positions, length, overflow - leading_one)


def _bit_length(values: np.ndarray) -> np.ndarray:
    """Exact bit length of non-negative int64 values (< 2**63), by binary search on shifts."""
    length = np.zeros(values.shape, dtype=np.int64)
    remaining = values.copy()
    for shift in (32, 16, 8, 4, 2, 1):
        big = remaining >= (1 << shift)
        length += np.where(big, shift, 0)
        remaining = np.where(big, remaining >> shift, remaining)
    return length + (remaining > 0)


def _check_lanes(lanes: int) -> int:
    if not isinstance(lanes, (int, np.integer)) or not 1 <= lanes <= MAX_LANES:
        raise InputError(f"lanes must be an integer in [1, {MAX_LANES}]")
    return int(lanes)


def _chunk_precision(length: np.ndarray, chunk: int) -> np.ndarray:
    return np.minimum(WORD_BITS, length - 1 - WORD_BITS * chunk)


class RansEncoder:
    """Collects passes, then codes them last-to-first (rANS is LIFO) into one byte string.

    A pass is binarised when it is given (8 bytes per symbol kept), so a caller can drop its symbols
    at once; the lane count may be left to ``finish``, when the size of every pass is known."""

    def __init__(self, cdfs: TableArg, cdf_lengths: OptionalArray = None, offsets: OptionalArray = None,
                 lanes: int = 2048, precision: int = 16) -> None:
        self.tables = as_tables(cdfs, cdf_lengths, offsets, precision)
        self.lanes = _check_lanes(lanes)
        self._passes: list[_Binarisation] = []

    def encode_pass(self, symbols: np.ndarray, indexes: np.ndarray) -> None:
        indexes = self.tables.checked_indexes(indexes)
        self._passes.append(_binarise(symbols, indexes, self.tables))

    def finish(self, lanes: int | None = None) -> bytes:
        lanes = self.lanes = self.lanes if lanes is None else _check_lanes(lanes)
        states = np.full(lanes, STATE_LOWER_BOUND, dtype=np.int64)
        words: list[np.ndarray] = []
        used_before = [0] + np.maximum.accumulate([min(p.start.size, lanes) for p in self._passes]).tolist()
        for number in reversed(range(len(self._passes))):
            self._encode_pass(self._passes[number], states, words)
            first_new, used = used_before[number], used_before[number + 1]
            flushed = states[first_new:used][::-1]
            # Descending lanes, low word before high, so the reversed stream reads high, low ascending.
            words.append(np.stack([flushed & WORD_MASK, flushed >> WORD_BITS], axis=1).ravel())
        if not words:
            return b""
        return np.concatenate(words)[::-1].astype(_WORD_DTYPE).tobytes()

    def _encode_pass(self, binarisation: _Binarisation, states: np.ndarray, words: list[np.ndarray]) -> None:
        lanes, count = self.lanes, binarisation.start.size
        step_starts = np.arange(0, count, lanes)
        escape_bounds = np.searchsorted(binarisation.escape_positions, np.append(step_starts, count))
        for step_number in reversed(range(step_starts.size)):
            step_start = int(step_starts[step_number])
            step = slice(step_start, min(step_start + lanes, count))
            first_escape, end_escape = escape_bounds[step_number], escape_bounds[step_number + 1]
            if end_escape > first_escape:
                self._encode_escapes(binarisation, slice(first_escape, end_escape), step_start, states, words)
            _encode_batch(states[: step.stop - step.start], binarisation.start[step],
                          binarisation.freq[step].astype(np.int64), self.tables.precision, words)

    @staticmethod
    def _encode_escapes(binarisation: _Binarisation, escapes: slice, step_start: int, states: np.ndarray,
                        words: list[np.ndarray]) -> None:
        """Bypass payload of the escapes of one step: chunks last to first, then escape_length."""
        lane_ids = binarisation.escape_positions[escapes] - step_start
        length = binarisation.escape_length[escapes]
        bits = binarisation.escape_bits[escapes]
        chunk_count = binarisation.chunk_count[escapes]
        for chunk in reversed(range(int(chunk_count.max()))):
            has_chunk = chunk_count > chunk
            precision = _chunk_precision(length[has_chunk], chunk)
            value = (bits[has_chunk] >> (WORD_BITS * chunk)) & ((1 << precision) - 1)
            _encode_bypass(states, lane_ids[has_chunk], value, precision, words)
        _encode_bypass(states, lane_ids, length, ESCAPE_LENGTH_BITS, words)


def _encode_bypass(states: np.ndarray, lane_ids: np.ndarray, value: np.ndarray, precision: int | np.ndarray,
                   words: list[np.ndarray]) -> None:
    """Code ``value`` with uniform probability ``2**-precision`` in the lanes ``lane_ids``."""
    lane_states = states[lane_ids]
    _encode_batch(lane_states, value, np.ones_like(value), precision, words)
    states[lane_ids] = lane_states


def _encode_batch(states: np.ndarray, start: np.ndarray, freq: np.ndarray, precision: int | np.ndarray,
                  words: list[np.ndarray]) -> None:
    """Code one symbol per lane into ``states`` (modified in place); emitted words go to ``words``."""
    emit = states >= freq << (32 - precision)
    if emit.any():
        words.append(states[emit][::-1] & WORD_MASK)
        states[emit] >>= WORD_BITS
    quotient, remainder = np.divmod(states, freq)
    states[:] = (quotient << precision) + remainder + start


class RansDecoder:
    """Decodes the passes of a stream in the order they were encoded; call ``finish`` at the end."""

    def __init__(self, data: bytes, cdfs: TableArg, cdf_lengths: OptionalArray = None,
                 offsets: OptionalArray = None, lanes: int = 2048, precision: int = 16, meter: bool = False) -> None:
        self.tables = as_tables(cdfs, cdf_lengths, offsets, precision)
        self.lanes = _check_lanes(lanes)
        self.bits = 0.0 if meter else None   # with ``meter``: ideal code length of the values decoded so far
        if len(data) % 2:
            raise BitstreamError("rANS stream length must be a whole number of 16-bit words")
        self._words = np.frombuffer(data, dtype=_WORD_DTYPE).astype(np.int64)
        self._position = 0
        self._states = np.zeros(0, dtype=np.int64)

    def decode_pass(self, indexes: np.ndarray) -> np.ndarray:
        """Decode ``len(indexes)`` values, value i with table ``indexes[i]``; returns int32."""
        tables = self.tables
        indexes = tables.checked_indexes(indexes)
        count = indexes.size
        self._start_lanes(min(count, self.lanes))
        slot_base = indexes << tables.precision
        row_start = indexes * tables.width
        escape_position = row_start + tables.cdf_lengths[indexes] - 2
        values = tables.offsets[indexes] - row_start  # + flat position = value of a regular symbol
        flat_cdfs, symbol_of_slot = tables.flat_cdfs, tables.symbol_of_slot
        slot_mask = (1 << tables.precision) - 1
        for step_start in range(0, count, self.lanes):
            step = slice(step_start, min(step_start + self.lanes, count))
            states = self._states[: step.stop - step.start]
            slot = states & slot_mask
            position = row_start[step] + symbol_of_slot[slot_base[step] + slot]
            start = flat_cdfs[position]
            freq = flat_cdfs[position + 1] - start
            states[:] = freq * (states >> tables.precision) + slot - start
            self._renormalise(states)
            values[step] += position
            escaping = np.flatnonzero(position == escape_position[step])
            if escaping.size:
                escaping_table = indexes[step_start + escaping]
                values[step_start + escaping] = self._decode_escape(
                    escaping, tables.cdf_lengths[escaping_table] - 2, tables.offsets[escaping_table])
        values = values.astype(np.int32)
        if self.bits is not None:
            self.bits += estimate_bits(values, indexes, tables)
        return values

    def finish(self) -> None:
        """Check that every lane returned to its initial state and every word was read."""
        if np.any(self._states != STATE_LOWER_BOUND) or self._position != self._words.size:
            raise BitstreamError("rANS stream does not end where its passes end")

    def _start_lanes(self, used: int) -> None:
        first_new = self._states.size
        if used <= first_new:
            return
        pairs = self._read(2 * (used - first_new)).reshape(-1, 2)
        new_states = (pairs[:, 0] << WORD_BITS) | pairs[:, 1]
        if np.any(new_states < STATE_LOWER_BOUND):
            raise BitstreamError("invalid rANS lane state")
        self._states = np.concatenate([self._states, new_states])

    def _read(self, count: int) -> np.ndarray:
        if self._position + count > self._words.size:
            raise BitstreamError("rANS stream is truncated")
        chunk = self._words[self._position: self._position + count]
        self._position += count
        return chunk

    def _renormalise(self, states: np.ndarray) -> None:
        low = np.flatnonzero(states < STATE_LOWER_BOUND)
        if low.size:
            states[low] = (states[low] << WORD_BITS) | self._read(low.size)

    def _decode_bypass(self, lane_ids: np.ndarray, precision: int | np.ndarray) -> np.ndarray:
        states = self._states[lane_ids]
        value = states & ((1 << precision) - 1)
        states >>= precision
        self._renormalise(states)
        self._states[lane_ids] = states
        return value

    def _decode_escape(self, lane_ids: np.ndarray, escape_symbol: np.ndarray,
                       offsets: np.ndarray) -> np.ndarray:
        length = self._decode_bypass(lane_ids, ESCAPE_LENGTH_BITS)
        if np.any(length > MAX_ESCAPE_LENGTH):
            raise BitstreamError("escape length out of range")
        overflow = np.where(length > 0, np.left_shift(1, np.maximum(length - 1, 0)), 0)
        chunk = 0
        while np.any(has_chunk := length - 1 > WORD_BITS * chunk):
            precision = _chunk_precision(length[has_chunk], chunk)
            overflow[has_chunk] |= self._decode_bypass(lane_ids[has_chunk], precision) << (WORD_BITS * chunk)
            chunk += 1
        shifted = np.where(overflow & 1, -(overflow + 1) // 2, escape_symbol + overflow // 2)
        values = shifted + offsets
        if np.any(values < np.iinfo(np.int32).min) or np.any(values > np.iinfo(np.int32).max):
            raise BitstreamError("escaped value out of int32 range")
        return values


def lane_count_for(ideal_bits: float, max_overhead: float = 0.01, max_lanes: int = 2048) -> int:
    """Encoder-side choice of the lane count: the largest power of two (at most ``max_lanes``) whose
    flush cost, ``FLUSH_BITS_PER_LANE`` per lane, stays within ``max_overhead`` of the payload.

    More lanes mean fewer Python steps (faster) but ~3 bytes each, which matters for low-rate latents.
    The encoder signals the result, e.g. as log2(lanes) in 4 bits, since the decoder cannot know
    ``ideal_bits`` (from ``estimate_bits``) before decoding.
    """
    affordable = int(max_overhead * max(ideal_bits, 0.0) // FLUSH_BITS_PER_LANE)
    return 1 << (max(1, min(max_lanes, affordable)).bit_length() - 1)


def encode_passes(passes: Sequence[tuple[np.ndarray, np.ndarray]], cdfs: TableArg,
                  cdf_lengths: OptionalArray = None, offsets: OptionalArray = None, lanes: int = 2048,
                  precision: int = 16) -> bytes:
    """Code several ``(symbols, indexes)`` passes into one stream.

    Decode with one ``RansDecoder`` calling ``decode_pass`` once per pass in the same order (each pass's
    indexes may depend on the values of earlier passes), then ``finish``.
    """
    encoder = RansEncoder(cdfs, cdf_lengths, offsets, lanes, precision)
    for symbols, indexes in passes:
        encoder.encode_pass(symbols, indexes)
    return encoder.finish()


def rans_encode(symbols: np.ndarray, indexes: np.ndarray, cdfs: TableArg, cdf_lengths: OptionalArray = None,
                offsets: OptionalArray = None, lanes: int = 2048, precision: int = 16) -> bytes:
    return encode_passes([(symbols, indexes)], cdfs, cdf_lengths, offsets, lanes, precision)


def rans_decode(data: bytes, indexes: np.ndarray, cdfs: TableArg, cdf_lengths: OptionalArray = None,
                offsets: OptionalArray = None, lanes: int = 2048, precision: int = 16) -> np.ndarray:
    decoder = RansDecoder(data, cdfs, cdf_lengths, offsets, lanes, precision)
    values = decoder.decode_pass(indexes)
    decoder.finish()
    return values


def symbol_bits(symbols: np.ndarray, indexes: np.ndarray, cdfs: TableArg, cdf_lengths: OptionalArray = None,
                offsets: OptionalArray = None, precision: int = 16) -> np.ndarray:
    """Ideal code length in bits of each value (regular or escape symbol plus its bypass bins).

    Encoder-only rate estimate for RD decisions; the stream adds ``FLUSH_BITS_PER_LANE`` per used lane.
    """
    tables = as_tables(cdfs, cdf_lengths, offsets, precision)
    binarisation = _binarise(symbols, tables.checked_indexes(indexes), tables)
    bits = tables.precision - np.log2(binarisation.freq)
    bits[binarisation.escape_positions] += binarisation.bypass_bits
    return bits


def estimate_bits(symbols: np.ndarray, indexes: np.ndarray, cdfs: TableArg,
                  cdf_lengths: OptionalArray = None, offsets: OptionalArray = None,
                  precision: int = 16) -> float:
    """Total of ``symbol_bits``."""
    return float(symbol_bits(symbols, indexes, cdfs, cdf_lengths, offsets, precision).sum())
