"""Fixed-length header syntax, one function per structure for three back-ends (normative).

A syntax function (``picture_header`` in ``bitstream.container``, the NN substream prefixes in
``nntools.codec``) calls ``hc.u(name, value, n)``, ``hc.ue``, ``hc.se``, ``hc.bytes`` and
``hc.byte_alignment``: a ``HeaderWriter`` writes ``value`` and returns it, a ``HeaderReader`` ignores
it and returns what it parses.  Both trace every element under its docs/SYNTAX.md name with its exact
length, so the encoder's and the decoder's traces match line for line; the inspector runs the reader
with an element sink.  This is the coding tree's one-syntax-three-back-ends design (``SyntaxCoder``)
for u(n) / ue(v) / se(v) elements.
"""
from __future__ import annotations

from typing import Callable

from bitstream.bitio import BitReader, BitWriter
from bitstream.syntax_coder import TraceSink, format_element, line_writer

HEADER_CATEGORY = "header"           # picture_header() elements
CONTAINER_CATEGORY = "container"     # hybridcodec_picture()'s framing: magic, version, substreams
NN_STREAM_CATEGORY = "nn_stream"     # nn_picture() / nn_latent_stream() prefix elements


def _ue_bits(value: int) -> int:
    return 2 * (value + 1).bit_length() - 1


def _se_code(value: int) -> int:
    return 2 * value - 1 if value > 0 else -2 * value


def se_bits(value: int) -> int:
    """Length of se(v) ``value`` (for the encoder's rate estimates)."""
    return _ue_bits(_se_code(value))


def element_tracer(sink: TraceSink | None) -> Callable[[str, object, dict, float, str], object] | None:
    """How a header element reaches ``sink`` (as ``SyntaxCoder.trace_sink`` accepts it): an element
    sink's ``element`` method (with the element's category), or a syntax-channel line; None when
    nothing is traced."""
    if sink is None:
        return None
    element = getattr(sink, "element", None)
    if element is not None:
        return element
    if "syntax" not in getattr(sink, "channels", ("syntax",)):
        return None
    emit = line_writer(sink)
    return lambda name, value, where, bits, category: emit(format_element(name, value, where, bits))


class _HeaderCoder:
    reading = False

    def __init__(self, trace_sink: TraceSink | None = None) -> None:
        self._trace = element_tracer(trace_sink)
        self.category = HEADER_CATEGORY     # set by the syntax functions, as SyntaxCoder.category

    def _traced(self, name: str, value, bits: float, where: dict):
        if self._trace is not None:
            self._trace(name, value.hex() if isinstance(value, bytes) else value, where, bits, self.category)
        return value

    def bytes(self, name: str, value: bytes, n: int, **where) -> bytes:
        return self._traced(name, self._raw(value, n, name), 8 * n, where)

    def text(self, name: str, value: str, n: int, **where) -> str:
        """n bytes of text (a name), traced as text; characters outside Latin-1 cannot be coded."""
        return self._traced(name, self._raw(value.encode("latin-1"), n, name).decode("latin-1"), 8 * n, where)


class HeaderWriter(_HeaderCoder):
    """Writes each element's value (into ``writer``, or a fresh one: ``bytes()``)."""

    def __init__(self, writer: BitWriter | None = None, trace_sink: TraceSink | None = None) -> None:
        super().__init__(trace_sink)
        self.w = writer if writer is not None else BitWriter()

    def u(self, name: str, value: int, n: int, **where) -> int:
        self.w.u(int(value), n)
        return self._traced(name, int(value), n, where)

    def ue(self, name: str, value: int, **where) -> int:
        self.w.ue(value)
        return self._traced(name, value, _ue_bits(value), where)

    def se(self, name: str, value: int, **where) -> int:
        self.w.se(value)
        return self._traced(name, value, se_bits(value), where)

    def _raw(self, value: bytes, n: int, name: str) -> bytes:
        if len(value) != n:
            raise ValueError(f"{name}: {len(value)} bytes given, {n} coded")
        self.w.write_bytes(value)
        return value

    def payload(self, value: bytes, n: int) -> bytes:
        """Bytes of a substream, written untraced (their own syntax is traced where it is parsed)."""
        self.w.write_bytes(value)
        return value

    def byte_alignment(self) -> None:
        self.w.byte_align()

    def output(self) -> bytes:
        return self.w.bytes()


class HeaderReader(_HeaderCoder):
    """Parses each element (``value`` arguments are ignored); reads are bounds-checked by ``BitReader``."""
    reading = True

    def __init__(self, reader: BitReader, trace_sink: TraceSink | None = None) -> None:
        super().__init__(trace_sink)
        self.r = reader

    def u(self, name: str, value: int, n: int, **where) -> int:
        return self._traced(name, self.r.u(n), n, where)

    def ue(self, name: str, value: int, **where) -> int:
        v = self.r.ue()
        return self._traced(name, v, _ue_bits(v), where)

    def se(self, name: str, value: int, **where) -> int:
        v = self.r.se()
        return self._traced(name, v, se_bits(v), where)

    def _raw(self, value: bytes, n: int, name: str) -> bytes:
        return self.r.read_bytes(n)

    def payload(self, value: bytes, n: int) -> bytes:
        return self.r.read_bytes(n)

    def byte_alignment(self) -> None:
        self.r.byte_align()


HeaderCoder = HeaderWriter | HeaderReader
