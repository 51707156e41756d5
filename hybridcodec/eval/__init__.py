"""Evaluation: anchors, metrics, BD-rate and RD experiments."""
