"""Time-series evaluation on top of `ganad_jax.data` windows: PCA fitted on training points,
window/step scores mapped back to time points, point-wise and window-level metrics with a
validation (or training) threshold, the point-adjusted F1 as a labelled oracle, alarm rates, a
PCA residual (Q statistic) baseline, and metrics pooled over folds (SKAB's leaderboard protocol
fits one model per labelled file: `ganad_jax.data` "skab", `runs.train_run`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ganad_jax.data import Dataset, Split, Windows
from ganad_jax.evaluation.metrics import fit_threshold, ranking_metrics, threshold_metrics
from ganad_jax.scoring import ScoreArrays


def fit_pca(points: np.ndarray, components: int) -> Callable[[np.ndarray], np.ndarray]:
    """A projection (..., D) -> (..., k) onto the top `components` principal axes of training
    points (L, D), centred with their mean; fit it on training data only."""
    points = np.asarray(points, np.float64)
    if not 1 <= components <= points.shape[-1]:
        raise ValueError(f"components must be in [1, {points.shape[-1]}], got {components}")
    mean = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - mean, full_matrices=False)
    axes = vt[:components].T

    def project(x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - mean) @ axes).astype(np.float32)

    return project


def with_pca(dataset: Dataset, components: int) -> Dataset:
    """The data set with every window's features projected by a PCA fitted on training points."""
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
