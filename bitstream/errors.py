"""Exception types of the project.

Every failure a user can provoke with bad input surfaces as one of these, never as a NumPy/torch error
deep inside the codec.
"""


class CodecError(Exception):
    """Base class of every error raised on purpose by hybridcodec."""


class BitstreamError(CodecError, ValueError):
    """The bitstream is malformed, truncated, or uses a feature this decoder does not support."""


class ModelMismatchError(BitstreamError):
    """The bitstream was produced with neural-tool weights other than the ones loaded."""


class InputError(CodecError, ValueError):
    """An input picture or an option is unusable (wrong dtype, shape, size, NaN, ...)."""
