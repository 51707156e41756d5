"""hybridcodec: a hybrid block-based image codec (host intra codec + learned neural tool per block).

    data = hybridcodec.encode(rgb, qp=32)
    rgb_hat = hybridcodec.decode(data)

Encoder modules (and the encoder's configuration) are imported lazily, so a program that only decodes
loads the normative modules only (tests/test_architecture.py).
"""
from __future__ import annotations

from bitstream.errors import BitstreamError, CodecError, InputError, ModelMismatchError
from hybridcodec.decoder import DecodeResult, decode, decode_full

_ENCODER_NAMES = {"Encoder", "EncodeResult", "EncodeStats"}


def encode(image, qp: int = 32, mode: str = "hybrid", **options) -> bytes:
    """Encode an HxWx3 RGB (or HxW gray) uint8/uint16 picture; options are EncoderConfig fields."""
    from hybridcodec.config import EncoderConfig
    from hybridcodec.encoder import Encoder
    return Encoder(EncoderConfig.from_options(qp=qp, mode=mode, **options)).encode(image).bitstream


def __getattr__(name: str):
    if name in _ENCODER_NAMES:
        from hybridcodec import encoder
        return getattr(encoder, name)
    if name == "EncoderConfig":
        from hybridcodec.config import EncoderConfig
        return EncoderConfig
    raise AttributeError(f"module 'hybridcodec' has no attribute {name!r}")


__all__ = ["encode", "decode", "decode_full", "Encoder", "EncoderConfig", "EncodeResult", "EncodeStats",
           "DecodeResult", "BitstreamError", "CodecError", "InputError", "ModelMismatchError"]
