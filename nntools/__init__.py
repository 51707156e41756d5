"""The neural tools as the decoder runs them: block codec, patches, loop filter.

Encoder-only code is in ``nntools.encoder``, training in ``nntools.training``.
"""
