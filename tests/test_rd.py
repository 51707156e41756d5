"""RD experiments: the rd command's outputs, resuming, published curves, anchors by the issue's
names, and the same numbers on a local process pool and on a Dask LocalCluster."""
import csv
import json
import math

import pytest

import hybridcodec.eval.experiments as experiments
from hybridcodec.eval.anchors import available_anchors
from hybridcodec.eval.bdrate import bd_rate
from hybridcodec.tools.cli import main
from hybridcodec.eval.experiments import (Point, bd_between_curves, canonical_codec, load_published, metric_value,
                                     run_points)
from hybridcodec.imageio import write_image
from pictures import synthetic_rgb

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
QPS = ["22", "27", "32", "37"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    for seed in (1, 2):
        write_image(folder / f"pic{seed}.png", synthetic_rgb(40, 56, seed))
    return folder


def published_file(path, name="published", rate_factor=1.0):
    """A CompressAI results file in the older key spelling (psnr / ms-ssim)."""
    doc = {"name": name, "description": "test", "results": {
        "bpp": [0.4 * rate_factor, 0.8 * rate_factor, 1.6 * rate_factor, 3.2 * rate_factor],
        "psnr": [27.0, 30.0, 33.0, 36.0], "ms-ssim": [0.9, 0.95, 0.975, 0.99]}}
    path.write_text(json.dumps(doc))
    return path


def test_rd_command_outputs_and_resume(pictures, tmp_path, monkeypatch, capsys):
    out = tmp_path / "results"
    argv = ["rd", str(pictures), "--modes", "host", "--qp", *QPS, "--anchors", "jpeg,webp", "--reference", "jpeg",
            "--out", str(out), "--jobs", "1", "--no-progress", "--compare", str(published_file(tmp_path / "p.json"))]
    assert main(argv) == 0
    summary = capsys.readouterr().out
    assert "## BD-rate vs JPEG, cubic" in summary and "## BD-rate vs JPEG, akima" in summary
    assert "| published |" in summary                                  # the compared curve is in a table
    rows = list(csv.DictReader(open(out / "points.csv")))
    assert len(rows) == 2 * (4 + 6 + 6)                                # pictures x (QPs + two anchor sweeps)
    assert all(r["exact"] == "True" for r in rows if r["codec"] == "host")
    assert len(json.loads((out / "points.json").read_text())) == len(rows)
    host_curve = json.loads((out / "curves" / "host.json").read_text())
    assert set(host_curve) == {"name", "description", "results"}
    assert {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"} <= set(host_curve["results"])
    assert len(host_curve["results"]["bpp"]) == 4
    bd = list(csv.DictReader(open(out / "bd_rate.csv")))
    assert {(r["label"], r["method"]) for r in bd} == {(c, m) for c in ("host", "webp") for m in ("cubic", "akima")}
    for name in ("rd.png",):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    assert {r["label"] for r in csv.DictReader(open(out / "timings.csv"))} == {"host", "jpeg", "webp"}

    def must_not_run(point):
        raise AssertionError(f"{point} was coded again")
    monkeypatch.setattr(experiments, "code_point", must_not_run)
    assert main(argv) == 0                                            # resumed: every point is skipped
    assert capsys.readouterr().out == summary


def test_bd_table_is_the_mean_of_per_picture_bd_rates(pictures, tmp_path):
    points = [Point(str(p), c, v) for p in sorted(pictures.iterdir())
              for c, values in (("host", (22, 27, 32, 37)), ("jpeg", (30, 50, 75, 90))) for v in values]
    rows = run_points(points, tmp_path / "points.jsonl", jobs=1, progress=False)
    table = experiments.bd_table(rows, "jpeg", ["host", "jpeg"], methods=("cubic",))
    expected = []
    for name in ("pic1.png", "pic2.png"):
        ref = sorted((r for r in rows if r["name"] == name and r["codec"] == "jpeg"), key=lambda r: r["bpp"])
        test = sorted((r for r in rows if r["name"] == name and r["codec"] == "host"), key=lambda r: r["bpp"])
        expected.append(bd_rate([r["bpp"] for r in ref], [r["psnr_y"] for r in ref],
                                [r["bpp"] for r in test], [r["psnr_y"] for r in test], "cubic"))
    assert [e["label"] for e in table] == ["host"]
    assert table[0]["psnr_y"] == pytest.approx(sum(expected) / 2)
    assert table[0]["psnr_y_pictures"] == "2/2"


def test_published_curves(tmp_path):
    name, points = load_published(published_file(tmp_path / "a.json", "paper"))
    assert name == "paper" and points[0]["psnr_rgb"] == 27.0 and points[0]["psnr_y"] is None
    assert points[0]["ms_ssim_db"] == pytest.approx(10.0)
    _, cheaper = load_published(published_file(tmp_path / "b.json", rate_factor=0.8))
    assert bd_between_curves(points, cheaper, "psnr_rgb", "akima") == pytest.approx(-20.0)
    assert math.isnan(bd_between_curves(points, cheaper, "psnr_y", "akima"))      # not in the file
    assert metric_value({"ms_ssim_rgb": 0.99}, "ms_ssim_db") == pytest.approx(20.0)
    (tmp_path / "bad.json").write_text("{}")
    assert main(["rd", str(tmp_path), "--out", str(tmp_path / "o"), "--compare", str(tmp_path / "bad.json")]) == 1


def test_anchor_names_of_the_issue(pictures, tmp_path):
    assert canonical_codec("x265") == "hevc" and canonical_codec("jpeg") == "jpeg"
    if not available_anchors()["hevc"]:
        pytest.skip(available_anchors()["hevc"].reason)
    row = run_points([Point(str(pictures / "pic1.png"), "x265", 32)], tmp_path / "p.jsonl", jobs=1, progress=False)[0]
    assert row["codec"] == "x265" and row["bpp"] > 0 and row["psnr_y"] > 25


@pytest.mark.slow
def test_local_pool_and_dask_local_cluster_give_the_same_numbers(pictures, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    points = [Point(str(p), codec, v) for p in sorted(pictures.iterdir())
              for codec, values in (("host", (27, 37)), ("jpeg", (30, 75))) for v in values]
    pool_rows = run_points(points, tmp_path / "pool" / "points.jsonl", jobs=2, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        dask_rows = run_points(points, tmp_path / "dask" / "points.jsonl", progress=False,
                               dask_address=cluster.scheduler_address)

    def numbers(rows):
        return [{k: v for k, v in r.items() if k not in experiments.TIMING_FIELDS} for r in rows]
    assert numbers(pool_rows) == numbers(dask_rows)
    assert len(pool_rows) == len(points) and all(r["exact"] for r in pool_rows if r["codec"] != "jpeg")


def test_cached_nn_points_belong_to_their_weights(tmp_path):
    """Re-running an experiment after new weights are shipped must re-code the NN and hybrid points
    (their cache key carries the model id), and the host and hybrid points after new loop-filter weights
    or a new default ensemble size; host points without the filter and anchor points are reused."""
    from hybridcodec.config import EncoderConfig
    from hybridcodec.eval.experiments import lf_model_id
    from nntools.training.export import save_arrays
    from nntools.weights_id import model_id
    from nntools.zoo import DEFAULT_MODEL, load_arrays
    arrays = load_arrays(DEFAULT_MODEL)
    save_arrays(dict(arrays, log_delta=arrays["log_delta"] + 1), tmp_path / "other.npz")
    other = (("nn_model", str(tmp_path / "other.npz")),)
    for codec in ("nn", "hybrid"):
        assert model_id(arrays).hex() in json.loads(Point("a.png", codec, 3).key)
        assert Point("a.png", codec, 3).key != Point("a.png", codec, 3, other).key
    lf = f"lf:{lf_model_id(EncoderConfig.nn_lf_model)}:{EncoderConfig.nn_lf_transforms}t"
    assert json.loads(Point("a.png", "hybrid", 3).key)[-1] == lf
    assert json.loads(Point("a.png", "host", 3, (("nn_lf_transforms", 1),)).key)[-1].endswith(":1t")
    assert lf not in Point("a.png", "nn", 3).key
    assert json.loads(Point("a.png", "host", 3).key) == ["a.png", "host", 3, [], lf]
    assert json.loads(Point("a.png", "host", 3, (("nn_loop_filter", False),)).key) == \
        ["a.png", "host", 3, [["nn_loop_filter", False]]]
    assert json.loads(Point("a.png", "jpeg", 50).key) == ["a.png", "jpeg", 50, []]
