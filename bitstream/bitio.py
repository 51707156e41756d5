"""Raw (non-arithmetic-coded) bit I/O for headers: u(n), ue(v), se(v) as in H.266 §7.2 / §9.2.

The reader is defensive: every read is bounds-checked and Exp-Golomb prefixes are bounded, so
malformed headers raise ``BitstreamError`` instead of an IndexError or an unbounded loop.
"""
from __future__ import annotations

from bitstream.errors import BitstreamError

MAX_UE_PREFIX = 32           # ue(v) values up to 2^33 - 2


class BitWriter:
    """Accumulates bits MSB first; ``bytes()`` pads the last byte with zero bits."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0            # pending bits, fewer than 8
        self._num_acc = 0

    @property
    def aligned(self) -> bool:
        return self._num_acc == 0

    def u(self, value: int, n: int) -> None:
        """Unsigned ``value`` in ``n`` bits."""
        if value < 0 or value >> n:
            raise ValueError(f"{value} does not fit in {n} bits")
        acc = (self._acc << n) | value
        num = self._num_acc + n
        while num >= 8:
            num -= 8
            self._out.append((acc >> num) & 0xFF)
        self._acc = acc & ((1 << num) - 1)
        self._num_acc = num

    def flag(self, value: bool) -> None:
        self.u(1 if value else 0, 1)

    def ue(self, value: int) -> None:
        """Unsigned Exp-Golomb: ``len`` zeros, then value + 1 in len + 1 bits."""
        length = (value + 1).bit_length() - 1 if value >= 0 else -1
        if not 0 <= length <= MAX_UE_PREFIX:
            raise ValueError(f"ue(v) value {value} out of range")
        self.u(0, length)
        self.u(value + 1, length + 1)

    def se(self, value: int) -> None:
        """Signed Exp-Golomb: k > 0 -> 2k - 1, k <= 0 -> -2k."""
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def byte_align(self) -> None:
        """Zero bits up to the next byte boundary."""
        if self._num_acc:
            self.u(0, 8 - self._num_acc)

    def write_bytes(self, data: bytes) -> None:
        """Whole bytes; the writer must be byte-aligned."""
        if not self.aligned:
            raise ValueError("write_bytes needs a byte-aligned writer")
        self._out += data

    def bytes(self) -> bytes:
        self.byte_align()
        return bytes(self._out)


class BitReader:
    """Reads what ``BitWriter`` writes; any read past the end raises ``BitstreamError``."""

    def __init__(self, data: bytes, what: str = "bitstream") -> None:
        self._data = bytes(data)
        self._pos = 0            # in bits
        self._end = 8 * len(self._data)
        self._what = what

    @property
    def aligned(self) -> bool:
        return self._pos & 7 == 0

    @property
    def bytes_left(self) -> int:
        """Whole bytes not yet read (rounding the current partial byte down)."""
        return (self._end - self._pos) >> 3

    def u(self, n: int) -> int:
        """Unsigned integer of ``n`` bits."""
        pos = self._pos
        if pos + n > self._end:
            raise BitstreamError(f"truncated {self._what}: read past the end")
        if n == 0:
            return 0
        first, last = pos >> 3, (pos + n + 7) >> 3
        chunk = int.from_bytes(self._data[first:last], "big")
        self._pos = pos + n
        return (chunk >> ((last << 3) - pos - n)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def ue(self) -> int:
        length = 0
        while self.u(1) == 0:
            length += 1
            if length > MAX_UE_PREFIX:
                raise BitstreamError(f"malformed {self._what}: Exp-Golomb prefix longer than {MAX_UE_PREFIX}")
        return (1 << length) - 1 + self.u(length)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) >> 1 if k & 1 else -(k >> 1)

    def byte_align(self) -> None:
        """Skip to the next byte boundary; the skipped bits must be zero."""
        if self._pos & 7 and self.u(8 - (self._pos & 7)):
            raise BitstreamError(f"malformed {self._what}: non-zero alignment bits")

    def read_bytes(self, n: int) -> bytes:
        """``n`` whole bytes; the reader must be byte-aligned."""
        if not self.aligned:
            raise ValueError("read_bytes needs a byte-aligned reader")
        if n > self.bytes_left:
            raise BitstreamError(f"truncated {self._what}: {n} bytes announced, {self.bytes_left} left")
        start = self._pos >> 3
        self._pos += 8 * n
        return self._data[start:start + n]
