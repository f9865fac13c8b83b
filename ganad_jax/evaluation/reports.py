"""A run's report (report.json, report.md) and its plots: ROC, score histogram, examples with
anomaly maps, generated samples."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn import metrics as skm

from ganad_jax.evaluation.metrics import Threshold
from ganad_jax.evaluation.pixel import PRO_MAX_FPR
from ganad_jax.runfolder import write_text
from ganad_jax.scoring import ScoreArrays


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
    ]
    heads = report["heads"]
    oracle = any("oracle_top_k_f1" in m for m in heads.values())
    per_head = any("f1" in m for m in heads.values())  # reports of per-file protocols: ranking only
    columns = ["AUROC", "AUPRC"] + ["F1 (own threshold)"] * per_head + ["oracle top-k F1"] * oracle
    keys = ["auroc", "auprc"] + ["f1"] * per_head + ["oracle_top_k_f1"] * oracle
    lines += [
        "| head | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    lines += [
        f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k in keys) + " |" for name, m in heads.items()
    ]
    if per_head:
        lines += [
            "",
            "Each head's F1 uses its own threshold, the same quantile of its validation scores.",
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
    if "threshold_sensitivity" in report:
        lines += [
            "",
            "Threshold sensitivity (test metrics at other quantiles of the validation normals' "
            "scores; fixed in advance, selects nothing):",
            "",
            "| validation quantile | validation FPR | precision | recall | F1 |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {row['quantile']:g} | {row['validation_fpr']:.4f} | {row['precision']:.4f} "
            f"| {row['recall']:.4f} | {row['f1']:.4f} |"
            for row in report["threshold_sensitivity"]
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


HEADLINE = ("auroc", "auprc", "precision", "recall", "f1", "far", "mar")
"""The metrics a multi-seed report tabulates per seed (where the runs have them)."""


def _numbers(tree: Any, prefix: str = "") -> dict[str, float]:
    """Every number of a report reachable through dicts, by dotted path (lists and text left
    out; booleans are not numbers)."""
    found: dict[str, float] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found |= _numbers(value, f"{path}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found[path] = float(value)
    return found


SPEC_KEYS = ("seed", "config", "data_options", "train", "evaluation", "steps", "planned_steps")
"""Report entries that describe the run rather than measure it (not aggregated)."""


def aggregate_reports(reports: dict[int, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Every metric the reports of `reports` (seed -> report) all hold: its mean, sample
    standard deviation (0 for one seed), min and max over the seeds."""
    numbers = {seed: _numbers(report) for seed, report in reports.items()}
    shared = set.intersection(*(set(n) for n in numbers.values())) if numbers else set()
    result = {}
    for name in sorted(shared):
        if name.split(".")[0] in SPEC_KEYS:
            continue
        values = np.asarray([n[name] for n in numbers.values()])
        result[name] = {
            "mean": float(values.mean()),
            "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
            "min": float(values.min()),
            "max": float(values.max()),
        }
    return result


def write_members_report(out: Path, report: dict[str, Any]) -> None:
    """report.json and report.md of runs trained together (`runs.train_run` with seeds or a
    sweep): for seeds the headline metrics' mean +- sample std (min-max), every head's and the
    per-seed rows; for a sweep a row per value; and the members that diverged."""
    write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    seeds = "seeds" in report
    members = report["seeds"] if seeds else report["values"]
    rows = report["per_seed"] if seeds else report["per_value"]
    title = (
        "seeds " + ", ".join(str(s) for s in members)
        if seeds
        else f"{report['sweep']} = " + ", ".join(members)
    )
    lines = [
        f"# {report['model']} on {report['data']} ({report['protocol']}), {title}",
        "",
        f"{len(rows)} of {len(members)} runs trained in one program"
        + (
            "; mean +- sample standard deviation (min-max) over them. Each seed's run is in "
            "`seed-S/`."
            if seeds
            else f" (seed {report['seed']}). Each value's run is in `{report['sweep']}=VALUE/`."
        ),
        "",
    ]
    if seeds:
        metrics = report["metrics"]
        lines += ["| metric | mean +- std | min-max |", "|---|---|---|"]
        for name in (*HEADLINE, "threshold"):
            if name in metrics:
                m = metrics[name]
                lines.append(
                    f"| {name} | {m['mean']:.4f} +- {m['std']:.4f} "
                    f"| {m['min']:.4f}-{m['max']:.4f} |"
                )
        heads = sorted({name.split(".")[1] for name in metrics if name.startswith("heads.")})
        if heads:
            lines += ["", "| head | AUROC | AUPRC |", "|---|---|---|"]
            for head in heads:
                cells = [metrics.get(f"heads.{head}.{k}") for k in ("auroc", "auprc")]
                shown_cells = [
                    "—" if c is None else f"{c['mean']:.4f} +- {c['std']:.4f}" for c in cells
                ]
                lines.append(f"| {head} | " + " | ".join(shown_cells) + " |")
        lines.append("")
    axis = "seed" if seeds else report["sweep"]
    shown = [name for name in HEADLINE if all(name in row for row in rows)]
    heads = [] if seeds else sorted(set.intersection(*(set(r["heads"]) for r in rows)))
    lines += [
        f"| {axis} | " + " | ".join([*shown, *(f"{h} AUROC" for h in heads)]) + " |",
        "|---" * (len(shown) + len(heads) + 1) + "|",
    ]
    lines += [
        f"| {row[axis]} | "
        + " | ".join(
            [f"{row[k]:.4f}" for k in shown] + [f"{row['heads'][h]['auroc']:.4f}" for h in heads]
        )
        + " |"
        for row in rows
    ]
    for member, why in report["diverged"].items():
        lines.append(f"\n{axis} {member} diverged and is left out: {why}.")
    seconds = report["train_seconds"]
    lines += ["", f"Training time of the whole program: {seconds:.1f} s.", ""]
    lines += [f"![{name}](plots/{name}.png)" for name in report.get("plots", [])]
    write_text(out / "report.md", "\n".join(lines) + "\n")


def plot_member_rocs(
    out_dir: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], name: str
) -> str:
    """One ROC figure, `name`.png, with a curve per run (its name -> (test labels, test
    scores)); returns `name`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 4))
    for label, (labels, scores) in curves.items():
        fpr, tpr, _ = skm.roc_curve(np.asarray(labels).astype(int), scores)
        ax.plot(fpr, tpr, lw=1, label=f"{label}: AUROC {skm.auc(fpr, tpr):.3f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.5)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC per run")
    ax.legend(loc="lower right", fontsize="small")
    fig.savefig(out_dir / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return name


def plot_training_curve(
    out_dir: Path, steps: list[int], validation: list[float], test_auroc: list[float]
) -> str:
    """The training curve of a run (`--set curve_every=N`): the mean score of the validation
    normals (no labels) and, labelled as a diagnostic that selects nothing, the test AUROC, at
    each logged step; returns its name."""
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_training_curves(out_dir / "training_curve.png", {"": (steps, validation, test_auroc)})
    return "training_curve"


def plot_training_curves(
    path: Path, curves: Mapping[str, tuple[list[int], list[float], list[float]]]
) -> None:
    """Training curves (steps, validation normals' mean score, diagnostic test AUROC) side by
    side in one figure at `path`, one line per entry, labelled by its key (unlabelled where the
    key is empty, and a lone curve keeps the two panels' own colours)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3) if len(curves) == 1 else (11, 4))
    for label, (steps, validation, test_auroc) in curves.items():
        colour = {"color": "tab:red"} if len(curves) == 1 else {}
        left.plot(steps, validation, marker=".", label=label or None)
        right.plot(steps, test_auroc, marker=".", label=label or None, **colour)
    left.set(xlabel="step", ylabel="mean score", title="Validation normals (no labels)")
    right.set(xlabel="step", ylabel="AUROC", title="Diagnostic: test AUROC (selects nothing)")
    if any(curves):
        right.legend(fontsize="x-small", loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
