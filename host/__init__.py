"""Conventional intra host codec: partitioning, prediction, transform, quantisation, coefficient coding, deblocking."""
