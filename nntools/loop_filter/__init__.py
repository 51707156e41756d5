"""The neural in-loop filter as the decoder runs it (docs/SYNTAX.md §9).

Its encoder decisions are in ``nntools.encoder.loop_filter``, its training in ``nntools.training``.
"""
