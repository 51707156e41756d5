"""Encoder-only code of the host codec: RD search and mode decision.  The decoder never imports it."""
