"""Flax Linen building blocks shared by the detectors."""
