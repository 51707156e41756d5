"""Normative entropy-coding engine, bit I/O and container syntax."""
from bitstream.errors import BitstreamError, CodecError, InputError, ModelMismatchError

__all__ = ["BitstreamError", "CodecError", "InputError", "ModelMismatchError"]
