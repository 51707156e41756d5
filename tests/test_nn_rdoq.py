"""RDOQ of the NN latent (encoder-only): its bitstreams decode to the encoder's reconstruction; it only
ever moves a symbol one step towards the mean, and only where the bits saved pay for the distortion;
the synthesis gains it weighs distortion with match the exact Jacobian of a linear synthesis."""

import numpy as np
import pytest
import torch
from torch import nn

from hybridcodec.decoder import decode_full
from hybridcodec.encoder import Encoder
from nntools.encoder import code_regions
from nntools.encoder.input import planes_to_input
from nntools.encoder.rdoq import Rdoq, rdoq_symbols, synthesis_gains
from nntools.zoo import load_bundle
from pictures import synthetic_rgb


@pytest.mark.parametrize("options", [
    {"level": 0}, {"level": 7}, {"level": 3, "chroma_format": "444"}, {"level": 5, "nn_rdoq_scale": 1.0},
    {"level": 2, "nn_patch_size": 64, },
])
def test_rdoq_nn_mode_decodes_to_reconstruction(options):
    result = Encoder(mode="nn", **options).encode(synthetic_rgb(72, 56, seed=4))
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


def test_rdoq_hybrid_decodes_to_reconstruction(force_nn):
    force_nn()
    result = Encoder(qp=27, nn_sizes=(32,)).encode(synthetic_rgb(64, 64, seed=6))
    assert result.stats.area_by_mode["nn"] == 1.0
    assert np.array_equal(decode_full(result.bitstream).picture, result.reconstruction)


def region_input(seed: int) -> torch.Tensor:
    rgb = synthetic_rgb(64, 64, seed=seed)
    planes = [rgb[..., 0].astype(np.int32), rgb[::2, ::2, 1].astype(np.int32), rgb[::2, ::2, 2].astype(np.int32)]
    return planes_to_input(planes, 1, 8)


def symbols_of(region) -> np.ndarray:
    return np.concatenate([s for s, _ in region.passes[1:]])


def test_rdoq_saves_bits_and_is_off_at_zero_lambda_or_scale():
    bundle = load_bundle()
    x = region_input(7)
    plain = code_regions(bundle, x, 4)[0]
    assert symbols_of(code_regions(bundle, x, 4, lam_sse=0.0)[0]).tolist() == symbols_of(plain).tolist()
    assert symbols_of(code_regions(bundle, x, 4, lam_sse=60.0, rdoq_scale=0.0)[0]).tolist() \
        == symbols_of(plain).tolist()
    rdoq = code_regions(bundle, x, 4, lam_sse=60.0)[0]
    assert rdoq.bits < plain.bits
    # A stronger λ moves more symbols towards the mean and saves more bits.
    assert code_regions(bundle, x, 4, lam_sse=600.0)[0].bits < rdoq.bits


def test_rdoq_moves_a_symbol_at_most_one_step_towards_zero_where_it_pays():
    bundle = load_bundle()
    torch.manual_seed(0)
    r = torch.randn(1, 4, 6, 6, dtype=torch.float64) * 3
    index = torch.full((1, 4, 6, 6), 30, dtype=torch.int64)
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    mask[..., ::2, :] = 1
    delta = torch.ones(1, 4, 1, 1, dtype=torch.float64)
    plain = torch.round(r)
    free = rdoq_symbols(r, index, mask, delta, torch.zeros(1, 4, 1, 1, dtype=torch.float64), bundle.tables,
                        Rdoq(10.0))
    costly = rdoq_symbols(r, index, mask, delta, torch.full((1, 4, 1, 1), 1e6, dtype=torch.float64),
                          bundle.tables, Rdoq(10.0))
    inside = mask.expand_as(r).bool()
    # Distortion free: every nonzero symbol in the pass moves one step towards zero; nothing else moves.
    assert torch.equal(free[inside], plain[inside] - torch.sign(plain[inside]))
    assert torch.equal(free[~inside], plain[~inside])
    # Distortion prohibitive: plain rounding.
    assert torch.equal(costly, plain)


def test_synthesis_gains_match_the_jacobian_of_a_linear_synthesis():
    torch.manual_seed(1)
    g_s = nn.ConvTranspose2d(8, 3, 5, stride=2, padding=2, output_padding=1, bias=False)
    y = torch.randn(1, 8, 24, 24)
    gains = synthesis_gains(g_s, y, margin=2).view(-1)
    # A unit impulse in channel c at an interior position adds the squared kernel of channel c.
    exact = (g_s.weight.detach().double() ** 2).sum(dim=(1, 2, 3))
    assert torch.allclose(gains, exact, rtol=0.15)


def test_config_default_is_the_library_default_and_negative_scales_are_refused():
    from bitstream.errors import InputError
    from hybridcodec.config import EncoderConfig
    from nntools.encoder.rdoq import RDOQ_SCALE
    assert EncoderConfig().nn_rdoq_scale == RDOQ_SCALE
    with pytest.raises(InputError, match="nn_rdoq_scale"):
        EncoderConfig(nn_rdoq_scale=-1.0)
