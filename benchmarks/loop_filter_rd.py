"""BD-rate of the neural loop filter against the same host pictures without it, and its ablations.

The filter acts after deblocking and never changes the host's decisions, so every variant starts from
one cached host search per picture and QP (``benchmarks/host_search_cache.py``): the comparison is
exactly "filter on" against "filter off", the rest of the encoder held fixed.  The bitstreams of
``off`` and ``lf`` are decoded and compared with the encoder's reconstruction.

    python benchmarks/loop_filter_rd.py ../shared/data/dev --cache runs/host_cache/dev --out runs/lf_dev

Variants (curve labels): ``off``; ``lf`` (the default: per-CTU flags, scales, chroma); ``lf-all-ctus``
(no per-CTU flags); ``lf-no-scale``; ``lf-luma-only``; ``lf-1t``, ``lf-2t``, ``lf-8t`` (the network run on
1, 2 or 8 flips/transposes of the picture instead of the default 4); and ``lf:NAME`` for each ``--weights NAME=FILE``
(other exported models, default decisions); with ``--alf``, ``alf`` (the adaptive loop filter
alone) and ``lf+alf`` (the encoder's choice: the neural filter then the adaptive one, or the adaptive
one alone where that costs less, ``host.encoder.loop_filters``).  ``--rd FOLDER`` adds the curves of a ``hybridcodec rd``
run of the same pictures (the default hybrid) against the same ``off`` curve; ``--reference hevc`` with
the ``--rd`` folder of an x265-anchored run gives every variant against x265 instead (written to
bd_vs_hevc.md / .json); ``--compare 8bit=FOLDER`` joins another run's rows (e.g. the same pictures
coded at another ``--internal-bit-depth``) as ``host,lf=VARIANT,run=8bit``.  Writes rows.jsonl, bd.json
and bd.md (with per-QP deltas and the flag statistics per QP).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from bitstream.container import SubstreamType, write_container
from host.encoder.alf import AlfSearchConfig
from host.encoder.loop_filters import decide_loop_filters
from host.encoder.picture import serialise
from host.encoder.quant import qp_to_lambda
from host.partition import PictureGeometry
from hybridcodec.config import EncoderConfig
from hybridcodec.decoder import decode_full
from hybridcodec.eval.anchors import ANCHORS
from hybridcodec.eval.experiments import bd_table, label_of, load_rows, mean_finite
from hybridcodec.imageio import read_image
from hybridcodec.eval.metrics import ms_ssim, psnr_rgb, psnr_y
from hybridcodec.picture import output_picture
from nntools.training.data import list_images
from nntools.encoder.loop_filter import LoopFilterSearchConfig, decide
from nntools.loop_filter.zoo import DEFAULT_MODEL
from nntools.plugin import LOOP_FILTER
from nntools.registry import tool_for_encoding

sys.path.insert(0, str(Path(__file__).parent))
from host_search_cache import load_or_search  # noqa: E402

ABLATIONS = {"lf": LoopFilterSearchConfig(), "lf-all-ctus": LoopFilterSearchConfig(ctu_flags=False),
             "lf-no-scale": LoopFilterSearchConfig(scale=False), "lf-luma-only": LoopFilterSearchConfig(chroma=False),
             **{f"lf-{n}t": LoopFilterSearchConfig(transforms=n) for n in (1, 2, 8)}}


def code_variant(image: np.ndarray, src, host, weights, cfg: LoopFilterSearchConfig | None, verify: bool,
                 alf_cfg: AlfSearchConfig | None = None) -> dict:
    """Decide, write and measure one variant of one cached host picture; ``verify``: decode the
    bitstream and compare with the encoder's reconstruction (the pure-Python parse takes seconds, so
    only the default variant is decoded; the others' samples come from the same normative filter)."""
    lam = qp_to_lambda(host.header.pic_qp, host.header.BitDepth)
    post = (lambda h, p, e: decide(weights, h, src.planes, p, e, lam, cfg)) if cfg is not None else None
    t0 = time.perf_counter()
    header, lf, stats, alf, alf_stats, planes = decide_loop_filters(host.header, src.planes, host.planes, host.edges,
                                                                    lam, post, alf_cfg)
    search_s = time.perf_counter() - t0
    stats, alf_stats = stats or {"enabled": False}, alf_stats or {"enabled": False}
    payload, bits = serialise(header, PictureGeometry.from_header(header), host.ctus, None, None, lf, alf)
    data = write_container(header, [(SubstreamType.HOST_CABAC, payload)])
    out, exact, decode_s = output_picture(planes, header), None, None
    if verify:
        t0 = time.perf_counter()
        decoded = decode_full(data).picture
        decode_s = time.perf_counter() - t0
        exact = bool(np.array_equal(decoded, out))
    h, w = image.shape[:2]
    channels = [(..., c) for c in range(3)] if image.ndim == 3 else [...]
    return {"bytes": len(data), "bpp": 8 * len(data) / (w * h), "psnr_y": psnr_y(image, out),
            "psnr_rgb": psnr_rgb(image, out) if image.ndim == 3 else None,
            "ms_ssim_rgb": float(np.mean([ms_ssim(image[c], out[c]) for c in channels])),
            "exact": exact, "lf_search_s": search_s, "decode_s": decode_s,
            "lf_flag_bits": bits.get("loop_filter", 0.0), "lf": stats, "alf": alf_stats}


def run(folder: str, qps: list[int], cache: Path, out: Path, variants: dict,
        host_cfg: EncoderConfig | None = None) -> list[dict]:
    from tqdm import tqdm
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / "rows.jsonl"
    def key(name: str, qp: int, label: str, model: str | None) -> tuple:
        return name, qp, label, model          # a row belongs to the weights that made it
    ids = {label: w.model_id.hex() if w is not None else None for label, (w, _, _) in variants.items()}
    done = {key(r["name"], r["param"], r["label"], r["model"]) for r in map(json.loads, rows_path.read_text().splitlines())} \
        if rows_path.exists() else set()
    jobs = [(pic, qp) for pic in list_images(folder) for qp in qps]
    with rows_path.open("a") as f:
        for pic, qp in tqdm(jobs, desc="loop filter rd"):
            todo = [v for v in variants if key(pic.name, qp, v, ids[v]) not in done]
            if not todo:
                continue
            image = read_image(pic)
            src, host = load_or_search(pic, qp, cache, host_cfg)
            for label in todo:
                weights, cfg, alf_cfg = variants[label]
                row = {"name": pic.name, "codec": "host", "param": qp, "options": [["lf", label]], "label": label,
                       "model": ids[label],
                       **code_variant(image, src, host, weights, cfg, label in ("off", "lf", "lf+alf"), alf_cfg)}
                f.write(json.dumps(row) + "\n")
                f.flush()
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    return [r for r in rows if r["label"] in variants and r["model"] == ids[r["label"]]]


def flag_table(rows: list[dict]) -> str:
    """Per QP, over the pictures: share of pictures with the tool on, of CTUs filtered, mean scales."""
    lines = ["| QP | pictures on | luma mode off/all/CTU | chroma mode off/all/CTU | luma CTUs on | chroma CTUs on "
             "| luma scale | Cb/Cr scale | flag kbit |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    main = [r for r in rows if r["label"] == "lf"]
    for qp in sorted({r["param"] for r in main}):
        group = [r["lf"] for r in main if r["param"] == qp]
        on = [s for s in group if s["enabled"]]
        luma = [s["luma"]["ctus_on"] if s["enabled"] else 0.0 for s in group]
        chroma = [s["chroma"]["ctus_on"] if s["enabled"] and "chroma" in s else 0.0 for s in group]
        ls = [s["luma"]["scales"][0] for s in on if s["luma"]["mode"]]
        cs = [np.mean(s["chroma"]["scales"]) for s in on if "chroma" in s and s["chroma"]["mode"]]
        bits = np.mean([r["lf_flag_bits"] for r in main if r["param"] == qp]) / 1000
        modes = ["/".join(str(sum(s[c]["mode"] == m if s["enabled"] and c in s else m == 0 for s in group))
                          for m in range(3)) for c in ("luma", "chroma")]
        lines.append(f"| {qp} | {len(on)}/{len(group)} | {modes[0]} | {modes[1]} | {np.mean(luma):.0%} | "
                     f"{np.mean(chroma):.0%} | "
                     f"{np.mean(ls) / 64 if ls else math.nan:.2f} | {np.mean(cs) / 64 if cs else math.nan:.2f} | "
                     f"{bits:.2f} |")
    return "\n".join(lines)


def per_picture_table(rows: list[dict], reference: str, tests: list[str]) -> str:
    """Each picture's BD-rates against the reference: the set's mean can hide a picture that loses."""
    short = [t.split("=", 1)[1] if t.startswith("host,lf=") else t for t in tests]
    lines = ["| picture | " + " | ".join(short) + " |", "|---|" + "---:|" * len(tests)]
    for name in sorted({r["name"] for r in rows}):
        table = {e["label"]: e for e in bd_table([r for r in rows if r["name"] == name], reference, tests,
                                                   methods=("akima",))}
        cells = [f"{table[t]['psnr_y']:+.2f} / {table[t]['psnr_rgb']:+.2f} / {table[t]['ms_ssim_db']:+.2f}"
                 if t in table else "—" for t in tests]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_qp_table(rows: list[dict], label: str = "lf") -> str:
    """Per QP, mean over pictures: rate and PSNR without the filter, and what the filter changes."""
    lines = ["| QP | bpp off | PSNR-Y off | PSNR-RGB off | Δbpp | ΔPSNR-Y | ΔPSNR-RGB |", "|---:|---:|---:|---:|---:|---:|---:|"]
    off = {(r["name"], r["param"]): r for r in rows if r["label"] == "off"}
    for qp in sorted({r["param"] for r in rows}):
        pairs = [(off[(r["name"], qp)], r) for r in rows if r["label"] == label and r["param"] == qp
                 and (r["name"], qp) in off]
        if not pairs:
            continue
        keys = ("bpp", "psnr_y", "psnr_rgb")        # psnr_rgb is None for gray pictures
        mean = {k: mean_finite(a[k] for a, _ in pairs) for k in keys}
        delta = {k: mean_finite(b[k] - a[k] for a, b in pairs if a[k] is not None) for k in keys}
        lines.append(f"| {qp} | {mean['bpp']:.4f} | {mean['psnr_y']:.3f} | {mean['psnr_rgb']:.3f} | "
                     f"{delta['bpp']:+.4f} | {delta['psnr_y']:+.3f} | {delta['psnr_rgb']:+.3f} |")
    return "\n".join(lines)


def compared_rows(tag: str, folder: str) -> list[dict]:
    """Another run's rows, the newest per picture, QP and variant, labelled with ``run=tag``."""
    newest = {}
    for r in map(json.loads, (Path(folder) / "rows.jsonl").read_text().splitlines()):
        newest[(r["name"], r["param"], r["label"])] = r
    return [{**r, "options": r["options"] + [["run", tag]]} for r in newest.values()]


def filter_weights(name_or_path: str):
    """The weights of a packaged filter or a file, registered so that their streams decode here."""
    return tool_for_encoding(name_or_path, LOOP_FILTER).weights


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--qp", type=int, nargs="+", default=[22, 27, 32, 37])
    p.add_argument("--cache", required=True, help="host search cache (benchmarks/host_search_cache.py)")
    p.add_argument("--internal-bit-depth", type=int, default=EncoderConfig.internal_bit_depth, choices=[0, 8, 10],
                   help="code the pictures at this bit depth (EncoderConfig.internal_bit_depth; 0: the input's; "
                        "default %(default)s, the encoder's)")
    p.add_argument("--out", required=True)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--weights", nargs="*", default=[], metavar="NAME=FILE", help="more models to compare")
    p.add_argument("--no-ablations", action="store_true", help="only off and lf")
    p.add_argument("--alf", action="store_true",
                   help="add the adaptive loop filter's variants: alf (without the neural filter) and lf+alf")
    p.add_argument("--rd", type=Path, nargs="*", default=[], metavar="FOLDER",
                   help="'hybridcodec rd' output folders whose curves (e.g. the default hybrid) join the table")
    p.add_argument("--compare", nargs="*", default=[], metavar="TAG=FOLDER",
                   help="rows of another run of this benchmark (e.g. the pictures coded at another internal bit "
                        "depth), the newest per picture, QP and variant, joining the table as "
                        "'host,lf=VARIANT,run=TAG'")
    p.add_argument("--per-picture", action="store_true",
                   help="add each picture's BD-rates (PSNR-Y / PSNR-RGB / MS-SSIM) of every variant to the tables")
    p.add_argument("--reference", default="host,lf=off",
                   help="the curve every BD-rate is against, e.g. hevc (x265) from an --rd folder (default %(default)s)")
    a = p.parse_args()
    weights = filter_weights(a.model)
    variants = {"off": (None, None, None)}
    for label, cfg in ABLATIONS.items():
        if label == "lf" or not a.no_ablations:
            variants[label] = (weights, cfg, None)
    if a.alf:
        variants["alf"] = (None, None, AlfSearchConfig())
        variants["lf+alf"] = (weights, LoopFilterSearchConfig(), AlfSearchConfig())
    for spec in a.weights:
        name, path = spec.split("=", 1)
        variants[f"lf:{name}"] = (filter_weights(path), LoopFilterSearchConfig(), None)
    rows = [r for r in run(a.folder, a.qp, Path(a.cache), Path(a.out), variants,
                                EncoderConfig(internal_bit_depth=a.internal_bit_depth)) if r["param"] in a.qp]
    names = {r["name"] for r in rows}
    extra = [r for folder in a.rd for r in load_rows(folder / "points.jsonl").values()
             if r["name"] in names and (r["param"] in a.qp or r["codec"] in ANCHORS)]   # an anchor's whole curve
    extra += [r for spec in a.compare for r in compared_rows(*spec.split("=", 1))
              if r["name"] in names and r["param"] in a.qp]
    for r in rows + extra:
        r["options"] = [tuple(o) for o in r["options"]]
    extra_labels = sorted({label_of(r) for r in extra})
    tests = [label for label in [f"host,lf={v}" for v in variants] + extra_labels if label != a.reference]
    table = bd_table(rows + extra, a.reference, tests, methods=("akima",))
    checked = [r["exact"] for r in rows if r["exact"] is not None]
    against = "the same host pictures with the loop filter off" if a.reference == "host,lf=off" else a.reference
    lines = [f"BD-rate against {against} ({len({r['name'] for r in rows})} "
             f"pictures, QP {' '.join(map(str, a.qp))}, akima); decoded == encoder: {sum(checked)}/{len(checked)} decoded bitstreams", "",
             "| variant | BD PSNR-Y | BD PSNR-RGB | BD MS-SSIM | pictures | mean search s |",
             "|---|---:|---:|---:|---:|---:|"]
    for e in table:
        label = e["label"].split("=", 1)[1] if e["label"].startswith("host,lf=") else e["label"]
        group = [r for r in rows if r["label"] == label] or [{"lf_search_s": None}]
        lines.append(f"| {label} | {e['psnr_y']:+.2f}% | {e['psnr_rgb']:+.2f}% | {e['ms_ssim_db']:+.2f}% | "
                     f"{e['psnr_y_pictures']} | {mean_finite(r['lf_search_s'] for r in group):.2f} |")
    text = ("\n".join(lines) + "\n\nPer QP (mean over pictures), default variant against off:\n\n" + per_qp_table(rows)
            + "\n\nDecisions of the default variant:\n\n" + flag_table(rows) + "\n")
    if a.per_picture:
        text += "\nPer picture (BD PSNR-Y / PSNR-RGB / MS-SSIM):\n\n" + per_picture_table(rows + extra, a.reference, tests) + "\n"
    out = Path(a.out)
    stem = "bd" if a.reference == "host,lf=off" else "bd_vs_" + a.reference.replace(",", "_").replace("=", "-")
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(table, indent=1))
    print(text)


if __name__ == "__main__":
    main()
