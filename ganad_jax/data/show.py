"""`ganad data list` and `ganad data show NAME`: the registry as a table, one data set at a glance.

Figures are drawn with matplotlib's Agg canvas directly (no pyplot, no global backend change).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganad_jax import data

GRID = 8
"""Samples per row of an image grid (two rows of training images, two of test anomalies)."""

SEED = 0
"""Seed of the examples drawn for a figure, so `ganad data show` draws the same ones each time."""


def show(name: str, out_dir: Path, image_size: int | None = None, **options: Any) -> dict:
    """Load `name`, return its summary and write a figure of samples (or a series) to `out_dir`."""
    ds = data.load(name, image_size=image_size, **options)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name).strip('_')}.png"
    draw = {"image": _image_grid, "series": _series_plot, "tabular": _projection}[ds.modality]
    figure = draw(ds)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=100)
    return {**ds.summary(), "figure": str(path)}


def _image_grid(ds: data.Dataset) -> Figure:
    """Two rows of training images, then two rows of test anomalies with their mask outlines."""
    normal = ds.train.x[_spread(np.arange(len(ds.train)), ds.train.classes, 2 * GRID)]
    anomalous = _spread(np.flatnonzero(ds.test.y == 1), ds.test.classes, 2 * GRID)
    figure = Figure(figsize=(GRID * 1.2, 4 * 1.3))
    for row, (title, images, masks) in enumerate(
        (
            ("train (normal)", normal, None),
            (
                "test anomalies",
                ds.test.x[anomalous],
                None if ds.test.masks is None else ds.test.masks[anomalous],
            ),
        )
    ):
        for i in range(2 * GRID):
            axis = figure.add_subplot(4, GRID, row * 2 * GRID + i + 1)
            axis.set_axis_off()
            if i >= len(images):
                continue
            pixels = (images[i] + 1) / 2
            axis.imshow(
                pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray", vmin=0, vmax=1
            )
            if masks is not None and masks[i].any():
                axis.contour(masks[i], levels=[0.5], colors="red", linewidths=0.6)
            if i == 0:
                axis.set_title(title, fontsize=8, loc="left")
    figure.suptitle(f"{ds.name} ({ds.protocol})")
    return figure


def _spread(candidates: np.ndarray, classes: np.ndarray | None, count: int) -> np.ndarray:
    """Up to `count` of the `candidates` indices, drawn with `SEED` in turn from each class.

    Splits are often sorted by class, so the first rows would all show one class; where the
    classes are unknown the draw is uniform.
    """
    rng = np.random.default_rng(SEED)
    if classes is None:
        return rng.permutation(candidates)[:count]
    mine = classes[candidates]
    per_class = [rng.permutation(candidates[mine == c]) for c in np.unique(mine)]
    picks = (drawn[i] for i in range(count) for drawn in per_class if i < len(drawn))
    return np.fromiter(itertools.islice(picks, count), dtype=np.int64)


def _series_plot(ds: data.Dataset) -> Figure:
    """The first test run (scaled features, up to eight) with its anomalous points shaded."""
    windows = ds.test.windows
    mine = np.flatnonzero(windows.run == 0)
    labels = windows.labels[0]
    points = np.zeros((len(labels), ds.test.x.shape[-1]), np.float32)
    for i in mine:
        points[windows.start[i] : windows.start[i] + windows.length] = ds.test.x[i]
    figure = Figure(figsize=(10, 4))
    axis = figure.add_subplot()
    axis.plot(points[:, :8], linewidth=0.6)
    low, high = axis.get_ylim()
    axis.fill_between(np.arange(len(labels)), low, high, where=labels > 0, color="red", alpha=0.15)
    axis.set_title(f"{ds.name}: test run {windows.run_names[0]} (red: anomalous points)")
    axis.set_xlabel("time step")
    return figure


def _projection(ds: data.Dataset) -> Figure:
    """Test rows on the first two principal axes of the training rows, anomalies in red."""
    mean = ds.train.x.mean(axis=0)
    _, _, axes = np.linalg.svd(ds.train.x - mean, full_matrices=False)
    xy = (ds.test.x - mean) @ axes[:2].T
    figure = Figure(figsize=(6, 5))
    axis = figure.add_subplot()
    for label, colour, name in ((0, "tab:blue", "normal"), (1, "tab:red", "anomaly")):
        chosen = ds.test.y == label
        axis.scatter(xy[chosen, 0], xy[chosen, 1], s=3, c=colour, label=name, alpha=0.5)
    axis.legend()
    axis.set_title(f"{ds.name}: test rows on the training principal axes")
    return figure
