"""The determinism check of a neural-tool plugin: what ``hybridcodec check NAME`` runs.

The contract (``nntools.plugin``, docs/PLUGINS.md) asks that a deterministic tool's decoder output be a
function of the payload alone.  The check codes small generated pictures with the tool's own encoder
side and verifies, for a block codec:

- ``exact``: every region decodes to the reconstruction its encoder reported, bit for bit;
- ``stream-independent``: a region decodes alike alone and among others in one stream (the hybrid codes
  each CU alone and writes them together);
- ``threads``: decoding is identical with 1, 2 and 4 torch threads;
- ``repeat``: decoding twice in a row gives the same samples;
- ``picture``: a whole picture decodes to its encoder reconstruction;

and for a loop filter, ``threads`` and ``repeat`` on a host-coded picture with every CTU filtered.
A failed check names the region, the level, and how many samples differ and by how much.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from bitstream.container import CHROMA_420, NN_LF_ALL_CTUS, PictureHeader
from bitstream.errors import InputError
from nntools.plugin import BLOCK_CODEC, NeuralTool

THREADS = (1, 2, 4)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str = ""


@dataclass
class Report:
    tool: dict
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def add(self, name: str, failures: list[str], what: str) -> None:
        self.checks.append(Check(name, not failures, "; ".join(failures[:4]) + (
            f" (and {len(failures) - 4} more)" if len(failures) > 4 else "") if failures else what))

    def text(self) -> str:
        t = self.tool
        lines = [f"{t['name']} ({t['kind']}, model id {t['model_id']}, declared "
                 f"{'deterministic' if t['deterministic'] else 'NON-deterministic'})"]
        lines += [f"  {'PASS' if c.passed else 'FAIL'}  {c.name:<19} {c.detail}" for c in self.checks]
        verdict = "all checks passed" if self.passed else f"{sum(not c.passed for c in self.checks)} check(s) failed"
        if not self.passed and t["deterministic"]:
            verdict += ": the tool declares itself deterministic but is not; its streams would not be conformant"
        elif not self.passed:
            verdict += " (as a non-deterministic tool may: its streams carry nn_nondeterministic_flag = 1)"
        elif not t["deterministic"]:
            verdict += (" on this machine; the tool declares itself non-deterministic (float decoding), so "
                        "another machine or library version may still decode other samples")
        return "\n".join(lines + [verdict])

    def to_json(self) -> dict:
        return {"tool": self.tool, "passed": self.passed, "checks": [vars(c) for c in self.checks]}


def test_pictures() -> list[tuple[list[np.ndarray], int, int]]:
    """(planes, chroma_format_idc, bit depth): smooth gradients with texture and an edge, 4:2:0 8-bit,
    4:4:4 8-bit and 4:0:0 10-bit, each 128x128 so that every CU size fits."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:128, 0:128]
    out = []
    for chroma_format, bit_depth in ((CHROMA_420, 8), (3, 8), (0, 10)):
        peak = (1 << bit_depth) - 1
        base = 0.3 + 0.4 * np.sin(xx / 9.0) * np.cos(yy / 13.0) * 0.5 + 0.2 * (xx > 70)
        luma = np.clip(base * peak + rng.normal(0, 0.02 * peak, base.shape), 0, peak).astype(np.int32)
        planes = [luma]
        if chroma_format:
            s = 2 if chroma_format == CHROMA_420 else 1
            for phase in (0.0, 1.0):
                c = 0.5 + 0.2 * np.sin(xx[::s, ::s] / 11.0 + phase)
                planes.append(np.clip(c * peak, 0, peak).astype(np.int32))
        out.append((planes, chroma_format, bit_depth))
    return out


@contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def differences(a: list[np.ndarray], b: list[np.ndarray]) -> str:
    """'' when equal, else how they differ."""
    if [np.shape(p) for p in a] != [np.shape(p) for p in b]:
        return f"shapes {[np.shape(p) for p in a]} vs {[np.shape(p) for p in b]}"
    diff = [np.abs(np.asarray(p, np.int64) - np.asarray(q, np.int64)) for p, q in zip(a, b)]
    n = sum(int((d > 0).sum()) for d in diff)
    return "" if n == 0 else f"{n} samples differ (at most by {max(int(d.max()) for d in diff)})"


def check(name_or_tool: str | NeuralTool) -> Report:
    """Run the checks of the tool's kind on a registered name (or a tool object)."""
    from nntools.registry import load, names
    if isinstance(name_or_tool, str) and name_or_tool not in names():
        raise InputError(f"no neural tool named {name_or_tool!r} (installed: {', '.join(names())})")
    tool = load(name_or_tool) if isinstance(name_or_tool, str) else name_or_tool
    report = Report(tool.describe())
    if tool.kind == BLOCK_CODEC:
        _check_block_codec(tool, report)
    else:
        _check_loop_filter(tool, report)
    return report


def _check_block_codec(codec, report: Report) -> None:
    from nntools.encoder.plugin import PictureContext
    levels = sorted({0, codec.levels // 2, codec.levels - 1})
    exact, alone, threads, repeat, picture = [], [], [], [], []
    for planes, chroma_format, bit_depth in test_pictures():
        where = f"{'4:0:0' if not chroma_format else '4:2:0' if chroma_format == 1 else '4:4:4'} {bit_depth}-bit"
        enc = codec.encoder(PictureContext(planes, chroma_format, bit_depth, lam=0.0))
        s = 2 if chroma_format == CHROMA_420 else 1
        regions = [(0, 0, 64), (64, 0, 32), (96, 32, 32), (0, 64, 64)]
        blocks, shapes = [], []
        for k, (x, y, size) in enumerate(regions):
            cut = [planes[0][y:y + size, x:x + size]] + [p[y // s:(y + size) // s, x // s:(x + size) // s]
                                                         for p in planes[1:]]
            blocks.append(enc.code(cut, levels[k % len(levels)]))
            shapes.append((size, levels[k % len(levels)]))

        def decode(payload: bytes, which: list[int]) -> list[list[np.ndarray]]:
            reader = codec.open_regions(payload, chroma_format, bit_depth)
            out = [reader.decode(shapes[k][0], shapes[k][0], shapes[k][1]) for k in which]
            reader.finish()
            return out

        payload = enc.stream(blocks)
        with torch_threads(1):
            first = decode(payload, list(range(len(blocks))))
        for k, (got, block) in enumerate(zip(first, blocks)):
            if d := differences(got, block.planes):
                exact.append(f"{where} region {k} ({shapes[k][0]}x{shapes[k][0]}, level {shapes[k][1]}): {d}")
        for k in (1, 3):
            with torch_threads(1):
                lone = decode(enc.stream([blocks[k]]), [k])[0]
            if d := differences(lone, first[k]):
                alone.append(f"{where} region {k} alone vs in the stream: {d}")
        for n in THREADS[1:]:
            with torch_threads(n):
                again = decode(payload, list(range(len(blocks))))
            for k, (a, b) in enumerate(zip(again, first)):
                if d := differences(a, b):
                    threads.append(f"{where} region {k}, {n} threads vs 1: {d}")
        with torch_threads(1):
            again = decode(payload, list(range(len(blocks))))
        for k, (a, b) in enumerate(zip(again, first)):
            if d := differences(a, b):
                repeat.append(f"{where} region {k}, second decode: {d}")
        h, w = 128, 96            # a whole picture narrower than the test picture: cropped planes
        enc = codec.encoder(PictureContext([planes[0][:h, :w]] + [p[:h // s, :w // s] for p in planes[1:]],
                                           chroma_format, bit_depth, lam=0.0))
        data, recon = enc.code_picture(levels[-1])
        got = codec.decode_picture(data, levels[-1], h, w, chroma_format, bit_depth)
        if d := differences(got, recon):
            picture.append(f"{where} {w}x{h} picture: {d}")
    report.add("exact", exact, "every region decodes to its encoder reconstruction")
    report.add("stream-independent", alone, "regions decode alike alone and in one stream")
    report.add("threads", threads, f"identical with {', '.join(map(str, THREADS))} torch threads")
    report.add("repeat", repeat, "identical when decoded again")
    report.add("picture", picture, "whole pictures decode to their encoder reconstruction")


def _check_loop_filter(tool, report: Report) -> None:
    from hybridcodec.decoder import decode_full
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder import Encoder
    from host.syntax import LoopFilterCtbFlags
    planes, chroma_format, bit_depth = test_pictures()[0]
    rgb = np.stack([planes[0]] * 3, axis=-1).astype(np.uint8)      # a host picture to filter
    decoded = decode_full(Encoder(mode="host", nn_loop_filter=False, qp=37).encode(rgb).bitstream)
    h = decoded.header
    header = PictureHeader(**{**vars(h), "nn_lf_enabled_flag": True, "nn_lf_luma_mode": NN_LF_ALL_CTUS,
                              "nn_lf_chroma_mode": NN_LF_ALL_CTUS if h.chroma_format_idc == CHROMA_420 else 0,
                              "nn_lf_model_id": tool.model_id,      # the default ensemble (4 network runs)
                              "log2_nn_lf_num_transforms": EncoderConfig.nn_lf_transforms.bit_length() - 1})
    rows, cols = -(-h.PicHeightInLumaSamples // h.CtbSizeY), -(-h.PicWidthInLumaSamples // h.CtbSizeY)
    flags = LoopFilterCtbFlags((NN_LF_ALL_CTUS, header.nn_lf_chroma_mode), np.ones((2, rows, cols), np.uint8))
    run = tool.post_filter(header)
    with torch_threads(1):
        first = run(decoded.host.planes, decoded.host.edges, flags)
    threads, repeat = [], []
    for n in THREADS[1:]:
        with torch_threads(n):
            if d := differences(run(decoded.host.planes, decoded.host.edges, flags), first):
                threads.append(f"{n} threads vs 1: {d}")
    if d := differences(run(decoded.host.planes, decoded.host.edges, flags), first):
        repeat.append(f"second run: {d}")
    report.add("threads", threads, f"identical with {', '.join(map(str, THREADS))} torch threads")
    report.add("repeat", repeat, "identical when run again")
