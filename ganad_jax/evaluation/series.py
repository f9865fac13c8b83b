"""Time-series evaluation on top of `ganad_jax.data` windows: PCA fitted on training points,
window/step scores mapped back to time points, point-wise and window-level metrics with a
validation (or training) threshold, the point-adjusted F1 as a labelled oracle, alarm rates, two
baselines (a PCA residual, the Q statistic, and the distance to the nearest training window), and
metrics pooled over folds (SKAB's leaderboard protocol
fits one model per labelled file: `ganad_jax.data` "skab", `runs.train_run`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ganad_jax.data import Dataset, Split, Windows
from ganad_jax.data.preprocess import fit_projection
from ganad_jax.evaluation.metrics import fit_threshold, ranking_metrics, threshold_metrics
from ganad_jax.scoring import ScoreArrays


def fit_pca(points: np.ndarray, components: int) -> Callable[[np.ndarray], np.ndarray]:
    """A projection (..., D) -> (..., k) onto the top `components` principal axes of training
    points (L, D), centred with their mean; fit it on training data only
    (`ganad_jax.data.preprocess.fit_projection`, what the series option `pca_components` fits)."""
    try:
        return fit_projection(points, components)
    except ValueError as err:  # DataError is a ValueError
        raise ValueError(str(err)) from None


def with_pca(dataset: Dataset, components: int) -> Dataset:
    """The data set with every window's features projected by a PCA fitted on training points
    (in memory only: the data option `pca_components` also saves it with a run's preprocessing)."""
    project = fit_pca(dataset.train.x.reshape(-1, dataset.train.x.shape[-1]), components)
    splits = {
        part: dataclasses.replace(split, x=project(split.x))
        for part, split in dataset.splits().items()
    }
    return dataclasses.replace(
        dataset, **splits, options={**dataset.options, "pca_components": components}
    )


def step_point_scores(windows: Windows, step_scores: np.ndarray) -> list[np.ndarray]:
    """Per run, each point's score: the mean over the windows covering it of the score each gave
    that time step; `step_scores` is (N, T) (or an (N, T, D) map, averaged over features)."""
    step_scores = np.asarray(step_scores, np.float64)
    if step_scores.ndim == 3:
        step_scores = step_scores.mean(axis=2)
    if step_scores.shape != (len(windows.run), windows.length):
        raise ValueError(
            f"expected ({len(windows.run)}, {windows.length}) step scores, got {step_scores.shape}"
        )
    out = []
    for r, labels in enumerate(windows.labels):
        mine = windows.run == r
        total, count = np.zeros(len(labels)), np.zeros(len(labels))
        for offset in range(windows.length):  # the starts of one run are distinct
            points = windows.start[mine] + offset
            total[points] += step_scores[mine, offset]
            count[points] += 1
        out.append(total / np.maximum(count, 1))
    return out


def point_adjust(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Point-adjusted predictions (an ORACLE: uses test labels): a true anomaly segment with any
    detected point counts as detected in full."""
    labels, adjusted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool).copy()
    edges = np.diff(np.concatenate([[0], labels.astype(np.int8), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return adjusted.astype(np.int8)


def alarm_rates(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """False-alarm rate FP / (FP + TN) and missed-alarm rate FN / (FN + TP), as SKAB reports."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    fp, tn = np.sum(predicted & ~labels), np.sum(~predicted & ~labels)
    fn, tp = np.sum(~predicted & labels), np.sum(predicted & labels)
    return {"far": float(fp / max(fp + tn, 1)), "mar": float(fn / max(fn + tp, 1))}


def point_metrics(
    labels: np.ndarray, scores: np.ndarray, threshold: float, oracle: bool = True
) -> dict[str, float]:
    """Point-wise AUROC, AUPRC, precision/recall/F1 and FAR/MAR at `threshold`, and (labelled
    `oracle_`) the point-adjusted F1 at the same threshold."""
    predicted = np.asarray(scores) > threshold
    result = {
        **ranking_metrics(labels, scores),
        **threshold_metrics(labels, scores, threshold),
        **alarm_rates(labels, predicted),
    }
    if oracle:
        adjusted = point_adjust(labels, predicted)
        result["oracle_point_adjusted_f1"] = threshold_metrics(labels, adjusted, 0.5)["f1"]
    return result


def evaluate_windows(
    reference: tuple[Windows, np.ndarray, np.ndarray],
    test: tuple[Windows, np.ndarray, np.ndarray],
    quantile: float,
    source: str,
    labels: np.ndarray,
) -> dict[str, Any]:
    """Point-wise and window-level metrics of one score head.

    `reference` and `test` are (windows, window scores (N,), step scores (N, T[, D])); thresholds
    are the `quantile` of the reference (validation or training normals, named by `source`)
    point scores and window scores; `labels` are the test windows' labels.
    """
    ref_points = np.concatenate(step_point_scores(reference[0], reference[2]))
    test_points = np.concatenate(step_point_scores(test[0], test[2]))
    point_threshold = fit_threshold(ref_points, quantile, f"{source} points")
    window_threshold = fit_threshold(reference[1], quantile, f"{source} windows")
    window = {
        **ranking_metrics(labels, test[1]),
        **threshold_metrics(labels, test[1], window_threshold.value),
    }
    return {
        "point": point_metrics(np.concatenate(test[0].labels), test_points, point_threshold.value),
        "window": window,
        "threshold_source": point_threshold.source,
    }


def pca_residual_scores(
    train_points: np.ndarray, points: np.ndarray, variance: float = 0.9
) -> np.ndarray:
    """Baseline: each point's squared residual after projecting onto the principal axes that keep
    `variance` of the training points' variance (the Q statistic / SPE)."""
    train_points = np.asarray(train_points, np.float64)
    mean = train_points.mean(axis=0)
    _, s, vt = np.linalg.svd(train_points - mean, full_matrices=False)
    explained = np.cumsum(s**2) / max(np.sum(s**2), 1e-12)
    k = int(np.searchsorted(explained, variance) + 1)
    centred = np.asarray(points, np.float64) - mean
    residual = centred - centred @ vt[:k].T @ vt[:k]
    return np.sum(residual**2, axis=-1)


NN_CHUNK_VALUES = 1 << 24
"""At most this many float64 distances (128 MiB) are held at once by `nearest_window_distances`."""


def nearest_window_distances(
    reference: np.ndarray,
    queries: np.ndarray,
    exclude: tuple[Windows, Windows] | None = None,
    chunk_values: int = NN_CHUNK_VALUES,
) -> np.ndarray:
    """Baseline: each query window's Euclidean distance (over all T x D values) to its nearest
    reference window, (N,) float64, computed in chunks of queries.

    With `exclude` = (reference windows, query windows) a pair is skipped where both windows lie
    in the same run and overlap (|start_i - start_j| < window length): the leave-one-out distance
    of training windows to the other training windows. A query with no reference left gets inf.
    """
    ref = np.asarray(reference, np.float64).reshape(len(reference), -1)
    out = np.full(len(queries), np.inf)
    if not len(ref) or not len(queries):
        return out
    ref_sq = np.sum(ref**2, axis=1)
    chunk = max(1, chunk_values // len(ref))
    for begin in range(0, len(queries), chunk):
        q = np.asarray(queries[begin : begin + chunk], np.float64).reshape(-1, ref.shape[1])
        squared = np.sum(q**2, axis=1)[:, None] + ref_sq[None, :] - 2.0 * (q @ ref.T)
        if exclude is not None:
            ref_w, query_w = exclude
            run, start = query_w.run[begin : begin + chunk], query_w.start[begin : begin + chunk]
            same_run = run[:, None] == ref_w.run[None, :]
            near = np.abs(start[:, None] - ref_w.start[None, :]) < query_w.length
            squared[same_run & near] = np.inf
        out[begin : begin + len(q)] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def baseline_point_scores(
    train: Split, reference: Split, test: Split, leave_one_out: bool
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The baselines' point scores of the threshold `reference` split and of the `test` split,
    all (runs concatenated), as (reference, test) per baseline, on the model's input features:

    - "pca_q": `pca_residual_scores` of each point, axes fitted on the `reference` points where
      `leave_one_out` (they are the training points) and on the `train` points otherwise;
    - "window_nn": each window's `nearest_window_distances` to the `train` windows, a point's
      score the mean over the windows covering it (as the model's window heads map to points).
      With `leave_one_out` the reference windows are training windows themselves, so their
      distances skip the training windows that overlap them.
    """
    pca_fit = split_points(reference if leave_one_out else train)
    exclude = (train.windows, reference.windows) if leave_one_out else None
    ref_nn = nearest_window_distances(train.x, reference.x, exclude)
    test_nn = nearest_window_distances(train.x, test.x)
    return {
        "pca_q": (
            pca_residual_scores(pca_fit, split_points(reference)),
            pca_residual_scores(pca_fit, split_points(test)),
        ),
        "window_nn": (
            np.concatenate(reference.windows.point_scores(ref_nn, reduce="mean")),
            np.concatenate(test.windows.point_scores(test_nn, reduce="mean")),
        ),
    }


def baseline_metrics(dataset: Dataset, quantile: float) -> dict[str, dict[str, float]]:
    """Point metrics of each baseline of `baseline_point_scores` on a windowed data set with one
    model (the `time-series` protocol): fitted on its training windows, thresholded at the
    `quantile` of its validation points' scores (no test data)."""
    labels = np.concatenate(dataset.test.windows.labels)
    out = {}
    scores = baseline_point_scores(dataset.train, dataset.validation, dataset.test, False)
    for name, (reference, test) in scores.items():
        threshold = fit_threshold(reference, quantile, "validation points").value
        out[name] = point_metrics(labels, test, threshold, oracle=False)
    return out


def head_steps(scores: ScoreArrays, head: str) -> np.ndarray:
    """Per-step scores (N, T[, D]) of one head: the anomaly map (MAD-GAN's DR map) for the
    default head, else the window score repeated over the window's time steps."""
    if scores.anomaly_map is None:
        raise ValueError("head_steps needs the anomaly maps: score with keep_maps=True")
    if head == scores.default:
        return scores.anomaly_map
    steps = scores.anomaly_map.shape[1]
    return np.repeat(np.asarray(scores.heads[head])[:, None], steps, axis=1)


def split_points(split: Split) -> np.ndarray:
    """The (L, D) points of a windowed split, rebuilt from its windows (runs concatenated)."""
    w = split.windows
    out = []
    for r, labels in enumerate(w.labels):
        points = np.zeros((len(labels), split.x.shape[-1]), np.float32)
        for i in np.flatnonzero(w.run == r):
            points[w.start[i] : w.start[i] + w.length] = split.x[i]
        out.append(points)
    return np.concatenate(out)


def pooled_metrics(
    labels: Sequence[np.ndarray],
    scores: Sequence[np.ndarray],
    predicted: Sequence[np.ndarray],
    oracle: bool = True,
) -> dict[str, float]:
    """Point metrics over all test points of all folds, as SKAB pools them: decisions made per
    fold (each with its own threshold), AUROC/AUPRC of the pooled scores."""
    labels, scores = np.concatenate(labels), np.concatenate(scores)
    predicted = np.concatenate(predicted).astype(float)
    return {**point_metrics(labels, predicted, 0.5, oracle), **ranking_metrics(labels, scores)}


def summarise(rows: Sequence[dict[str, float]], keys: Sequence[str]) -> dict[str, str]:
    """'mean +- std' over rows (e.g. seeds) for each key."""
    return {
        k: f"{np.mean([r[k] for r in rows]):.3f} +- {np.std([r[k] for r in rows]):.3f}"
        for k in keys
    }
