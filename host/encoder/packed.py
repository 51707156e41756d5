"""The picture's CTU decisions, kept compressed until the picture is written (encoder-only).

The loop filters' per-CTU flags are coded inside each CTU's syntax, so the encoder can write the
picture only once every CTU is decided and the filters have been chosen: it holds the whole picture's
decisions, as VVC's encoder does.  As objects (a record per CU, an array of levels per transform block)
that is about 16 bytes per pixel; pickled and deflated it is about 0.6, for some 0.1 s per megapixel.
"""
from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable, Iterator, Sequence

from host.partition import CodingNode, CodingUnit


def pack(root: CodingNode) -> bytes:
    return zlib.compress(pickle.dumps(root, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> CodingNode:
    return pickle.loads(zlib.decompress(blob))


class PackedCtus(Sequence[CodingNode]):
    """CTU coding trees in raster order; each access unpacks a fresh copy, so holding one CTU at a time
    keeps the memory of one CTU."""

    def __init__(self, blobs: Iterable[bytes] = ()):
        self._blobs = list(blobs)

    def append(self, root: CodingNode) -> None:
        self._blobs.append(pack(root))

    def __len__(self) -> int:
        return len(self._blobs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [unpack(b) for b in self._blobs[i]]
        return unpack(self._blobs[i])

    def __iter__(self) -> Iterator[CodingNode]:
        return (unpack(b) for b in self._blobs)

    def cus(self) -> Iterator[CodingUnit]:
        """Every CU in coding order, one CTU unpacked at a time."""
        return (cu for root in self for cu in root.leaves())
