"""Small shared pieces of the tests: tiny configs and inputs for each detector."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from ganad_jax import detectors

TABULAR_FEATURES = 10
SERIES_FEATURES = 3


def tiny_config(name: str, **overrides):
    """The detector's tiny config (small networks for fast compiles), with overrides."""
    detector = detectors.get(name)
    return detector.config_cls(**{**detector.tiny, **overrides})


def cases() -> list[tuple[str, str]]:
    """(detector, modality) for every registered detector and every kind of data it takes."""
    return [(name, m) for name in detectors.names() for m in detectors.get(name).modalities]


def case_params() -> list:
    """`cases()` as pytest params ("name/modality"): a detector's image case is marked slow
    where it also takes tables, so the fast tier (`-m "not slow"`) meets every detector once, on
    the data it compiles fastest for, and the whole suite on all of them."""
    params = []
    for name, modality in cases():
        slow = modality == "image" and len(detectors.get(name).modalities) > 1
        marks = (pytest.mark.slow,) if slow else ()
        params.append(pytest.param((name, modality), id=f"{name}/{modality}", marks=marks))
    return params


def sample_inputs(name: str, config, n: int, seed: int = 0, modality: str | None = None):
    """Random inputs of the given modality (default: the detector's first) in [-1, 1]."""
    modality = modality or detectors.get(name).modalities[0]
    rng = np.random.default_rng(seed)
    if modality == "image":
        shape = (n, config.image_size, config.image_size, 1)
    elif modality == "tabular":
        shape = (n, TABULAR_FEATURES)
    else:
        shape = (n, config.window, SERIES_FEATURES)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def trees_equal(a, b) -> bool:
    """Bitwise equality of two pytrees of arrays."""
    leaves = jax.tree.leaves(
        jax.tree.map(lambda x, y: np.array_equal(np.asarray(x), np.asarray(y)), a, b)
    )
    return all(leaves)


def replace(obj, **changes):
    """dataclasses.replace, for frozen detectors and configs."""
    return dataclasses.replace(obj, **changes)
