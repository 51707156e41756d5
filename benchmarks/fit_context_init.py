"""Fit the trained CABAC context initialisation (host/context_init.py) from coding statistics.

``collect`` codes centre crops of training pictures host-only at several QPs with every context
starting equiprobable and records, per picture and QP, the sequence of (context, bin) the writer codes.
``fit`` chooses for every context the VVC initValue (6 bits: slope and offset, H.266 §9.3.2.2) and
shiftIdx (adaptation window) that minimise the exact CABAC cost of re-coding those sequences with the
codec's own two-rate estimator, summed over pictures and QPs (all 64 x 16 candidates are simulated at
once, bin by bin).  Contexts seen fewer than ``--min-bins`` times keep the equiprobable start.
``--write`` stores the table as host/context_init.py.

    python benchmarks/fit_context_init.py collect ../shared/data/train --out runs/ctxinit --jobs 2
    python benchmarks/fit_context_init.py fit --out runs/ctxinit --write
"""
from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

QPS = (22, 27, 32, 37)
PREFIX_BINS = 4096          # bins of each sequence simulated: the start is where the init matters


def _collect_one(job: tuple[str, int, int, str]) -> str:
    path, qp, crop, out = job
    import host.encoder.picture as picture
    from bitstream.syntax_coder import SyntaxWriter
    from hybridcodec import encode
    from hybridcodec.eval.experiments import centre_crop
    from hybridcodec.imageio import read_image

    class RecordingWriter(SyntaxWriter):
        """The writer, also keeping the context and value of every context-coded bin."""
        def __init__(self, table, qp, trained_init=False):
            super().__init__(table, qp, trained_init)
            self.record: list[tuple[int, int]] = []

        def decision(self, ctx, value=0):
            self.record.append((ctx, value))
            return super().decision(ctx, value)

    writers: list[RecordingWriter] = []

    def make_writer(table, qp, trained_init=False):
        writers.append(RecordingWriter(table, qp, trained_init))
        return writers[-1]

    picture.SyntaxWriter = make_writer
    target = Path(out) / f"{Path(path).stem}_qp{qp}.npz"
    if target.exists():
        return str(target)
    image = read_image(path)
    image = centre_crop(image, crop) if crop else image
    encode(image, qp=qp, mode="host", context_init=False)
    rec = np.array(writers[-1].record, dtype=np.int32).reshape(-1, 2)
    np.savez_compressed(target, ctx=rec[:, 0].astype(np.int16), bins=rec[:, 1].astype(np.uint8), qp=qp)
    return str(target)


def collect(args) -> None:
    from nntools.training.data import list_images
    files = list_images(args.data)[:args.pictures or None]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(f), qp, args.crop, str(out)) for f in files for qp in QPS]
    with ProcessPoolExecutor(args.jobs) as pool:
        for i, done in enumerate(pool.map(_collect_one, jobs), 1):
            print(f"[{i}/{len(jobs)}] {done}", flush=True)


def _sequences(out: Path) -> dict[int, list[tuple[int, np.ndarray]]]:
    """context -> [(qp, first PREFIX_BINS bins of one picture)]."""
    seqs: dict[int, list[tuple[int, np.ndarray]]] = {}
    for f in sorted(out.glob("*_qp*.npz")):
        z = np.load(f)
        ctx, bins, qp = z["ctx"].astype(np.int64), z["bins"], int(z["qp"])
        order = np.argsort(ctx, kind="stable")
        ctx_sorted, bins_sorted = ctx[order], bins[order]
        starts = np.flatnonzero(np.r_[True, ctx_sorted[1:] != ctx_sorted[:-1]])
        ends = np.r_[starts[1:], len(ctx_sorted)]
        for s, e in zip(starts, ends):
            seqs.setdefault(int(ctx_sorted[s]), []).append((qp, bins_sorted[s:min(e, s + PREFIX_BINS)]))
    return seqs


def _candidate_costs(seqs: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """Cost (bits) of the sequences for every (initValue 0..64, shiftIdx 0..15); 64 = equiprobable."""
    from bitstream.cabac import COST_OF_ONE, COST_OF_ZERO, FRAC_ONE
    from bitstream.contexts import init_probability, window_shifts
    c0, c1 = np.array(COST_OF_ZERO, np.int64), np.array(COST_OF_ONE, np.int64)
    shifts = np.array([window_shifts(s) for s in range(16)], np.int64)          # (16, 2)
    total = np.zeros((65, 16), np.int64)
    for qp in sorted({q for q, _ in seqs}):
        group = [b for q, b in seqs if q == qp]
        length = max(len(b) for b in group)
        bins = np.zeros((len(group), length), np.int64)
        valid = np.zeros((len(group), length), bool)
        for i, b in enumerate(group):
            bins[i, :len(b)], valid[i, :len(b)] = b, True
        init = np.array([init_probability(v, qp) for v in range(65)], np.int64)   # (65, 2)
        a = np.broadcast_to(init[None, :, None, 0], (len(group), 65, 16)).copy()
        b = np.broadcast_to(init[None, :, None, 1], (len(group), 65, 16)).copy()
        s0, s1 = shifts[None, None, :, 0], shifts[None, None, :, 1]
        cost = np.zeros((len(group), 65, 16), np.int64)
        for t in range(length):
            v = bins[:, t][:, None, None]
            m = valid[:, t][:, None, None]
            state9 = (b + (a << 4)) >> 9
            cost += np.where(m, np.where(v == 1, c1[state9], c0[state9]), 0)
            a = np.where(m, a - (a >> s0) + np.where(v == 1, 1023 >> s0, 0), a)
            b = np.where(m, b - (b >> s1) + np.where(v == 1, 16383 >> s1, 0), b)
        total += cost.sum(axis=0)
    return total / FRAC_ONE


def fit(args) -> None:
    from bitstream.contexts import DEFAULT_SHIFT_IDX, EQUIPROBABLE
    from host.contexts import CONTEXT_TABLE
    out = Path(args.out)
    seqs = _sequences(out)
    groups = sorted(CONTEXT_TABLE._groups.items(), key=lambda kv: kv[1][0])
    table: dict[str, tuple[list[int], list[int]]] = {}
    report = []
    for name, (base, count) in groups:
        inits, shifts = [], []
        for ctx in range(base, base + count):
            s = seqs.get(ctx, [])
            n = sum(len(b) for _, b in s)
            if n < args.min_bins:
                inits.append(EQUIPROBABLE)
                shifts.append(DEFAULT_SHIFT_IDX)
                report.append({"context": name, "index": ctx - base, "bins": n, "kept": "equiprobable"})
                continue
            costs = _candidate_costs(s)
            v, sh = np.unravel_index(np.argmin(costs), costs.shape)
            inits.append(int(v))
            shifts.append(int(sh))
            report.append({"context": name, "index": ctx - base, "bins": n, "init_value": int(v),
                           "shift_idx": int(sh), "bits_equiprobable": float(costs[64, DEFAULT_SHIFT_IDX]),
                           "bits_trained": float(costs[v, sh])})
            print(f"{name}[{ctx - base}] bins {n}: initValue {v} shiftIdx {sh}: "
                  f"{costs[64, DEFAULT_SHIFT_IDX]:.0f} -> {costs[v, sh]:.0f} bits", flush=True)
        table[name] = (inits, shifts)
    (out / "fit.json").write_text(json.dumps(report, indent=1))
    saved = sum(r.get("bits_equiprobable", 0) - r.get("bits_trained", 0) for r in report)
    pictures = len(list(out.glob("*_qp*.npz")))
    print(f"saved on the fitted prefixes: {saved:.0f} bits over {pictures} picture codings "
          f"({saved / max(pictures, 1):.0f} per coding)")
    if args.write:
        _write_table(table, args)


def _write_table(table: dict[str, tuple[list[int], list[int]]], args) -> None:
    lines = [
        '"""Trained CABAC context initialisation (used when context_init_flag = 1, docs/SYNTAX.md §1).',
        "",
        "Per context group: VVC initValue (slope/offset, H.266 §9.3.2.2; 64 = equiprobable) and shiftIdx.",
        "Generated by benchmarks/fit_context_init.py from host-only codings of ../shared/data/train",
        f"({args.out}, QPs {', '.join(map(str, QPS))}); normative: changing a value changes decoding.",
        '"""',
        "",
        "TRAINED_INIT: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {",
    ]
    for name, (inits, shifts) in table.items():
        lines.append(f"    {name!r}: (")
        lines.append(f"        {tuple(inits)!r},")
        lines.append(f"        {tuple(shifts)!r}),")
    lines.append("}")
    Path("host/context_init.py").write_text("\n".join(lines) + "\n")
    print("wrote host/context_init.py")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="code training crops and record their bins")
    c.add_argument("data")
    c.add_argument("--out", default="runs/ctxinit")
    c.add_argument("--crop", type=int, default=384)
    c.add_argument("--pictures", type=int, default=0, help="first N pictures (0: all)")
    c.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 1)))
    f = sub.add_parser("fit", help="fit initValue and shiftIdx per context")
    f.add_argument("--out", default="runs/ctxinit")
    f.add_argument("--min-bins", type=int, default=200)
    f.add_argument("--write", action="store_true", help="write host/context_init.py")
    args = p.parse_args()
    collect(args) if args.command == "collect" else fit(args)


if __name__ == "__main__":
    main()
