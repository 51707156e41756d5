"""Wavefront CTU search (encoder only): CTU rows searched in parallel, as HEVC's WPP allows.

A CTU's search reads its left, above-left, above and above-right neighbours, so row r can run once row
r - 1 is two CTUs ahead.  What would still chain the rows is the rate estimator: its context states
carry over from the end of the row above.  Here every row's estimates start instead from the states
after the second CTU of the row above (WPP's synchronisation point).  The decisions then depend only on
the picture, never on how many processes search it or how they interleave: one worker searches the
rows in order, several search them in a wavefront, with identical results.  The bitstream is written
afterwards by the normative writer with its contexts running on continuously, so the format is
unchanged; only the encoder's rate estimates at the start of a row differ from sequential ones.

Workers are forked processes (one worker where the platform cannot fork) sharing the reconstruction and parse-state arrays through anonymous
shared memory; each searches the rows r with r mod workers = its index and sends its CTUs' decisions
back at the end.
"""
from __future__ import annotations

import mmap
import multiprocessing
import multiprocessing.connection
import os
import time
from typing import Callable

import numpy as np

from host.encoder.packed import PackedCtus, pack

SYNC_CTU = 1                # a row starts from the contexts after this CTU of the row above (the second)
_POLL_S = 0.0005


def shared_copy(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in anonymous shared memory: processes forked afterwards see each other's writes."""
    buf = mmap.mmap(-1, max(a.nbytes, 1))
    out = np.frombuffer(buf, dtype=a.dtype, count=a.size).reshape(a.shape)
    out[...] = a
    return out


class _WorkerStopped(Exception):
    """A worker ended before its rows were done: its pipe says why."""


class _Rows:
    """Progress of every row (CTUs done) and the context states each row starts from, shared."""

    def __init__(self, rows: int, cols: int, num_ctx: int) -> None:
        self.cols = cols
        self.done = shared_copy(np.zeros(rows, dtype=np.int64))
        self.sync = shared_copy(np.zeros((rows, 2, num_ctx), dtype=np.int64))

    def wait(self, row: int, ctus: int, alive: Callable[[], bool]) -> None:
        """Until row ``row`` has finished ``ctus`` CTUs (capped at the row length)."""
        need = min(ctus, self.cols)
        while self.done[row] < need:
            if not alive():
                raise _WorkerStopped
            time.sleep(_POLL_S)


def search_picture(search, search_ctu: Callable, workers: int, progress=None) -> PackedCtus:
    """The decisions of every CTU of ``search``'s picture, in raster order (``search_ctu(search, x, y)``
    searches one CTU), packed as each CTU is decided."""
    geo, est = search.geo, search.est
    size = 1 << geo.ctu_log2
    cols, rows = -(-geo.coded_width // size), -(-geo.coded_height // size)
    start = est.snapshot()
    shared = _Rows(rows, cols, len(start.prob0))
    shared.sync[0] = (start.prob0, start.prob1)
    workers = max(1, min(workers, rows)) if "fork" in multiprocessing.get_all_start_methods() else 1
    if workers == 1:
        return PackedCtus(blob for r in range(rows) for blob in _search_row(search, search_ctu, shared, r, start,
                                                                           lambda: True, progress))
    _share_buffers(search)
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for w in range(1, workers):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, daemon=True,
                           args=(search, search_ctu, shared, range(w, rows, workers), start, send, os.getpid()))
        proc.start()
        send.close()                # the child holds the sending end: its death reads as end of file
        pipes.append(receive)
        procs.append(proc)
    try:
        alive = lambda: all(p.is_alive() or p.exitcode == 0 for p in procs)   # noqa: E731
        found: dict[int, list[bytes]] = {}
        try:
            for r in range(0, rows, workers):
                found[r] = _search_row(search, search_ctu, shared, r, start, alive, progress)
        except _WorkerStopped:
            pass                    # the worker's own error is raised below
        waiting = list(pipes)
        while waiting:              # in the order they finish: a failed worker's error comes first
            for receive in multiprocessing.connection.wait(waiting):
                waiting.remove(receive)
                try:
                    result = receive.recv()
                except EOFError:
                    raise RuntimeError("a wavefront search worker stopped without a result") from None
                if isinstance(result, BaseException):
                    raise result
                found.update(result)
                if progress is not None:
                    progress.update(sum(len(nodes) for nodes in result.values()))
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    return PackedCtus(blob for r in range(rows) for blob in found[r])


def _search_row(search, search_ctu, shared: _Rows, r: int, start, alive, progress) -> list[bytes]:
    est, size, cols = search.est, 1 << search.geo.ctu_log2, shared.cols
    if r:
        shared.wait(r - 1, SYNC_CTU + 1, alive)
    est.restore(start._replace(prob0=shared.sync[r, 0].tolist(), prob1=shared.sync[r, 1].tolist()))
    nodes = []
    for c in range(cols):
        if r:
            shared.wait(r - 1, c + 2, alive)
        nodes.append(pack(search_ctu(search, c * size, r * size)))
        est.terminate(0)
        if c == min(SYNC_CTU, cols - 1) and r + 1 < len(shared.done):
            snap = est.snapshot()
            shared.sync[r + 1] = (snap.prob0, snap.prob1)
        shared.done[r] = c + 1
        if progress is not None:
            progress.update(1)
    return nodes


def _worker(search, search_ctu, shared: _Rows, rows: range, start, send, parent: int) -> None:
    alive = lambda: os.getppid() == parent      # noqa: E731 - stop if the parent is gone
    try:
        send.send({r: _search_row(search, search_ctu, shared, r, start, alive, None) for r in rows})
    except BaseException as error:          # noqa: BLE001 - reported to the parent, which raises it
        send.send(error)
        send.close()
        raise SystemExit(1) from None


def _share_buffers(search) -> None:
    """Move the arrays a CTU search reads from its neighbours (reconstruction, availability, parse
    state) into shared memory before forking."""
    buf, state = search.buf, search.state
    buf.planes = [shared_copy(p) for p in buf.planes]
    buf.avail = [shared_copy(a) for a in buf.avail]
    for name in ("depth", "luma_mode", "nn_flag"):
        setattr(state, name, shared_copy(getattr(state, name)))
