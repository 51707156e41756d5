"""Exactness on real pictures: every picture of dev and dev-screen, cropped to an awkward size, host
mode at QP 22/27/32/37 in 4:2:0, 4:4:4 and gray, hybrid mode at QP 27 and 37 in 4:2:0.  Uses ../shared/data (or $HYBRIDCODEC_DATA) when present; the full-size run over
all QPs is benchmarks/exactness.py."""
import os
from pathlib import Path

import numpy as np
import pytest

from hybridcodec import Encoder, EncoderConfig, decode
from hybridcodec.imageio import read_image
from nntools.training.data import list_images

ROOT = Path(os.environ.get("HYBRIDCODEC_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PICTURES = [p for folder in ("dev", "dev-screen") if (ROOT / folder).is_dir() for p in list_images(ROOT / folder)]
QPS = (22, 27, 32, 37)

pytestmark = pytest.mark.slow


def crop_of(index: int) -> np.ndarray:
    rgb = read_image(PICTURES[index])
    h, w = rgb.shape[:2]
    return rgb[h // 3:h // 3 + 72, w // 3:w // 3 + 140]           # 72 x 140: not a CTU multiple


def assert_exact(image: np.ndarray, cfg: EncoderConfig) -> None:
    result = Encoder(cfg).encode(image)
    assert np.array_equal(decode(result.bitstream), result.reconstruction)


@pytest.mark.skipif(not PICTURES, reason=f"no dev pictures under {ROOT}")
@pytest.mark.parametrize("index", range(len(PICTURES)))
@pytest.mark.parametrize("fmt", ["420", "444", "gray"])
@pytest.mark.parametrize("qp", QPS)
def test_dev_picture_crop(index, fmt, qp):
    crop = crop_of(index)
    image = np.round(crop.astype(np.float64).mean(axis=-1)).astype(np.uint8) if fmt == "gray" else crop
    assert_exact(image, EncoderConfig(qp=qp, mode="host", chroma_format="444" if fmt == "444" else "420"))


@pytest.mark.skipif(not PICTURES, reason=f"no dev pictures under {ROOT}")
@pytest.mark.parametrize("index", range(len(PICTURES)))
@pytest.mark.parametrize("qp", (27, 37))
def test_dev_picture_crop_hybrid(index, qp):
    assert_exact(crop_of(index), EncoderConfig(qp=qp, mode="hybrid"))
