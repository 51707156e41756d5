"""One syntax-coding interface, three back-ends: writer, reader, rate estimator.

Every syntax structure of the codec (coding tree, coding unit, residual coding, NN flags) is written
once as a function of a ``SyntaxCoder``. Called with a ``SyntaxWriter`` it produces CABAC bits, with a
``SyntaxReader`` it parses them, with a ``RateEstimator`` it returns the bits the writer would spend
(from the same adaptive context states).  RD search and the bitstream therefore cannot disagree, and
encoder and decoder traces are identical by construction.

Calling convention for every coding method: ``value = sc.method(..., value)``.  Writer and estimator
code the given value and return it; the reader ignores the argument and returns the decoded value.

Bin level (from the engines of ``bitstream.cabac``, mixed in so a bin costs one Python call):
``decision(ctx, value)``, ``bypass(value)``, ``bypass_bits(value, n)`` (MSB first),
``bypass_unary(value, cmax)`` and ``terminate(value)``.  Contexts are integers allocated by name in a
``ContextTable`` (``bitstream.contexts``).  Binarizations (H.266 §9.3.3) are written once, here:
``fl``, ``tu``, ``tr`` and ``egk``; ``ctxs`` in tu/tr gives the context of bin i (the last entry is
reused for later bins), ``None`` means bypass bins.

Every back-end accumulates the estimated cost of each bin (fractional-bits table for context-coded
bins, 1 bit per bypass bin) in ``bits`` and, per the caller-set ``category``, in ``bits_by_category``.

Tracing (off by default, and then free: ``trace`` returns at once and no engine method is wrapped).
A sink is a text file or a callable taking a line (the ``syntax`` channel), a ``ChannelTrace`` that
selects channels (``syntax``: one line per element; ``cabac``: one line per bin with the context index
and its ``pState``; ``rd``: the encoder's decisions, written by ``host.encoder.search``), or an object
with an ``element(name, value, where, bits, category)`` method that receives elements as data (the
inspector).  Writer and reader produce identical syntax and cabac lines.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Sequence, TextIO

from bitstream.cabac import FRAC_ONE, CabacDecoder, CabacEncoder, CabacEstimator
from bitstream.contexts import ContextTable
from bitstream.errors import BitstreamError

MAX_EGK_PREFIX = 32          # longest accepted Exp-Golomb prefix: values below 2^(32 + k + 1)
DEFAULT_CATEGORY = "other"

TRACE_CHANNELS = ("syntax", "cabac", "rd")
TraceSink = Callable[[str], object] | TextIO
_BIN_METHODS = ("decision", "bypass", "bypass_bits", "bypass_unary", "terminate")


def line_writer(out: TraceSink) -> Callable[[str], object]:
    """A function writing one trace line to ``out``: a text file, or a callable taking the line."""
    return (lambda line: out.write(line + "\n")) if hasattr(out, "write") else out


def format_element(name: str, value, where: dict, bits: float) -> str:
    """The syntax channel's line for one element: ``name key=val ... = value (bits bits)``."""
    fields = "".join(f" {key}={val}" for key, val in where.items())
    return f"{name}{fields} = {value} ({bits:.3f} bits)"


def format_rd_decision(decision: dict) -> str:
    """The rd channel's line for one encoder decision (a dict whose first item names it)."""
    items = iter(decision.items())
    _, kind = next(items)
    fields = " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in items)
    return f"rd {kind} {fields}"


class ChannelTrace:
    """A text trace with selectable channels, written to a text file or a callable taking a line.

    Pass it as ``trace_sink`` to the encoder or decoder.  ``rd_sink`` is what the encoder's RD search
    calls per decision (None unless the ``rd`` channel is on, so the search skips building records).
    """

    def __init__(self, out: TraceSink, channels: Iterable[str] = ("syntax",)) -> None:
        self.channels = frozenset(channels)
        unknown = self.channels - set(TRACE_CHANNELS)
        if unknown:
            raise ValueError(f"unknown trace channel(s) {sorted(unknown)}; known: {TRACE_CHANNELS}")
        self._emit = line_writer(out)

    def __call__(self, line: str) -> None:
        self._emit(line)

    @property
    def rd_sink(self) -> Callable[[dict], None] | None:
        if "rd" not in self.channels:
            return None
        return lambda decision: self._emit(format_rd_decision(decision))


class SyntaxCoder:
    """Binarizations, bit statistics and tracing shared by the three back-ends.

    Subclasses mix in a CABAC engine, which provides the bin-level methods and the running cost
    ``frac`` (in ``FRAC_ONE`` units per bit).
    """

    reading = False
    writing = False             # the writer: values must be codable exactly (an estimate may be rough)
    frac: int
    decision: Callable[..., int]
    bypass: Callable[..., int]
    bypass_bits: Callable[[int, int], int]
    bypass_unary: Callable[[int, int], int]
    terminate: Callable[..., int]

    def __init__(self, table: ContextTable) -> None:
        self.table = table
        self._category = DEFAULT_CATEGORY
        self._category_start = 0
        self._frac_by_category: dict[str, int] = {}
        self._trace_sink: TraceSink | None = None
        self._trace_emit: Callable[[str, object, dict, float], object] | None = None
        self._trace_start = 0

    # ---- statistics -------------------------------------------------------------------------

    @property
    def category(self) -> str:
        """Syntax category the following bins are counted under (set by the syntax functions)."""
        return self._category

    @category.setter
    def category(self, name: str) -> None:
        self._close_category()
        self._category = name

    def _close_category(self) -> None:
        spent = self.frac - self._category_start
        if spent:
            self._frac_by_category[self._category] = self._frac_by_category.get(self._category, 0) + spent
        self._category_start = self.frac

    @property
    def bits_by_category(self) -> dict[str, float]:
        """Estimated bits per category so far (a fresh dict; editing it changes nothing)."""
        self._close_category()
        return {name: frac / FRAC_ONE for name, frac in self._frac_by_category.items()}

    @property
    def bits(self) -> float:
        """Total estimated bits so far."""
        return self.frac / FRAC_ONE

    # ---- tracing ----------------------------------------------------------------------------

    @property
    def trace_sink(self) -> TraceSink | None:
        """Where ``trace`` writes: None (off), a text file, a callable taking a line, a
        ``ChannelTrace``, or an object with an ``element`` method (see the module docstring)."""
        return self._trace_sink

    @trace_sink.setter
    def trace_sink(self, sink: TraceSink | None) -> None:
        self._trace_sink = sink
        self._trace_start = self.frac
        self._trace_emit = None
        for name in _BIN_METHODS:                      # back to the engine's own (untraced) methods
            self.__dict__.pop(name, None)
        if sink is None:
            return
        element = getattr(sink, "element", None)
        if element is not None:
            self._trace_emit = lambda name, value, where, bits: element(name, value, where, bits, self._category)
            return
        emit_line = line_writer(sink)
        channels = getattr(sink, "channels", ("syntax",))
        if "cabac" in channels:
            emit_line = self._trace_bins(emit_line)
        if "syntax" in channels:
            self._trace_emit = lambda name, value, where, bits: emit_line(format_element(name, value, where, bits))

    def trace(self, name: str, value, **where) -> None:
        """Record one syntax element: name, position fields, value, and its estimated bits (the
        bits since the previous trace).  Writer and reader produce identical lines."""
        if self._trace_emit is None:
            return
        spent = (self.frac - self._trace_start) / FRAC_ONE
        self._trace_start = self.frac
        self._trace_emit(name, value, where, spent)

    def _trace_bins(self, emit_line: Callable[[str], object]) -> Callable[[str], object]:
        """Shadow the engine's bin methods on this instance by ones that also trace each bin; returns
        the line writer for the other channels.  A run of bypass bins is written as one line when
        the next non-bypass line comes, so however an engine groups them (one call or several, or a
        unary code built on ``bypass_bits``), writer and reader lines are identical."""
        engine = type(self)
        bypass_run: list[str] = []
        nested = 0

        def write(line: str) -> None:
            if bypass_run:
                emit_line("  bypass " + "".join(bypass_run))
                bypass_run.clear()
            emit_line(line)

        def decision(ctx: int, value: int = 0) -> int:
            p_state = (self._prob0[ctx] << 4) + self._prob1[ctx]
            value = engine.decision(self, ctx, value)
            write(f"  bin ctx={ctx} pState={p_state} = {int(value)}")
            return value

        def bypass(value: int = 0) -> int:
            value = engine.bypass(self, value)
            if not nested:
                bypass_run.append(str(int(value)))
            return value

        def bypass_bits(value: int, n: int) -> int:
            value = engine.bypass_bits(self, value, n)
            if not nested and n > 0:
                bypass_run.append(f"{value:0{n}b}")
            return value

        def bypass_unary(value: int, cmax: int) -> int:
            nonlocal nested
            nested += 1
            try:
                value = engine.bypass_unary(self, value, cmax)
            finally:
                nested -= 1
            bypass_run.append("1" * value + ("0" if value < cmax else ""))
            return value

        def terminate(value: int = 0) -> int:
            value = engine.terminate(self, value)
            write(f"  terminate = {int(value)}")
            return value

        for method in (decision, bypass, bypass_bits, bypass_unary, terminate):
            setattr(self, method.__name__, method)
        return write

    # ---- binarizations (H.266 §9.3.3) --------------------------------------------------------

    def fl(self, value: int, n: int) -> int:
        """Fixed-length code of n bypass bins, MSB first."""
        return self.bypass_bits(value, n)

    def tu(self, value: int, cmax: int, ctxs: Sequence[int] | None = None) -> int:
        """Truncated unary: ``value`` ones, then a zero unless value == cmax."""
        if ctxs is None:
            return self.bypass_unary(value, cmax)
        if not self.reading and not 0 <= value <= cmax:
            raise ValueError(f"truncated unary value {value} outside 0..{cmax}")
        decision = self.decision
        last = len(ctxs) - 1
        n = 0
        while n < cmax and decision(ctxs[n] if n < last else ctxs[last], n < value):
            n += 1
        return n

    def tr(self, value: int, cmax: int, rice: int, ctxs: Sequence[int] | None = None) -> int:
        """Truncated Rice: TU prefix of value >> rice (max cmax >> rice), then ``rice`` bypass bins
        of the remainder unless value == cmax.  cmax must be a multiple of 2^rice, as in VVC."""
        if cmax & ((1 << rice) - 1):
            raise ValueError(f"cmax {cmax} is not a multiple of 2^{rice}")
        if not self.reading and not 0 <= value <= cmax:
            raise ValueError(f"truncated Rice value {value} outside 0..{cmax}")
        prefix_max = cmax >> rice
        prefix = self.tu(value >> rice, prefix_max, ctxs)
        if prefix < prefix_max and rice:
            return (prefix << rice) | self.bypass_bits(value & ((1 << rice) - 1), rice)
        return prefix << rice

    def egk(self, value: int, k: int) -> int:
        """k-th order Exp-Golomb in bypass bins: unary prefix, then k + prefix suffix bits."""
        prefix = ((value >> k) + 1).bit_length() - 1 if value >= 0 else 0
        if not self.reading and (value < 0 or prefix > MAX_EGK_PREFIX):
            raise ValueError(f"Exp-Golomb value {value} outside 0..2^{MAX_EGK_PREFIX + 1 + k}-2^{k}-1")
        prefix = self.bypass_unary(prefix, MAX_EGK_PREFIX + 1)
        if prefix > MAX_EGK_PREFIX:
            raise BitstreamError("Exp-Golomb prefix longer than 32 bins")
        offset = ((1 << prefix) - 1) << k
        return offset + self.bypass_bits(value - offset, prefix + k)


class SyntaxWriter(CabacEncoder, SyntaxCoder):
    """Writes syntax as one CABAC substream; ``finish()`` returns its bytes."""

    writing = True

    def __init__(self, table: ContextTable, qp: int, trained_init: bool = False) -> None:
        CabacEncoder.__init__(self, table.initial_states(qp, trained_init))
        SyntaxCoder.__init__(self, table)


class SyntaxReader(CabacDecoder, SyntaxCoder):
    """Parses a CABAC substream; raises ``BitstreamError`` on truncated or malformed data."""

    reading = True

    def __init__(self, table: ContextTable, qp: int, data: bytes, trained_init: bool = False) -> None:
        CabacDecoder.__init__(self, table.initial_states(qp, trained_init), data)
        SyntaxCoder.__init__(self, table)

    def finish(self) -> None:
        """Call after the last element: rejects bytes that the syntax did not account for."""
        self.check_fully_consumed()


class EstimatorSnapshot(NamedTuple):
    prob0: list[int]
    prob1: list[int]
    frac: int
    frac_by_category: dict[str, int]
    category: str


class RateEstimator(CabacEstimator, SyntaxCoder):
    """Bits the writer would spend, with the writer's context adaptation; cheap to fork and rewind."""

    def __init__(self, table: ContextTable, qp: int, trained_init: bool = False) -> None:
        CabacEstimator.__init__(self, table.initial_states(qp, trained_init))
        SyntaxCoder.__init__(self, table)

    def snapshot(self) -> EstimatorSnapshot:
        """Context states, bit count and statistics, to ``restore`` after trying a candidate."""
        self._close_category()
        return EstimatorSnapshot(self._prob0[:], self._prob1[:], self.frac,
                                 dict(self._frac_by_category), self._category)

    def restore(self, snap: EstimatorSnapshot) -> None:
        """Return to the state of ``snap`` (a snapshot may be restored any number of times)."""
        self._prob0[:] = snap.prob0
        self._prob1[:] = snap.prob1
        self.frac = self._category_start = self._trace_start = snap.frac
        self._frac_by_category = dict(snap.frac_by_category)
        self._category = snap.category

    def load_states(self, other: SyntaxCoder) -> None:
        """Continue from the current context states of another coder; the bit count is kept."""
        self.copy_states_from(other)
