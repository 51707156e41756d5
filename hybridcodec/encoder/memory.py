"""The encoder's memory plan (encoder-only): whole-picture NN coding in one piece or in patches, and a
clear refusal of a picture that the budget cannot hold, before anything large is allocated.

Peak memory is modelled as a base (interpreter, torch, weights) plus bytes per luma sample of what
grows with the picture, plus, for NN coding, the float activations of the largest region analysed at
once.  The figures are measured peaks (``benchmarks/memory.py``, docs/RESULTS.md "Neural modes as a
user meets them"), rounded up, so the plan errs on the safe side.
"""
from __future__ import annotations

from dataclasses import dataclass

from bitstream.errors import InputError
from hybridcodec.config import AUTO_PATCH_SIZE, EncoderConfig

BASE_MB = 400               # interpreter, torch, weights
NN_FIXED_MB = 500           # NN coding whatever the picture: RDOQ gain estimate, a synthesis tile
NN_WINDOW_BYTES = 350       # per luma sample of the patch window being analysed (one at a time)
NN_ROW_BYTES = 120          # per luma sample of the row of patches being quantised (latents, masks, RDOQ)
NN_ONE_PIECE_BYTES = 400    # per luma sample of a picture analysed in one piece (float activations)
PICTURE_BYTES = {           # per luma sample of the picture, whatever else runs
    "host": 40,             # RGB in and out, source and reconstruction planes, the CNN filter's correction
    "hybrid": 80,           # as host, with the hybrid and host-only pictures side by side (host_picture_check)
    "nn": 36,               # planes in and out, binarised symbols until the stream is written, RGB in and out
}
MB = 1 << 20


@dataclass(frozen=True)
class MemoryPlan:
    nn_patch_size: int          # whole-picture NN coding: 0 in one piece, else patches of this size
    estimate_mb: float          # the planned peak


def plan_memory(width: int, height: int, cfg: EncoderConfig, patches: bool = True) -> MemoryPlan:
    """Patches where the picture does not fit ``cfg.memory_budget_mb`` in one piece (nn_patch_size 0)
    and the block codec codes patches (``patches``); InputError where it does not fit at all.  The NN
    figures are the built-in codec's: a plugin's own memory is its own."""
    samples = width * height
    whole_nn = cfg.mode == "nn" or (cfg.mode == "hybrid" and cfg.nn_picture_check)
    patch = cfg.nn_patch_size
    if whole_nn and patch and not patches:
        raise InputError(f"nn_patch_size={patch}: the block codec {cfg.nn_model!r} does not code patches")

    def estimate(patch_size: int) -> float:
        grows = PICTURE_BYTES[cfg.mode] * samples
        fixed = BASE_MB
        if cfg.mode != "host":
            fixed += NN_FIXED_MB
        if whole_nn:
            grows += NN_ONE_PIECE_BYTES * samples if patch_size == 0 else \
                NN_WINDOW_BYTES * _window(patch_size, cfg) + NN_ROW_BYTES * width * min(patch_size, height)
        return fixed + grows / MB

    if whole_nn and patches and patch == 0 and estimate(0) > cfg.memory_budget_mb:
        patch = AUTO_PATCH_SIZE
    planned = estimate(patch)
    if planned > cfg.memory_budget_mb:
        raise InputError(
            f"a {width}x{height} picture needs about {planned:,.0f} MB to encode in mode {cfg.mode!r}"
            f"{f' with patches of {patch}' if whole_nn and patch else ''}, over memory_budget_mb="
            f"{cfg.memory_budget_mb}; raise memory_budget_mb (--memory-budget) or code a smaller picture")
    return MemoryPlan(patch if whole_nn else 0, planned)


def _window(patch: int, cfg: EncoderConfig) -> int:
    """Luma samples of one patch's analysis window (the patch and its context)."""
    side = patch + 2 * (-(-cfg.nn_patch_overlap // 16) * 16)
    return side * side
