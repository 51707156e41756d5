"""The neural tools as the decoder runs them (block codec, patches, loop filter); encoder-only code is in
``nntools.encoder``, training in ``nntools.training``."""
