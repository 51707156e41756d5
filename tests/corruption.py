"""Hypothesis strategies for corrupted versions of a valid byte string (shared by the fuzz tests)."""
from hypothesis import strategies as st


def flip_bits(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for b in bits:
        out[b >> 3] ^= 0x80 >> (b & 7)
    return bytes(out)


def truncated_or_flipped(valid: bytes, max_flips: int = 6):
    """Every prefix of ``valid``, or ``valid`` with 1..max_flips bits flipped."""
    return st.one_of(
        st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),
        st.lists(st.integers(0, 8 * len(valid) - 1), min_size=1, max_size=max_flips)
          .map(lambda bits: flip_bits(valid, bits)),
    )
