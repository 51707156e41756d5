"""RD experiments: code every picture at every operating point, resumably, and compare by BD-rate.

A *point* is (picture, codec, parameter): a coding mode of ours (``hybridcodec.config.MODES``;
parameter = QP, or the level for "nn") or an anchor of ``hybridcodec.eval.anchors`` (parameter = its
quality knob; ``x265`` is accepted for ``hevc``).  Finished points are appended to a JSON-lines file
and skipped when the experiment is run again.  Points run on a local process pool, or on a Dask
cluster given its scheduler address; a point's numbers do not depend on where it ran (only its
timings do).

Aggregation: ``average_curves`` (the mean over pictures per codec and parameter, as CompressAI
averages), ``compressai_results`` (CompressAI's results-file schema, so published curves overlay),
``load_published`` (reads such files back) and ``bd_table`` (mean per-picture BD-rate).
"""
from __future__ import annotations

import json
import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bitstream.errors import InputError
from hybridcodec.eval.bdrate import bd_rate
from hybridcodec.config import MODES, EncoderConfig
from hybridcodec.imageio import read_image
from hybridcodec.eval.metrics import ms_ssim, psnr_rgb, psnr_y

OUR_CODECS = MODES
NN_CODECS = ("nn", "hybrid")     # our modes whose points depend on the NN weights
LF_CODECS = ("host", "hybrid")   # our modes whose points depend on the loop-filter weights (when it is on)
ANCHOR_ALIASES = {"x265": "hevc"}
METRICS = ("psnr_y", "psnr_rgb", "ms_ssim_db")      # BD-rate quality axes
TIMING_FIELDS = ("encode_s", "decode_s")             # the only fields that depend on the machine


def canonical_codec(name: str) -> str:
    return ANCHOR_ALIASES.get(name, name)


def knob(codec: str) -> str:
    """Name of the parameter of one of our modes."""
    return "level" if codec == "nn" else "qp"


@dataclass(frozen=True)
class Point:
    picture: str        # path
    codec: str
    param: int
    options: tuple = ()  # extra EncoderConfig options as sorted (name, value) pairs

    @property
    def key(self) -> str:
        fields = [Path(self.picture).name, self.codec, self.param, list(self.options)]
        options = dict(self.options)
        if self.codec in NN_CODECS:     # a cached NN point belongs to the weights that coded it
            fields.append(nn_model_id(options.get("nn_model", EncoderConfig.nn_model)))
        if self.codec in LF_CODECS and options.get("nn_loop_filter", EncoderConfig.nn_loop_filter):
            # the weights and the ensemble size (whose default changed in session 38) make the filter
            transforms = options.get("nn_lf_transforms", EncoderConfig.nn_lf_transforms)
            fields.append(f"lf:{lf_model_id(options.get('nn_lf_model', EncoderConfig.nn_lf_model))}:{transforms}t")
        return json.dumps(fields)


@lru_cache(maxsize=8)
def nn_model_id(name_or_path: str) -> str:
    from nntools.plugin import BLOCK_CODEC
    from nntools.registry import tool_for_encoding
    return tool_for_encoding(name_or_path, BLOCK_CODEC).model_id.hex()


@lru_cache(maxsize=8)
def lf_model_id(name_or_path: str) -> str:
    from nntools.plugin import LOOP_FILTER
    from nntools.registry import tool_for_encoding
    return tool_for_encoding(name_or_path, LOOP_FILTER).model_id.hex()


def code_point(point: Point) -> dict:
    """Code one point and measure it (runs in a worker process)."""
    image = read_image(point.picture)
    if point.codec in OUR_CODECS:
        from hybridcodec.decoder import decode
        from hybridcodec.encoder import Encoder
        options = dict(point.options)
        result = Encoder(EncoderConfig(mode=point.codec, **{knob(point.codec): point.param}, **options)).encode(image)
        t0 = time.perf_counter()
        decoded = decode(result.bitstream)
        decode_s = time.perf_counter() - t0
        exact = bool(np.array_equal(decoded, result.reconstruction))
        nbytes, encode_s = len(result.bitstream), result.stats.seconds
        coding = {"nn_area": result.stats.area_by_mode.get("nn", 0.0), "nn_trials": result.stats.nn_trials,
                  "nn_flag_bits": result.stats.bits_by_category.get("nn_flags", 0.0),
                  "nn_latent_bits": result.stats.bits_by_category.get("nn_latents", 0.0)}
    else:
        from hybridcodec.eval.anchors import encode_decode
        r = encode_decode(canonical_codec(point.codec), image, point.param)
        decoded, nbytes, encode_s, decode_s, exact = r.decoded, r.num_bytes, r.encode_seconds, r.decode_seconds, None
        coding = {}
    h, w = image.shape[:2]
    msssim_rgb = (float(np.mean([ms_ssim(image[..., c], decoded[..., c]) for c in range(3)]))
                  if image.ndim == 3 else ms_ssim(image, decoded))
    row = asdict(point)
    row.update(key=point.key, name=Path(point.picture).name, width=w, height=h, bytes=nbytes,
               bpp=8 * nbytes / (w * h), psnr_y=psnr_y(image, decoded),
               psnr_rgb=psnr_rgb(image, decoded) if image.ndim == 3 else None,
               ms_ssim=ms_ssim(image, decoded), ms_ssim_rgb=msssim_rgb, encode_s=encode_s, decode_s=decode_s,
               exact=exact, **coding)
    return row


def _one_torch_thread() -> None:
    """Pool workers run one point each on one core: torch threads beyond that only contend."""
    import torch
    torch.set_num_threads(1)


def load_rows(path: Path) -> dict[str, dict]:
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["key"]] = row
    return rows


def run_points(points: list[Point], results: Path, jobs: int = 2, progress: bool = True,
               dask_address: str | None = None) -> list[dict]:
    """Code the points not yet in ``results`` (JSON lines), append each as it finishes, and return
    the rows of all ``points`` in their order.  ``dask_address``: run on that Dask scheduler
    (``tcp://host:8786``, or a LocalCluster's ``scheduler_address``) instead of a local pool."""
    results.parent.mkdir(parents=True, exist_ok=True)
    done = load_rows(results)
    unique = {p.key: p for p in points}
    todo = [p for key, p in unique.items() if key not in done]
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(unique), initial=len(unique) - len(todo), desc="rd points", unit="point")
    with open(results, "a") as out:
        def record(row: dict) -> None:
            done[row["key"]] = row
            out.write(json.dumps(row) + "\n")
            out.flush()
            if bar:
                bar.update(1)
        if dask_address:
            _run_on_dask(todo, dask_address, record)
        elif jobs <= 1 or len(todo) <= 1:
            for p in todo:
                record(code_point(p))
        else:
            with ProcessPoolExecutor(min(jobs, len(todo)), initializer=_one_torch_thread) as pool:
                for future in as_completed([pool.submit(code_point, p) for p in todo]):
                    record(future.result())
    if bar:
        bar.close()
    return [done[p.key] for p in points]


def _run_on_dask(todo: list[Point], address: str, record) -> None:
    from dask.distributed import Client
    from dask.distributed import as_completed as dask_completed
    with Client(address) as client:
        for future in dask_completed(client.map(code_point, todo, pure=False)):
            record(future.result())


# ---- aggregation --------------------------------------------------------------------------------------

def label_of(row: dict) -> str:
    """Curve label: the codec, plus its extra encoder options (a tuple value as its items joined by
    '/', the same whether the row is fresh or read back from JSON)."""
    def text(v) -> str:
        return "/".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return row["codec"] + "".join(f",{k}={text(v)}" for k, v in row["options"])


def metric_value(row: dict, metric: str) -> float | None:
    """A quality value of a row; ``ms_ssim_db`` is -10 log10(1 - MS-SSIM-RGB)."""
    if metric == "ms_ssim_db":
        value = row.get("ms_ssim_rgb")
        return None if value is None else (math.inf if value >= 1 else -10 * math.log10(1 - value))
    return row.get(metric)


def curves(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Rows grouped by (picture name, codec label), each group sorted by rate."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["name"], label_of(r)), []).append(r)
    return {k: sorted(v, key=lambda r: r["bpp"]) for k, v in groups.items()}


def bd_rates(rows: list[dict], anchor: str, test: str, metric: str = "psnr_y",
             method: str = "akima") -> dict[str, float]:
    """Per-picture BD-rate (%) of ``test`` against ``anchor``; pictures whose curves don't overlap
    (or lack the metric) are reported as NaN rather than silently dropped."""
    groups = curves(rows)
    out = {}
    for name in sorted({n for n, _ in groups}):
        a, t = groups.get((name, anchor)), groups.get((name, test))
        if not a or not t:
            continue
        out[name] = _bd_or_nan([r["bpp"] for r in a], [metric_value(r, metric) for r in a],
                               [r["bpp"] for r in t], [metric_value(r, metric) for r in t], method)
    return out


def _bd_or_nan(rate_a, quality_a, rate_t, quality_t, method: str) -> float:
    if any(q is None for q in quality_a + quality_t):
        return math.nan
    try:
        return bd_rate(rate_a, quality_a, rate_t, quality_t, method=method)
    except InputError:        # too few points, no overlap, infinite quality: reported, not dropped
        return math.nan


def bd_table(rows: list[dict], reference: str, labels: list[str], methods: tuple[str, ...] = ("cubic", "akima"),
             metrics: tuple[str, ...] = METRICS) -> list[dict]:
    """Mean per-picture BD-rate of each label against ``reference``, per method and metric, with
    the number of pictures where it is defined."""
    table = []
    for method in methods:
        for label in labels:
            if label == reference:
                continue
            entry = {"label": label, "reference": reference, "method": method}
            for metric in metrics:
                values = list(bd_rates(rows, reference, label, metric, method).values())
                finite = [v for v in values if math.isfinite(v)]
                entry[metric] = float(np.mean(finite)) if finite else math.nan
                entry[f"{metric}_pictures"] = f"{len(finite)}/{len(values)}"
            table.append(entry)
    return table


def average_curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Per label, one point per parameter: the mean over pictures of rate, quality and times."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((label_of(r), r["param"]), []).append(r)
    out: dict[str, list[dict]] = {}
    for (label, param), members in groups.items():
        point = {"param": param, "pictures": len(members)}
        for field in ("bpp", "psnr_y", "psnr_rgb", "ms_ssim", "ms_ssim_rgb", *TIMING_FIELDS):
            values = [r.get(field) for r in members]
            point[field] = None if any(v is None for v in values) else float(np.mean(values))
        point["ms_ssim_db"] = metric_value(point, "ms_ssim_db")
        out.setdefault(label, []).append(point)
    return {label: sorted(points, key=lambda p: p["bpp"]) for label, points in out.items()}


def bd_between_curves(reference: list[dict], test: list[dict], metric: str, method: str) -> float:
    """BD-rate between two averaged curves (the only option for published curves); NaN if undefined."""
    return _bd_or_nan([p["bpp"] for p in reference], [p.get(metric) for p in reference],
                      [p["bpp"] for p in test], [p.get(metric) for p in test], method)


def compressai_results(label: str, points: list[dict], description: str) -> dict:
    """An averaged curve in CompressAI's results-file schema (``name``, ``description``,
    ``results``: lists per metric), plus our luma metrics under their own keys."""
    def column(field: str) -> list:
        return [p.get(field) for p in points]
    return {"name": label, "description": description,
            "results": {"bpp": column("bpp"), "psnr-rgb": column("psnr_rgb"), "ms-ssim-rgb": column("ms_ssim_rgb"),
                        "psnr-y": column("psnr_y"), "ms-ssim-y": column("ms_ssim"),
                        "encoding_time": column("encode_s"), "decoding_time": column("decode_s"),
                        "param": column("param")}}


def load_published(path: str | Path) -> tuple[str, list[dict]]:
    """A CompressAI-style results file as (name, averaged points).  Older files name RGB PSNR
    ``psnr`` and RGB MS-SSIM ``ms-ssim``; both are understood."""
    try:
        doc = json.loads(Path(path).read_text())
        results = doc["results"]
        bpp = [float(v) for v in results["bpp"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a CompressAI-style results file ({exc})") from exc
    sources = {"psnr_rgb": ("psnr-rgb", "psnr"), "ms_ssim_rgb": ("ms-ssim-rgb", "ms-ssim"), "psnr_y": ("psnr-y",)}
    points = [{"bpp": b} for b in bpp]
    for field, keys in sources.items():
        key = next((k for k in keys if k in results and len(results[k]) == len(bpp)), None)
        for p, i in zip(points, range(len(bpp))):
            p[field] = float(results[key][i]) if key else None
    for p in points:
        p["ms_ssim_db"] = metric_value(p, "ms_ssim_db")
    return str(doc.get("name") or Path(path).stem), sorted(points, key=lambda p: p["bpp"])


def centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The size x size centre of a picture (all of it where it is smaller, or for size 0)."""
    if size <= 0:
        return image
    h, w = image.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[y:y + size, x:x + size]


def centre_crops(pictures: list[Path], size: int, folder: Path) -> list[Path]:
    """size x size centre crops of the pictures as PNGs in ``folder`` (made once, then reused): the
    small, fixed test set of the ablation and refinement experiments."""
    from hybridcodec.imageio import write_image
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for path in pictures:
        target = folder / f"{Path(path).stem}.png"
        if not target.exists():
            write_image(target, centre_crop(read_image(path), size))
        out.append(target)
    return out


def write_report(folder: Path, stem: str, text: str, data) -> None:
    """Print a benchmark's table and keep it as STEM.md (for the docs) and STEM.json (for scripts)."""
    print(text)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.md").write_text(text + "\n")
    (folder / f"{stem}.json").write_text(json.dumps(data, indent=1, default=float))


def mean_finite(values) -> float:
    """Mean over the finite values (NaN BD-rates of non-overlapping curves left out), NaN if none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan
