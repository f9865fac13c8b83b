"""Metrics and thresholds with provenance.

Thresholds are fitted on validation (held-back training normals) or training scores, never on test.
Oracle metrics (best F1 over test thresholds, top-k at the known anomaly ratio) are computed only on
request and are labelled "oracle" wherever they appear.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sklearn import metrics as skm

from ganad_jax.scoring import ScoreArrays


@dataclasses.dataclass(frozen=True)
class Threshold:
    """A decision threshold (score > value is an anomaly) and where it came from."""

    value: float
    source: str


def fit_threshold(scores: np.ndarray, quantile: float, source: str) -> Threshold:
    """The `quantile` of normal scores (`source` names them, e.g. "validation normals")."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"threshold quantile must be in (0, 1), got {quantile}")
    if len(scores) == 0:
        raise ValueError(f"cannot fit a threshold on an empty set ({source})")
    value = float(np.quantile(scores, quantile))
    return Threshold(value, f"{source}, {quantile:g} quantile (n={len(scores)})")


def ranking_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC (average precision, anomalies positive)."""
    labels = np.asarray(labels).astype(int)
    if labels.min() == labels.max():
        raise ValueError("the test set must hold both normal and anomalous samples")
    return {
        "auroc": float(skm.roc_auc_score(labels, scores)),
        "auprc": float(skm.average_precision_score(labels, scores)),
    }


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of `scores > threshold` against `labels`."""
    predicted = np.asarray(scores) > threshold
    p, r, f, _ = skm.precision_recall_fscore_support(
        np.asarray(labels).astype(int), predicted.astype(int), average="binary", zero_division=0
    )
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


SENSITIVITY_QUANTILES = (0.95, 0.975, 0.99, 0.995)
"""The validation quantiles of every report's threshold sensitivity table, fixed before any run."""


def threshold_sensitivity(
    reference: np.ndarray, labels: np.ndarray, scores: np.ndarray
) -> list[dict[str, float]]:
    """Precision, recall and F1 on the test set at each quantile of `SENSITIVITY_QUANTILES` of
    the `reference` normals' scores (the validation normals), with the share of those normals
    above it ("validation_fpr"). It shows how much the reported F1 depends on the threshold's
    quantile and selects nothing; the 0.99 row is the recall at 1 % false positives on
    validation."""
    reference = np.asarray(reference)
    rows = []
    for quantile in SENSITIVITY_QUANTILES:
        threshold = float(np.quantile(reference, quantile))
        rows.append(
            {
                "quantile": quantile,
                "threshold": threshold,
                "validation_fpr": float(np.mean(reference > threshold)),
                **threshold_metrics(labels, scores, threshold),
            }
        )
    return rows


def oracle_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Metrics that look at test labels to choose a threshold (labelled oracle; opt-in only):
    best F1 over all test thresholds, and F1 with the top-k scores flagged at the known ratio."""
    labels = np.asarray(labels).astype(int)
    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    k = int(labels.sum())
    top_k = np.zeros_like(labels)
    top_k[np.argsort(-np.asarray(scores), kind="stable")[:k]] = 1
    _, _, f_top, _ = skm.precision_recall_fscore_support(labels, top_k, average="binary")
    return {"oracle_best_f1": float(f1.max()), "oracle_top_k_f1": float(f_top)}


def evaluate_scores(
    labels: np.ndarray,
    test: ScoreArrays,
    validation: ScoreArrays,
    quantile: float,
    oracle: bool = False,
) -> dict[str, Any]:
    """All metrics of the default head, its threshold at the `quantile` of the validation
    normals' scores and the threshold sensitivity table; and for every head (the default one
    too) its ranking metrics, the threshold metrics at its own `quantile` of the validation
    normals and, with `oracle`, its oracle metrics."""
    threshold = fit_threshold(validation.value, quantile, "validation normals")
    result: dict[str, Any] = {
        **ranking_metrics(labels, test.value),
        **threshold_metrics(labels, test.value, threshold.value),
        "threshold": threshold.value,
        "threshold_source": threshold.source,
        "score_head": test.default,
        "threshold_sensitivity": threshold_sensitivity(validation.value, labels, test.value),
        "heads": {},
    }
    for name, values in test.heads.items():
        head_threshold = fit_threshold(validation.heads[name], quantile, "validation normals")
        result["heads"][name] = {
            **ranking_metrics(labels, values),
            **threshold_metrics(labels, values, head_threshold.value),
            "threshold": head_threshold.value,
            **(oracle_metrics(labels, values) if oracle else {}),
        }
    if oracle:
        result["oracle"] = oracle_metrics(labels, test.value)
    return result
