"""Honest evaluation: metrics, thresholds with provenance, reports, plots (scoring is `scoring.py`).

Thresholds are fitted on validation (held-back training normals) or training scores, never on test.
Oracle metrics (best F1 over test thresholds, top-k at the known anomaly ratio) are computed only on
request and are labelled "oracle" wherever they appear.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from ganad_jax.runfolder import write_text
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
    labels: np.ndarray, test: ScoreArrays, threshold: Threshold, oracle: bool = False
) -> dict[str, Any]:
    """All metrics of the default head, plus AUROC/AUPRC of every head."""
    result: dict[str, Any] = {
        **ranking_metrics(labels, test.value),
        **threshold_metrics(labels, test.value, threshold.value),
        "threshold": threshold.value,
        "threshold_source": threshold.source,
        "score_head": test.default,
        "heads": {name: ranking_metrics(labels, values) for name, values in test.heads.items()},
    }
    if oracle:
        result["oracle"] = oracle_metrics(labels, test.value)
    return result


def write_report(run_dir: Path, report: dict[str, Any]) -> None:
    """report.json (machine-readable) and report.md (for people) in the run folder."""
    write_text(run_dir / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    lines = [
        f"# {report['model']} on {report['data']} ({report['protocol']}), seed {report['seed']}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("auroc", "auprc", "precision", "recall", "f1", "far", "mar", "threshold"):
        if key in report:
            lines.append(f"| {key} | {report[key]:.4f} |")
    lines += [
        "",
        f"Threshold source: {report['threshold_source']}. Score head: `{report['score_head']}`.",
        "",
        "| head | AUROC | AUPRC |",
        "|---|---|---|",
    ]
    lines += [
        f"| {name} | {m['auroc']:.4f} | {m['auprc']:.4f} |" for name, m in report["heads"].items()
    ]
    if "pixel_auroc" in report:
        lines += [
            "",
            f"Pixel level (anomaly maps vs test masks): pixel AUROC {report['pixel_auroc']:.4f}, "
            f"PRO (FPR <= {PRO_MAX_FPR:g}, normalised) {report['pro']:.4f}.",
        ]
    if "point" in report:
        point = report["point"]
        lines += [
            "",
            "Point level (each time point's score from the windows covering it, threshold from "
            f"the validation points): AUROC {point['auroc']:.4f}, AUPRC {point['auprc']:.4f}, "
            f"F1 {point['f1']:.4f}, false-alarm rate {point['far']:.4f}, missed-alarm rate "
            f"{point['mar']:.4f}.",
        ]
    for name, baseline in report.get("baseline", {}).items():
        lines += [
            "",
            f"Baseline `{name}` under the same protocol: "
            + ", ".join(f"{k} {v:.4f}" for k, v in baseline.items()),
        ]
    if "folds" in report:
        lines += ["", "| fold | AUROC | F1 | FAR | MAR |", "|---|---|---|---|---|"]
        lines += [
            f"| {name} | {m['auroc']:.4f} | {m['f1']:.4f} | {m['far']:.4f} | {m['mar']:.4f} |"
            for name, m in report["folds"].items()
        ]
    if "oracle" in report:
        lines += [
            "",
            "Oracle metrics (thresholds chosen with test labels; not for model selection):",
        ]
        lines += [f"- {k}: {v:.4f}" for k, v in report["oracle"].items()]
    seconds = report["train_seconds"]
    lines += ["", f"Training time: {'unknown' if seconds is None else f'{seconds:.1f} s'}."]
    if "steps" in report:
        batch = report.get("batch_size_used", report["config"]["batch_size"])
        finished = "" if report["steps"] >= report["planned_steps"] else " (unfinished)"
        lines.append(
            f"Scored after {report['steps']} of {report['planned_steps']} training steps{finished}"
            f", batch {batch}."
        )
    for note in report.get("training_notes", []):
        lines.append(f"{note[0].upper()}{note[1:]}.")
    lines.append("")
    lines += [f"![{name}](plots/{name}.png)" for name in report.get("plots", [])]
    write_text(run_dir / "report.md", "\n".join(lines) + "\n")


def plot_report(
    out_dir: Path,
    labels: np.ndarray,
    test: ScoreArrays,
    threshold: Threshold | None,
    inputs: np.ndarray | None = None,
    masks: np.ndarray | None = None,
) -> list[str]:
    """ROC and PR curves, score histograms by label (with the threshold, where there is one) and,
    for images, a grid of inputs,
    reconstructions, anomaly maps and maps over the inputs (outlined with the defect `masks` when
    given) of the most and least anomalous test samples; returns names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(labels).astype(int)
    scores = test.value
    written = []

    fpr, tpr, _ = skm.roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"AUROC {skm.auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(loc="lower right")
    fig.savefig(out_dir / "roc.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append("roc")

    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(recall, precision, label=f"AP {skm.average_precision_score(labels, scores):.3f}")
    ax.axhline(labels.mean(), color="k", ls="--", lw=0.5)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="lower left")
    fig.savefig(out_dir / "pr.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append("pr")

    fig, ax = plt.subplots(figsize=(5, 3))
    bins = np.histogram_bin_edges(scores, bins=50)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="normal", density=True)
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="anomaly", density=True)
    if threshold is not None:
        ax.axvline(threshold.value, color="k", ls="--", lw=1, label="threshold")
    ax.set(xlabel=f"score ({test.default})", ylabel="density", title="Test scores by label")
    ax.legend()
    fig.savefig(out_dir / "histogram.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append("histogram")

    if inputs is not None and inputs.ndim == 4:
        _plot_examples(out_dir / "examples.png", inputs, labels, test, masks)
        written.append("examples")
    return written


def plot_samples(out_dir: Path, images: np.ndarray) -> str:
    """A square grid of generated images (NHWC in [-1, 1]) as out_dir/samples.png; returns
    "samples"."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    side = int(np.ceil(np.sqrt(len(images))))
    fig, axes = plt.subplots(side, side, figsize=(0.9 * side, 0.9 * side), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            image = np.clip((images[i] + 1) / 2, 0, 1)
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image)
    fig.suptitle("Generated samples", fontsize=8)
    fig.savefig(out_dir / "samples.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "samples"


def _plot_examples(
    path: Path,
    inputs: np.ndarray,
    labels: np.ndarray,
    test: ScoreArrays,
    masks: np.ndarray | None = None,
) -> None:
    import matplotlib.pyplot as plt

    order = np.argsort(test.value, kind="stable")
    picks = list(order[-6:][::-1]) + list(order[:6])
    rows = [("input", inputs)]
    if test.reconstruction is not None:
        rows.append(("reconstruction", test.reconstruction))
    if test.anomaly_map is not None:
        rows.append(("anomaly map", test.anomaly_map))
        rows.append(("overlay", inputs))
        # one colour scale for every overlay, so map intensities compare across samples
        map_range = (float(test.anomaly_map.min()), float(test.anomaly_map.max()))
    fig, axes = plt.subplots(len(rows), len(picks), figsize=(1.3 * len(picks), 1.4 * len(rows)))
    axes = np.atleast_2d(axes)
    for col, i in enumerate(picks):
        for row, (name, images) in enumerate(rows):
            ax = axes[row, col]
            image = images[i]
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            if name == "anomaly map":
                ax.imshow(image, cmap="inferno")
            elif name == "overlay":
                gray = np.clip((image + 1) / 2, 0, 1)
                ax.imshow(gray.mean(axis=-1) if gray.ndim == 3 else gray, cmap="gray")
                ax.imshow(
                    test.anomaly_map[i],
                    cmap="jet",
                    alpha=0.45,
                    vmin=map_range[0],
                    vmax=map_range[1],
                )
                if masks is not None and masks[i].any():
                    ax.contour(masks[i], levels=[0.5], colors="white", linewidths=0.6)
            else:
                ax.imshow(np.clip((image + 1) / 2, 0, 1), cmap="gray" if image.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(name, fontsize=7)
            if row == 0:
                tag = "anomaly" if labels[i] else "normal"
                ax.set_title(f"{tag}\n{test.value[i]:.3g}", fontsize=6)
    fig.suptitle(
        "Most anomalous (left six) and least anomalous (right six) test samples", fontsize=8
    )
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


PRO_MAX_FPR = 0.3
"""PRO is integrated over false-positive rates up to this, as in MVTec AD (Bergmann et al. 2021)."""


def _check_maps(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    masks = np.asarray(masks) > 0
    maps = np.asarray(maps, np.float64)
    if masks.shape != maps.shape or masks.ndim != 3:
        raise ValueError(
            f"masks {masks.shape} and anomaly maps {maps.shape} must both be (N, H, W)"
        )
    if masks.all() or not masks.any():
        raise ValueError("pixel metrics need both defect and defect-free pixels in the masks")
    return masks, maps


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """AUROC of every test pixel's map value against its mask (1 = defect)."""
    masks, maps = _check_maps(masks, maps)
    return float(skm.roc_auc_score(masks.ravel(), maps.ravel()))


def pro_curve(masks: np.ndarray, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FPR, PRO) at every threshold, highest threshold first.

    PRO is the mean, over the connected defect regions of all masks (8-connectivity), of the
    fraction of the region's pixels above the threshold; FPR is the fraction of defect-free
    pixels above it. Computed in one sort: each pixel adds 1 / (region size * regions) to PRO or
    1 / defect-free pixels to FPR once the threshold falls below it.
    """
    from scipy import ndimage

    masks, maps = _check_maps(masks, maps)
    regions = np.zeros(masks.shape, np.int64)
    count = 0
    for i, mask in enumerate(masks):
        labelled, found = ndimage.label(mask, structure=np.ones((3, 3)))
        regions[i] = np.where(labelled > 0, labelled + count, 0)
        count += found
    sizes = np.bincount(regions.ravel())
    weight = np.where(regions > 0, 1.0 / (sizes[regions] * count), 0.0).ravel()
    normal = (~masks).ravel()
    order = np.argsort(-maps.ravel(), kind="stable")
    values = maps.ravel()[order]
    pro = np.minimum(np.cumsum(weight[order]), 1.0)  # rounding may overshoot 1 by an ulp or two
    fpr = np.cumsum(normal[order]) / normal.sum()
    last_of_tie = np.r_[values[1:] != values[:-1], True]  # one point per distinct threshold
    return np.r_[0.0, fpr[last_of_tie]], np.r_[0.0, pro[last_of_tie]]


def pro_score(masks: np.ndarray, maps: np.ndarray, max_fpr: float = PRO_MAX_FPR) -> float:
    """Area under the PRO-FPR curve up to `max_fpr`, divided by `max_fpr` (1 = perfect)."""
    if not 0.0 < max_fpr <= 1.0:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr}")
    fpr, pro = pro_curve(masks, maps)
    end = int(np.searchsorted(fpr, max_fpr, side="right"))  # fpr[end - 1] <= max_fpr < fpr[end]
    pro_at_max = pro[-1]
    if end < len(fpr):  # the curve is linear between thresholds: cut it at max_fpr
        share = (max_fpr - fpr[end - 1]) / (fpr[end] - fpr[end - 1])
        pro_at_max = pro[end - 1] + share * (pro[end] - pro[end - 1])
    fpr = np.r_[fpr[:end], max_fpr]
    pro = np.r_[pro[:end], pro_at_max]
    return float(np.trapezoid(pro, fpr) / max_fpr)


def pixel_metrics(masks: np.ndarray, maps: np.ndarray) -> dict[str, float]:
    """Pixel AUROC and normalised PRO (up to FPR 0.3) of anomaly maps against defect masks."""
    return {"pixel_auroc": pixel_auroc(masks, maps), "pro": pro_score(masks, maps)}
