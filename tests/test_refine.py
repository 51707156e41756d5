"""Online refinement of the NN coding (encoder-only): refined bitstreams decode with the standard decoder
to the encoder's reconstruction, in NN-only and hybrid modes; refinement never raises the RD cost; the
early stop works; annealed soft rounding (SGA) is a soft floor/ceiling mix that hardens as it cools."""

import numpy as np
import pytest
import torch

from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools.encoder import code_regions
from nntools.encoder.input import planes_to_input
from nntools.encoder.refine import RefineConfig, sga_round
from nntools.zoo import load_bundle
from pictures import synthetic_rgb


def assert_exact(result) -> None:
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


@pytest.mark.parametrize("options", [
    {"nn_refine_steps": 3},
    {"nn_refine_steps": 3, "nn_refine_rounding": "ste"},
    {"nn_refine_steps": 3, "nn_refine_lr": (0.003, 0.03)},
    {"nn_refine_steps": 3, "nn_refine_target": "module"},
    {"nn_refine_steps": 3, "chroma_format": "444", "level": 6},
    {"nn_refine_steps": 3, "nn_refine_rounding": "sga", "nn_refine_lr": (0.005,)},
    {"nn_refine_steps": 3, "nn_refine_rounding": "sga", "nn_refine_hyper": True},
    {"nn_refine_steps": 3, "nn_patch_size": 64, "nn_refine_rounding": "sga"},
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
    plain = code_regions(bundle, x, 3, lam_sse=lam)[0]          # the unrefined coding at the same λ
    for cfg in (RefineConfig(5, (0.01,), rounding="ste"), RefineConfig(5, (10.0,)), RefineConfig(5, (0.01,), "module"),
                RefineConfig(5, (0.01,), rounding="sga"), RefineConfig(5, (0.01,), "module", rounding="sga"),
                RefineConfig(5, (0.01,), rounding="sga", hyper=True)):
        refined = code_regions(bundle, x, 3, cfg, lam, 255)[0]
        assert rd_cost(refined, x, lam) <= rd_cost(plain, x, lam)


def test_early_stop_on_distortion():
    bundle = load_bundle()
    x = planes_to_input([synthetic_rgb(32, 32)[..., 0].astype(np.int32)], 0, 8)
    plain = code_regions(bundle, x, 2, lam_sse=50.0)[0]
    stopped = code_regions(bundle, x, 2, RefineConfig(40, (0.05,), stop_mse=1.0), 50.0, 255)[0]
    assert plain.bits == stopped.bits and bool((plain.x_hat == stopped.x_hat).all())


def test_sga_rounding_mixes_floor_and_ceiling_and_hardens():
    x = torch.linspace(-3.9, 3.9, 4001, requires_grad=True)
    generator = torch.Generator().manual_seed(1)
    warm = sga_round(x, 0.5, generator)
    assert bool(((warm >= torch.floor(x)) & (warm <= torch.floor(x) + 1)).all())
    assert float((warm - torch.round(x)).detach().abs().max()) > 0.1     # soft: not yet rounded
    warm.sum().backward()
    assert float(x.grad.abs().sum()) > 0                                  # a gradient where STE has 1 or 0
    cold = sga_round(x.detach(), 1e-3, generator)
    away = (x.detach() - torch.round(x.detach())).abs() < 0.4             # clear of the rounding boundaries
    assert torch.allclose(cold[away], torch.round(x.detach())[away], atol=1e-3)


def test_sga_refinement_is_reproducible():
    bundle = load_bundle()
    x = planes_to_input([synthetic_rgb(32, 32, seed=2)[..., 0].astype(np.int32)], 0, 8)
    cfg = RefineConfig(4, (0.005,), rounding="sga")
    first, second = (code_regions(bundle, x, 4, cfg, 50.0, 255)[0] for _ in range(2))
    assert first.bits == second.bits and bool((first.x_hat == second.x_hat).all())
