"""Neural tool: deterministic decoding, exact arithmetic, model identification, training smoke test."""
import dataclasses
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bitstream.container import read_container, write_container
from hybridcodec import Encoder, EncoderConfig, ModelMismatchError, decode
from nntools.codec import decode_latents
from nntools.exact import ACT_FRAC, ExactConv, activation
from nntools.encoder.input import planes_to_input
from nntools.zoo import load_bundle
from pictures import synthetic_gray, synthetic_rgb


@pytest.fixture(scope="module")
def bundle():
    return load_bundle()


def encode_nn(image, **options):
    return Encoder(EncoderConfig(mode="nn", **options)).encode(image)


@pytest.mark.parametrize("image,options", [
    (synthetic_rgb(70, 100, 1), {}),
    (synthetic_rgb(33, 47, 2), {"chroma_format": "444"}),
    (synthetic_gray(50, 61, 3), {}),
    (synthetic_rgb(40, 40, 4, np.uint16), {}),
    (synthetic_rgb(1, 1, 5), {"level": 0}),
])
def test_nn_mode_decodes_to_encoder_reconstruction(image, options):
    result = encode_nn(image, **options)
    decoded = decode(result.bitstream)
    assert decoded.shape == image.shape and decoded.dtype == image.dtype
    assert np.array_equal(decoded, result.reconstruction)


def test_decode_identical_across_thread_counts():
    result = encode_nn(synthetic_rgb(96, 128, 7), level=6)
    pictures = []
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            pictures.append(decode(result.bitstream))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(pictures[0], pictures[1])
    assert np.array_equal(pictures[0], result.reconstruction)


def test_synthesis_identical_across_batch_sizes(bundle):
    torch.manual_seed(0)
    m = bundle.config.latent
    y_hat = activation(torch.randn(3, m, 4, 6, dtype=torch.float64) * 4)
    batched = bundle.g_s(y_hat)
    for i in range(3):
        assert torch.equal(bundle.g_s(y_hat[i:i + 1])[0], batched[i])


def test_latent_decode_identical_across_runs(bundle):
    from nntools.encoder import encode_latents
    image = synthetic_rgb(64, 128, 8)
    x = planes_to_input([image[..., 0].astype(np.int32)] + [image[::2, ::2, c].astype(np.int32) for c in (1, 2)],
                        1, 8)
    payload, x_hat = encode_latents(bundle, x, 3)
    for _ in range(2):
        assert torch.equal(bundle.g_s(decode_latents(bundle, payload, x.shape[2], x.shape[3], 3)), x_hat)


def test_fixed_point_convolution_is_exact():
    """The float64 convolution of grid values equals the same convolution in int64 arithmetic."""
    rng = np.random.default_rng(0)
    frac = 14
    w_int = rng.integers(-30000, 30000, (5, 7, 3, 3))
    b_int = rng.integers(-2 ** 30, 2 ** 30, 5)
    x_int = rng.integers(-2 ** 20, 2 ** 20, (1, 7, 6, 6))
    conv = ExactConv(torch.from_numpy(w_int / 2.0 ** frac), torch.from_numpy(b_int / 2.0 ** (frac + ACT_FRAC)),
                     1, 1, None)
    got = conv(torch.from_numpy(x_int / 2.0 ** ACT_FRAC)).numpy() * 2 ** ACT_FRAC
    padded = np.pad(x_int, ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((5, 6, 6), dtype=np.int64)
    for dy in range(3):
        for dx in range(3):
            acc += np.einsum("oc,chw->ohw", w_int[:, :, dy, dx], padded[0, :, dy:dy + 6, dx:dx + 6])
    acc += b_int[:, None, None]
    expected = np.clip(np.round(acc / 2.0 ** frac), -2 ** 20, 2 ** 20)   # ties cannot occur below 2^53
    assert np.array_equal(got[0], expected)


def test_rate_grows_with_level():
    image = cv2.GaussianBlur(synthetic_rgb(64, 96, 9), (5, 5), 1.5)
    sizes = [len(encode_nn(image, level=level).bitstream) for level in (0, 3, 7)]
    assert sizes[0] < sizes[1] < sizes[2]


def test_foreign_model_is_refused():
    data = encode_nn(synthetic_rgb(16, 16, 3)).bitstream
    header, streams = read_container(data)
    with pytest.raises(ModelMismatchError):
        decode(write_container(dataclasses.replace(header, model_id=bytes(16)), streams))


def test_experimental_weights_decode_once_registered(tmp_path, monkeypatch):
    from hybridcodec.tools.cli import main as cli
    from nntools import registry, zoo
    from nntools.training.export import save_arrays
    monkeypatch.setattr(registry, "_factories", {})
    monkeypatch.setattr(registry, "_loaded", {})
    arrays = zoo.load_arrays(zoo.DEFAULT_MODEL)
    arrays["level_map"] = arrays["level_map"] + 1         # another model id, same networks
    weights = tmp_path / "experiment.npz"
    save_arrays(arrays, weights)
    image = synthetic_rgb(40, 48, 7)
    result = encode_nn(image, nn_model=str(weights))
    assert np.array_equal(decode(result.bitstream), result.reconstruction)   # the encoder registered it
    monkeypatch.setattr(registry, "_factories", {})                          # a fresh decoder has not
    monkeypatch.setattr(registry, "_loaded", {})
    with pytest.raises(registry.ToolNotInstalledError, match="'experiment-[0-9a-f]{8}'.*not installed"):
        decode(result.bitstream)
    stream = tmp_path / "a.hbc"
    stream.write_bytes(result.bitstream)
    assert cli(["decode", str(stream), "-o", str(tmp_path / "a.png")]) == 1
    assert cli(["decode", str(stream), "-o", str(tmp_path / "a.png"), "--nn-model", str(weights)]) == 0
    assert cli(["decode", str(stream), "-o", str(tmp_path / "b.png"), "--nn-model", str(tmp_path / "none")]) == 1


def test_context_adaptation_keeps_trained_stages():
    from nntools.training.model import ModelConfig, NNCodecModel, adapt_context
    small = dict(channels=8, latent=8, hyper=8)
    cb = NNCodecModel(ModelConfig(**small)).state_dict()
    fp = adapt_context(cb, "four_pass")
    NNCodecModel(ModelConfig(context="four_pass", **small)).load_state_dict(fp)     # complete and shaped
    assert torch.equal(fp["context.2.weight"], cb["context.0.weight"])
    trained = dict(fp, **{"context.2.weight": fp["context.2.weight"] + 1})
    assert torch.equal(adapt_context(trained, "four_pass")["context.2.weight"], trained["context.2.weight"])
    assert adapt_context(trained, "checkerboard").keys() == cb.keys()


def test_factorized_density_fits_stored_pmfs():
    """A density shipped only as CDF tables is restored by fitting: its cross-entropy on the tables'
    pmfs comes within 0.01 bit of their entropy, from over a bit above it at initialisation."""
    from nntools.training.entropy_models import FactorizedDensity
    torch.manual_seed(0)
    values = np.arange(-12, 13)
    pmfs = [np.exp(-np.abs(values - shift) / scale) for scale, shift in ((0.3, 0), (1.5, 1), (4.0, -2))]
    pmfs = [p / p.sum() for p in pmfs]
    offsets = np.full(3, values[0])
    entropy = np.mean([-(p * np.log2(p)).sum() for p in pmfs])
    density = FactorizedDensity(3)
    start = density.cross_entropy(pmfs, offsets)
    fitted = density.fit_pmfs(pmfs, offsets)
    assert start > entropy + 1.0 and fitted < entropy + 0.01


def tiny_training_command(tmp_path, pictures: int) -> tuple[list[str], Path]:
    """A training command for a tiny model on a few synthetic pictures, logging every step; and its run folder."""
    data = tmp_path / "images"
    data.mkdir()
    for i in range(pictures):
        cv2.imwrite(str(data / f"{i}.png"), synthetic_rgb(96, 96, i))
    out = tmp_path / "run"
    return [sys.executable, "-m", "nntools.training.train", "--data", str(data), "--out", str(out), "--batch", "2",
            "--crop", "64", "--channels", "16", "--latent", "16", "--hyper", "16", "--log-every", "1",
            "--threads", "1"], out


@pytest.mark.slow
def test_training_runs_checkpoints_and_resumes(tmp_path):
    args, out = tiny_training_command(tmp_path, pictures=2)
    subprocess.run(args + ["--steps", "2"], check=True, capture_output=True)
    assert torch.load(out / "checkpoint.pt")["step"] == 2
    subprocess.run(args + ["--steps", "3"], check=True, capture_output=True)
    state = torch.load(out / "checkpoint.pt")
    assert state["step"] == 3
    rows = (out / "log.csv").read_text().strip().splitlines()
    assert rows[0].startswith("step,hours,loss") and len(rows) == 4
    # the weight average survives the resume and is what gets exported
    assert state["ema_count"] == 3
    name = "g_s.0.weight"
    assert not torch.equal(state["ema"][name], state["model"][name])
    from nntools.training.model import ModelConfig, NNCodecModel
    from nntools.training.export import export_arrays
    from nntools.zoo import load_arrays
    exported = {}
    for flag, key in (([], "ema"), (["--raw"], "model")):
        weights = tmp_path / f"{key}.npz"
        subprocess.run([sys.executable, "-m", "nntools.training.export", str(out / "checkpoint.pt"), str(weights)] + flag,
                       check=True, capture_output=True)
        model = NNCodecModel(ModelConfig.from_dict(state["config"]))
        model.load_state_dict(state[key])
        exported[key] = load_arrays(weights)
        assert all(np.array_equal(a, exported[key][k]) for k, a in export_arrays(model).items())
    assert not np.array_equal(exported["ema"]["g_s.0.w"], exported["model"]["g_s.0.w"])
    # naming another context model switches the run, its new stages copied from the old one
    subprocess.run(args + ["--steps", "4", "--context", "four_pass"], check=True, capture_output=True)
    switched = torch.load(out / "checkpoint.pt")
    assert switched["config"]["context"] == "four_pass" and switched["step"] == 4
    assert "context.2.weight" in switched["model"] and "context.2.weight" in switched["ema"]


@pytest.mark.slow
def test_training_starts_from_shipped_weights(tmp_path):
    """--init with an exported weights file (the way to go on when a run folder is lost) starts from its
    transforms and keeps its context model, with a fresh optimiser and weight average."""
    from nntools.training.export import float_model
    from nntools.zoo import load_arrays
    args, out = tiny_training_command(tmp_path, pictures=1)
    subprocess.run(args + ["--steps", "2", "--context", "four_pass"], check=True, capture_output=True)
    weights = tmp_path / "shipped.npz"
    subprocess.run([sys.executable, "-m", "nntools.training.export", str(out / "checkpoint.pt"), str(weights)],
                   check=True, capture_output=True)
    run2 = tmp_path / "run2"
    args2 = [a if a != str(out) else str(run2) for a in args]
    subprocess.run(args2 + ["--steps", "1", "--init", str(weights), "--lr", "1e-12"], check=True,
                   capture_output=True)
    state = torch.load(run2 / "checkpoint.pt")
    assert state["step"] == 1 and state["config"]["context"] == "four_pass"
    start = float_model(load_arrays(weights)).state_dict()
    for name in ("g_a.0.weight", "g_s.0.weight", "context.2.weight", "entropy_parameters.0.weight"):
        assert torch.allclose(state["model"][name], start[name], atol=1e-6), name
    # z's density, shipped only as CDF tables, is fitted to them rather than restarted
    from bitstream.cdf_tables import quantized_cdf_from_pmf
    from nntools.training.model import ModelConfig, NNCodecModel
    from nntools.training.export import load_float_weights, save_arrays, z_pmfs
    from nntools.zoo import NUM_SCALES
    arrays = load_arrays(weights)
    for i, row in enumerate(range(NUM_SCALES, len(arrays["cdf_lengths"]))):   # peaked, unlike the init
        pmf = np.exp(-np.abs(np.arange(-6, 7) - i % 3) / 0.4)
        cdf = quantized_cdf_from_pmf(pmf / pmf.sum())
        arrays["cdfs"][row] = cdf[-1]
        arrays["cdfs"][row, :len(cdf)] = cdf
        arrays["cdf_lengths"][row], arrays["cdf_offsets"][row] = len(cdf), -6
    save_arrays(arrays, weights)
    model = NNCodecModel(ModelConfig.from_dict(state["config"]))
    model.load_state_dict(load_float_weights(weights))
    pmfs, offsets = z_pmfs(arrays)
    entropy = np.mean([-(p[p > 0] * np.log2(p[p > 0] / p.sum())).sum() / p.sum() for p in pmfs])
    assert model.z_density.cross_entropy(pmfs, offsets) < entropy + 0.01
    assert NNCodecModel(model.cfg).z_density.cross_entropy(pmfs, offsets) > entropy + 0.5


@pytest.mark.slow
def test_refit_density_changes_only_the_z_density(tmp_path):
    args, out = tiny_training_command(tmp_path, pictures=1)
    subprocess.run(args + ["--steps", "2"], check=True, capture_output=True)
    before = torch.load(out / "checkpoint.pt")
    subprocess.run([sys.executable, "-m", "nntools.training.refit_density", str(out / "checkpoint.pt"), "--data",
                    str(tmp_path / "images"), "--crops", "8", "--crop", "64", "--threads", "1"],
                   check=True, capture_output=True)
    after = torch.load(out / "checkpoint.pt")
    assert torch.load(out / "checkpoint.before_refit.pt")["step"] == after["step"] == 2
    for key in ("model", "ema"):
        changed = {k for k in before[key] if not torch.equal(before[key][k], after[key][k])}
        assert changed and all(k.startswith("z_density.") for k in changed)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("c++") is None, reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_training_saves_the_plain_model(tmp_path):
    """--compile trains through a torch.compile wrapper; the checkpoint must still hold the plain module's
    parameters under their own names (no wrapper prefix), so that export and a resume without it work."""
    from nntools.training.model import ModelConfig, NNCodecModel
    args, out = tiny_training_command(tmp_path, pictures=1)
    subprocess.run(args + ["--steps", "2", "--compile"], check=True, capture_output=True)
    state = torch.load(out / "checkpoint.pt")
    fresh = NNCodecModel(ModelConfig.from_dict(state["config"]))
    assert state["step"] == 2 and state["ema_count"] == 2
    assert state["model"].keys() == fresh.state_dict().keys() == state["ema"].keys()
    subprocess.run(args + ["--steps", "3"], check=True, capture_output=True)
    resumed = torch.load(out / "checkpoint.pt")
    assert resumed["step"] == 3
    assert not torch.equal(resumed["model"]["g_a.0.weight"], state["model"]["g_a.0.weight"])


def test_learning_rate_schedule_warms_up_then_decays_over_the_run_time():
    from nntools.training.train import parse_args, scheduled_lr
    base = ["--data", "d", "--out", "o"]
    assert scheduled_lr(parse_args(base + ["--lr", "1e-4"]), 0, 0.0) is None     # nothing scheduled
    warm = parse_args(base + ["--lr", "1e-4", "--warmup", "3"])
    assert [scheduled_lr(warm, n, 0.0) for n in range(5)] == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4])
    decay = parse_args(base + ["--lr", "4e-5", "--lr-end", "2e-6", "--hours", "0.5"])
    assert scheduled_lr(decay, 10, 0.0) == pytest.approx(4e-5)
    assert scheduled_lr(decay, 10, 900.0) == pytest.approx(2.1e-5)
    assert scheduled_lr(decay, 10, 5000.0) == pytest.approx(2e-6)     # held at the end, not extrapolated
    both = parse_args(base + ["--lr", "4e-5", "--lr-end", "2e-6", "--hours", "0.5", "--warmup", "1"])
    assert scheduled_lr(both, 0, 900.0) == pytest.approx(2.1e-5 / 2)


@pytest.mark.slow
def test_training_stop_signal_saves_the_last_step(tmp_path):
    """SIGTERM (a session ending, `kill`) finishes the step and saves it: nothing trained is lost.

    No fixed sleep: the signal goes only once the log shows two finished steps, i.e. once the process is
    provably inside its training loop with its SIGTERM handler installed, however slow the machine.  The
    timeouts only turn a hang into a failure; nothing asserted depends on how fast the steps run."""
    args, out = tiny_training_command(tmp_path, pictures=1)
    log = out / "log.csv"
    errors = tmp_path / "stderr.txt"

    def logged_steps() -> list[int]:
        """The steps of the log's complete rows so far (each row is written and flushed after its step)."""
        if not log.exists():
            return []
        return [int(row.split(",")[0]) for row in log.read_text().split("\n")[1:-1]]   # no header, no partial row

    with open(errors, "wb") as stderr:
        proc = subprocess.Popen(args + ["--save-every", "1e9"], stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 600
            while len(logged_steps()) < 2:
                assert proc.poll() is None, f"training exited ({proc.returncode}): {errors.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "training logged fewer than two steps in 10 minutes"
                time.sleep(0.1)
            assert not (out / "checkpoint.pt").exists()          # --save-every 1e9: only the stop saves
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=600) == 0, errors.read_text()[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    steps = logged_steps()
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] >= 2
    assert torch.load(out / "checkpoint.pt")["step"] == steps[-1]


def test_crop_pack_feeds_training(tmp_path):
    from nntools.training.data import CropDataset, pack_crops
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), synthetic_rgb(100, 120, 1))
    pack_crops(folder, tmp_path / "pack.npz", count=3, size=64)
    data = CropDataset(tmp_path / "pack.npz", crop=64)
    batch = data.batch(2)
    assert len(data.pictures) == 3 and batch.shape == (2, 6, 32, 32)
    assert float(batch.min()) >= -0.5 and float(batch.max()) <= 0.5


def test_plane_pack_is_bit_exact_and_batches_match_the_codec_input_mapping(tmp_path):
    """The WebP plane sets carry exactly the codec's 4:2:0 planes, and the batched, device-side input
    conversion gives the same tensor as the codec's own per-region planes_to_input."""
    from host.color import CHROMA_420
    from nntools.training.data import CropDataset, pack_planes
    from nntools.encoder.input import planes_to_input
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), synthetic_rgb(100, 120, 1))
    cv2.imwrite(str(folder / "b.png"), synthetic_rgb(80, 64, 2))
    assert pack_planes(folder, tmp_path / "planes") == 2
    from_images = CropDataset(folder, crop=64)
    from_planes = CropDataset(tmp_path / "planes", crop=64)
    assert len(from_planes.pictures) == 2
    for a, b in zip(from_images.pictures, from_planes.pictures):
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
    data = CropDataset(tmp_path / "planes", crop=64, seed=5)
    batch = data.batch(3)
    data.rng = np.random.default_rng(5)
    for i in range(3):
        planes = data.random_crop(64)
        flips = data.rng.random(2) < 0.5
        planes = [np.ascontiguousarray(p[::-1 if flips[1] else 1, ::-1 if flips[0] else 1]) for p in planes]
        assert torch.equal(batch[i], planes_to_input(planes, CHROMA_420, 8)[0].float())


def test_bf16_training_keeps_float32_where_symbols_and_loss_are_computed():
    """--bf16 runs the convolutions in bfloat16, but the layers whose outputs are rounded to symbols, set
    probabilities or are scored stay float32, and so do the weights the optimiser updates."""
    from nntools.training.layers import FullPrecisionConv2d
    from nntools.training.model import ModelConfig, NNCodecModel
    from nntools.training.train import train_step
    torch.manual_seed(0)
    model = NNCodecModel(ModelConfig(channels=16, latent=16, hyper=16, context="four_pass"))
    last_layers = [model.g_a[-1], model.g_s[-1], model.h_a[-1], model.h_s[-1], model.entropy_parameters[-1]]
    assert all(isinstance(layer, FullPrecisionConv2d) for layer in last_layers)
    x = torch.rand(2, 6, 32, 32) - 0.5
    levels = torch.tensor([0, 7])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.g_a[0](x).dtype == torch.bfloat16
        assert model.g_a[-1](torch.rand(1, 16, 4, 4)).dtype == torch.float32
        out = model(x, levels)
    assert all(out[k].dtype == torch.float32 for k in ("x_hat", "y_lik", "z_lik"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss, stats = train_step(model, optimizer, x, levels, bf16=True)
    assert torch.isfinite(loss) and stats["bpp"].dtype == torch.float32
    after = model.state_dict()
    assert all(v.dtype == torch.float32 for v in after.values())
    assert not torch.equal(before["g_a.0.weight"], after["g_a.0.weight"])
    # outside autocast the full-precision layer is an ordinary convolution with the same weights
    layer = model.g_s[-1]
    plain = torch.nn.Conv2d(16, 6, 3, padding=1)
    plain.load_state_dict(layer.state_dict())
    probe = torch.rand(1, 16, 8, 8)
    assert torch.equal(layer(probe), plain(probe))
