"""Simple reference detectors, fitted on the training normals of a split, that experiment tables
show beside the GANs (same split, features, thresholds and metrics), so that a reader sees what a
GAN adds. They are not registered detectors and have no run folders.

- "pca": PCA reconstruction error (the Q statistic). Features are standardised with the training
  rows' mean and standard deviation (constant columns only centred), PCA keeps the fewest
  components that explain `PCA_VARIANCE` of the training variance, and a row's score is its
  squared distance to that subspace.
- "iforest": scikit-learn's isolation forest with its defaults (100 trees, 256 rows each) and the
  seed given; a row's score is the negated `score_samples` (higher is more anomalous).
- "knn": the Euclidean distance to the nearest training normal, on the model's inputs as the
  protocol gives them (images in [-1, 1], table features as scaled), computed exactly in blocks
  (`KNN_BLOCK` rows at a time); the seed is unused.

The settings were fixed before any table used them, and nothing is tuned on a test split.
Images are flattened to pixel vectors. Time-series baselines live in `evaluation.series`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ganad_jax import lazy

decomposition = lazy.module("sklearn.decomposition")
ensemble = lazy.module("sklearn.ensemble")

PCA_VARIANCE = 0.9
"""The share of the training variance the PCA baseline's components keep."""
METHODS = ("pca", "iforest", "knn")
KNN_BLOCK = 512
"""Rows whose distances to every training normal the knn baseline computes at once."""

Scorer = Callable[[np.ndarray], np.ndarray]


def fit(method: str, train: np.ndarray, seed: int = 0) -> Scorer:
    """A function from (N, ...) samples to (N,) scores, fitted on the training normals `train`;
    ValueError for an unknown method."""
    if method not in METHODS:
        raise ValueError(f"baseline must be one of {', '.join(METHODS)}, got {method!r}")
    rows = _rows(train)
    if method == "pca":
        return _pca(rows, seed)
    if method == "knn":
        return _nearest(rows)
    forest = ensemble.IsolationForest(random_state=seed).fit(rows)
    return lambda x: -forest.score_samples(_rows(x))


def _rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x.reshape(len(x), -1)


def _pca(rows: np.ndarray, seed: int) -> Scorer:
    mean = rows.mean(axis=0)
    std = rows.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    pca = decomposition.PCA(PCA_VARIANCE, svd_solver="full", random_state=seed)
    pca.fit((rows - mean) / std)
    basis = pca.components_  # (K, D), orthonormal rows

    def score(x: np.ndarray) -> np.ndarray:
        centred = (_rows(x) - mean) / std - pca.mean_
        residual = centred - (centred @ basis.T) @ basis
        return np.einsum("nd,nd->n", residual, residual)

    return score


def _nearest(train: np.ndarray) -> Scorer:
    train = train.astype(np.float32)
    squared = np.einsum("nd,nd->n", train, train)

    def score(x: np.ndarray) -> np.ndarray:
        rows = _rows(x).astype(np.float32)
        out = np.empty(len(rows))
        for start in range(0, len(rows), KNN_BLOCK):
            block = rows[start : start + KNN_BLOCK]
            # |a - b|^2 = |a|^2 - 2 a.b + |b|^2, in float64 for the sum (cancellation)
            dots = (block @ train.T).astype(np.float64)
            own = np.einsum("nd,nd->n", block, block).astype(np.float64)
            nearest = (own[:, None] - 2 * dots + squared[None]).min(axis=1)
            out[start : start + len(block)] = np.sqrt(np.maximum(nearest, 0.0))
        return out

    return score
