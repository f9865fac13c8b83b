"""`ganad data show`: the image grid shows examples of every class, the same ones each time."""

from __future__ import annotations

import numpy as np
import pytest

from ganad_jax.data import load, show

COUNT = 2 * show.GRID


def _normal_rows(ds) -> list[int]:
    """The training rows drawn, in order, in the "train (normal)" rows of the image grid."""
    rows = ((ds.train.x + 1) / 2).reshape(len(ds.train), -1)
    shown = []
    for axis in show._image_grid(ds).axes[:COUNT]:
        pixels = np.asarray(axis.images[0].get_array()).reshape(-1)
        shown.append(int(np.flatnonzero((rows == pixels).all(axis=1))[0]))
    return shown


@pytest.fixture(scope="module")
def mnist():
    """mnist-embedded by its default protocol: digit 0 is the anomaly, 1-9 are normal."""
    return load("mnist-embedded")


def test_normal_examples_cover_every_normal_class(mnist):
    normal = _normal_rows(mnist)
    classes = mnist.train.classes[normal]
    assert set(classes) == set(np.unique(mnist.train.classes)) == set(range(1, 10))
    counts = np.bincount(classes)[1:]
    assert counts.max() - counts.min() <= 1  # evenly per class
    assert normal == _normal_rows(mnist)  # fixed seed


def test_anomalies_cover_every_anomalous_class():
    ds = load("mnist-embedded", protocol="one-class-normal", normal_class=4)
    picks = show._spread(np.flatnonzero(ds.test.y == 1), ds.test.classes, COUNT)
    assert (ds.test.y[picks] == 1).all()
    assert set(ds.test.classes[picks]) == set(range(10)) - {4}


def test_spread_without_classes_draws_uniformly_with_a_fixed_seed():
    candidates = np.arange(100, 200)
    picks = show._spread(candidates, None, COUNT)
    assert len(set(picks)) == COUNT and set(picks) <= set(candidates)
    assert not np.array_equal(picks, candidates[:COUNT])
    np.testing.assert_array_equal(picks, show._spread(candidates, None, COUNT))


def test_spread_returns_all_of_a_short_split():
    classes = np.array([0, 0, 1])
    picks = show._spread(np.arange(3), classes, COUNT)
    assert sorted(picks) == [0, 1, 2]
