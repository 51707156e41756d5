"""Online refinement of the NN coding (encoder-only): refined bitstreams decode with the standard decoder
to the encoder's reconstruction, in NN-only and hybrid modes; refinement never raises the RD cost; the
early stop works."""

import numpy as np
import pytest

from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools.encoder import code_regions
from nntools.picture import planes_to_input
from nntools.refine import RefineConfig
from nntools.zoo import load_bundle
from pictures import synthetic_rgb


def assert_exact(result) -> None:
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


@pytest.mark.parametrize("options", [
    {"nn_refine_steps": 3},
    {"nn_refine_steps": 3, "nn_refine_lr": (0.003, 0.03)},
    {"nn_refine_steps": 3, "nn_refine_target": "module"},
    {"nn_refine_steps": 3, "chroma_format": "444", "level": 6},
])
def test_refined_nn_mode_decodes_to_reconstruction(options):
    assert_exact(Encoder(mode="nn", **options).encode(synthetic_rgb(48, 40, seed=3)))


def test_refined_hybrid_decodes_to_reconstruction(force_nn):
    force_nn()                                     # make the refined NN candidates win
    result = Encoder(qp=32, nn_refine_steps=2, nn_sizes=(64,)).encode(synthetic_rgb(64, 64, seed=2))
    assert result.stats.area_by_mode["nn"] == 1.0
    assert_exact(result)


def rd_cost(region, x, lam) -> float:
    return 255 ** 2 * float(((region.x_hat - x) ** 2).sum()) + lam * region.bits


def test_refinement_never_raises_the_rd_cost():
    bundle = load_bundle()
    rgb = synthetic_rgb(32, 32, seed=5)
    planes = [rgb[..., 0].astype(np.int32), rgb[:16, :16, 1].astype(np.int32), rgb[:16, :16, 2].astype(np.int32)]
    x = planes_to_input(planes, 1, 8)
    lam = 50.0
    plain = code_regions(bundle, x, 3)[0]
    for cfg in (RefineConfig(5, (0.01,)), RefineConfig(5, (10.0,)), RefineConfig(5, (0.01,), "module")):
        refined = code_regions(bundle, x, 3, cfg, lam, 255)[0]
        assert rd_cost(refined, x, lam) <= rd_cost(plain, x, lam)


def test_early_stop_on_distortion():
    bundle = load_bundle()
    x = planes_to_input([synthetic_rgb(32, 32)[..., 0].astype(np.int32)], 0, 8)
    once = code_regions(bundle, x, 2, RefineConfig(1, (0.05,)), 50.0, 255)[0]
    stopped = code_regions(bundle, x, 2, RefineConfig(40, (0.05,), stop_mse=1.0), 50.0, 255)[0]
    assert once.bits == stopped.bits and bool((once.x_hat == stopped.x_hat).all())
