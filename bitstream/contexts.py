"""Context allocation by name and VVC-style context initialisation (H.266 §9.3.2.2).

A context is an integer index into flat per-context state lists, because the arithmetic coder runs
per bin in pure Python and a list index is the cheapest lookup there is.  Syntax modules allocate
their contexts by name in a ``ContextTable``.  The codec builds ONE table, in a fixed order, in
``host/contexts.py``; indices are assigned in registration order and a table only ever appends, so
encoder and decoder hold identical tables, and ``freeze()`` makes a late registration fail loudly.

Every context has two initialisations: the one it was registered with (equiprobable unless given) and
a trained one (``set_trained``, from coding statistics); the picture header's ``context_init_flag``
chooses between them for all contexts at once.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

EQUIPROBABLE = 64        # init value outside the 6-bit VVC range: probability 1/2 at every QP
DEFAULT_SHIFT_IDX = 8    # adaptation windows 2^4 and 2^7 bins (shift0 = 4, shift1 = 7)
MAX_SHIFT_IDX = 15


class ContextStates(NamedTuple):
    """Initial states of every context: the two probability estimates and their window shifts.

    ``prob0`` is the 10-bit fast estimate (pStateIdx0), ``prob1`` the 14-bit slow estimate
    (pStateIdx1); their combination ``prob1 + 16 * prob0`` is the 15-bit probability of a 1.
    """
    prob0: list[int]
    prob1: list[int]
    shift0: list[int]
    shift1: list[int]


def init_probability(init_value: int, qp: int) -> tuple[int, int]:
    """(pStateIdx0, pStateIdx1) of a context with 6-bit ``init_value`` at slice QP ``qp``."""
    if init_value == EQUIPROBABLE:
        pre_ctx_state = 64
    else:
        slope = (init_value >> 3) - 4
        offset = (init_value & 7) * 18 + 1
        pre_ctx_state = min(max(((slope * (min(max(qp, 0), 63) - 16)) >> 1) + offset, 1), 127)
    return pre_ctx_state << 3, pre_ctx_state << 7


def window_shifts(shift_idx: int) -> tuple[int, int]:
    """(shift0, shift1): adaptation rates of the fast and slow estimate."""
    shift0 = (shift_idx >> 2) + 2
    return shift0, (shift_idx & 3) + 3 + shift0


class ContextTable:
    """Append-only registry of named groups of consecutive contexts."""

    def __init__(self) -> None:
        self._groups: dict[str, tuple[int, int]] = {}
        self._init_values: list[int] = []
        self._shift_idx: list[int] = []
        self._trained_init: list[int] = []
        self._trained_shift: list[int] = []
        self._frozen = False

    def __len__(self) -> int:
        return len(self._init_values)

    def add(self, name: str, init_values: Sequence[int] | int,
            shift_idx: Sequence[int] | int = DEFAULT_SHIFT_IDX) -> int:
        """Allocate ``len(init_values)`` contexts (an int n means n equiprobable ones); return the base.

        ``shift_idx`` is one VVC shiftIdx for all of them or one per context.
        """
        if self._frozen:
            raise ValueError(f"cannot add contexts {name!r}: the context table is frozen")
        if name in self._groups:
            raise ValueError(f"contexts {name!r} are already registered")
        inits, shifts = _normalise(name, init_values, shift_idx)
        base = len(self._init_values)
        self._groups[name] = (base, len(inits))
        self._init_values += inits
        self._shift_idx += shifts
        self._trained_init += inits
        self._trained_shift += shifts
        return base

    def set_trained(self, name: str, init_values: Sequence[int], shift_idx: Sequence[int]) -> None:
        """The trained initialisation of the contexts registered as ``name`` (one value per context)."""
        if self._frozen:
            raise ValueError(f"cannot train contexts {name!r}: the context table is frozen")
        base, count = self.index(name)
        inits, shifts = _normalise(name, init_values, shift_idx)
        if len(inits) != count:
            raise ValueError(f"contexts {name!r}: {count} contexts but {len(inits)} trained values")
        self._trained_init[base:base + count] = inits
        self._trained_shift[base:base + count] = shifts

    def get_or_add(self, name: str, init_values: Sequence[int] | int,
                   shift_idx: Sequence[int] | int = DEFAULT_SHIFT_IDX) -> int:
        """Base of ``name``, registering it first if needed; a conflicting definition is an error."""
        if name not in self._groups:
            return self.add(name, init_values, shift_idx)
        base, count = self._groups[name]
        inits, shifts = _normalise(name, init_values, shift_idx)
        if inits != self._init_values[base:base + count] or shifts != self._shift_idx[base:base + count]:
            raise ValueError(f"contexts {name!r} are already registered with a different definition")
        return base

    def index(self, name: str) -> tuple[int, int]:
        """(base, count) of the contexts registered as ``name``."""
        try:
            return self._groups[name]
        except KeyError:
            raise KeyError(f"no contexts registered as {name!r}") from None

    def freeze(self) -> None:
        """Refuse further registrations (call once every syntax module has been imported)."""
        self._frozen = True

    def initial_states(self, qp: int, trained: bool = False) -> ContextStates:
        """Fresh state lists of every context, initialised for slice QP ``qp`` from the registered
        (``trained`` False) or the trained values."""
        inits, shift_idx = ((self._trained_init, self._trained_shift) if trained
                            else (self._init_values, self._shift_idx))
        probs = [init_probability(v, qp) for v in inits]
        shifts = [window_shifts(s) for s in shift_idx]
        return ContextStates([p[0] for p in probs], [p[1] for p in probs],
                             [s[0] for s in shifts], [s[1] for s in shifts])


def _normalise(name: str, init_values: Sequence[int] | int,
               shift_idx: Sequence[int] | int) -> tuple[list[int], list[int]]:
    inits = [EQUIPROBABLE] * init_values if isinstance(init_values, int) else [int(v) for v in init_values]
    shifts = [shift_idx] * len(inits) if isinstance(shift_idx, int) else [int(s) for s in shift_idx]
    if not inits:
        raise ValueError(f"contexts {name!r}: at least one context is required")
    if len(shifts) != len(inits):
        raise ValueError(f"contexts {name!r}: {len(inits)} init values but {len(shifts)} shift indices")
    if any(not 0 <= v <= EQUIPROBABLE for v in inits):
        raise ValueError(f"contexts {name!r}: init values must lie in 0..63 (or EQUIPROBABLE)")
    if any(not 0 <= s <= MAX_SHIFT_IDX for s in shifts):
        raise ValueError(f"contexts {name!r}: shift indices must lie in 0..{MAX_SHIFT_IDX}")
    return inits, shifts

