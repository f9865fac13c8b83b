"""Data sets by name, each split by a named protocol into train / validation / test.

Every loader returns a `Dataset` of plain numpy arrays. Train and validation hold normal samples only
(validation is held back from the training normals); the test split carries labels (1 = anomaly) and
never depends on the training seed.

Modalities: "image" (NHWC float32 in [-1, 1], test pixel masks where the data set has them),
"tabular" ((N, D) float32 scaled with training statistics) and "series" (sliding windows
(N, T, D) float32, with `Split.windows` mapping window scores back to time points).

Local files are found under `GANAD_DATA_DIR`; decoded arrays are cached in `GANAD_CACHE_DIR`
(default ~/.cache/ganad_jax), never next to the data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganad_jax.errors import GanadError


class DataError(GanadError, ValueError):
    """A data set could not be loaded: missing or broken files, bad options, bad values."""


class DataNotFound(DataError):
    """The files of a data set are not there (a loader may then try another source)."""


@dataclasses.dataclass(frozen=True)
class Windows:
    """Where the windows of a series split lie, to map window scores back to time points.

    Window i covers points `start[i] : start[i] + length` of run `run[i]`; `labels[r]` holds the
    point labels (1 = anomaly) of run r, called `run_names[r]`. Every point of a run is covered by
    at least one window (the last window of a run ends at its last point).
    """

    length: int
    run: np.ndarray
    start: np.ndarray
    labels: tuple[np.ndarray, ...]
    run_names: tuple[str, ...]

    def point_scores(self, scores: np.ndarray, reduce: str = "max") -> list[np.ndarray]:
        """Per run, each point's score: the max (or mean) over the windows that cover it."""
        if reduce not in ("max", "mean"):
            raise ValueError(f"reduce must be 'max' or 'mean', got {reduce!r}")
        scores = np.asarray(scores, np.float64)
        if scores.shape != self.run.shape:
            raise ValueError(f"expected {self.run.shape[0]} window scores, got {scores.shape}")
        out = []
        for r, labels in enumerate(self.labels):
            mine = self.run == r
            starts, values = self.start[mine], scores[mine]
            total = np.full(len(labels), -np.inf if reduce == "max" else 0.0)
            count = np.zeros(len(labels))
            for offset in range(self.length):  # the starts of one run are distinct: no collisions
                points = starts + offset
                if reduce == "max":
                    total[points] = np.maximum(total[points], values)
                else:
                    total[points] += values
                count[points] += 1
            out.append(total if reduce == "max" else total / np.maximum(count, 1))
        return out


@dataclasses.dataclass(frozen=True)
class Split:
    """One split: inputs, labels (0 normal, 1 anomaly) and optional per-sample extras.

    `masks`: (N, H, W) uint8 pixel masks (1 = defect) of image test sets that have them.
    `classes`: the original class of each sample, an index into `Dataset.class_names`.
    `ids`: where each sample comes from (row number in the source or file path), so splits can be
    checked for overlap and results traced back. `windows`: for series, see `Windows`.
    """

    x: np.ndarray
    y: np.ndarray
    masks: np.ndarray | None = None
    classes: np.ndarray | None = None
    ids: np.ndarray | None = None
    windows: Windows | None = None

    def __len__(self) -> int:
        return len(self.x)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A data set after its protocol: modality is "image" (NHWC in [-1, 1]), "tabular" or "series"."""

    name: str
    protocol: str
    modality: str
    train: Split
    validation: Split
    test: Split
    options: dict[str, Any]
    class_names: tuple[str, ...] = ()
    folds: tuple[Dataset, ...] = ()
    """Protocols that fit one model per part (SKAB's leaderboard: one per labelled file) list the
    parts here, each a Dataset of its own; train/validation/test then hold all folds together."""
    preprocessing: Preprocessing | None = None
    """What turns raw inputs (files to score) into this data set's model inputs, fitted on its
    training rows; None where the splits hold several (the folds then carry theirs). Image sets
    get theirs in `load`, from their size, channels and `fit` (nothing is fitted)."""

    def splits(self) -> dict[str, Split]:
        """The three splits by name."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    def summary(self) -> dict[str, Any]:
        """Sizes, anomaly and class counts per split, for reports and `ganad data show`."""
        counts = {}
        for part, split in self.splits().items():
            if split.classes is not None and self.class_names:
                found = np.bincount(split.classes, minlength=len(self.class_names))
                counts[part] = {self.class_names[c]: int(n) for c, n in enumerate(found) if n}
        return {
            "name": self.name,
            "protocol": self.protocol,
            "modality": self.modality,
            "shape": list(self.train.x.shape[1:]),
            **{
                f"{part}_size": len(split)
                for part, split in (
                    ("train", self.train),
                    ("validation", self.validation),
                    ("test", self.test),
                )
            },
            "test_anomalies": int(self.test.y.sum()),
            "options": dict(self.options),
            **({"class_counts": counts} if counts else {}),
            **({"folds": len(self.folds)} if self.folds else {}),
            **(
                {
                    "test_runs": len(self.test.windows.run_names),
                    "test_points": sum(len(p) for p in self.test.windows.labels),
                    "test_anomalous_points": sum(int(p.sum()) for p in self.test.windows.labels),
                }
                if self.test.windows is not None
                else {}
            ),
        }


@dataclasses.dataclass(frozen=True)
class Source:
    """A registered data set: its loader, default protocol options and a one-line description.

    `arg` names the argument of a `name:ARG` data set (e.g. "PATH"); empty when it takes none.
    `protocol` is the protocol it is split by, unless its options hold a "protocol" choice.
    """

    name: str
    load: Callable[..., Dataset]
    defaults: dict[str, Any]
    modality: str
    description: str
    arg: str = ""
    protocol: str = ""
    threshold_quantile: float | None = None
    """The validation quantile runs on this data set threshold at unless told otherwise, where
    its protocol implies one (None: the runs' default, 0.95)."""
    modality_of: Callable[[str], str | None] | None = None
    """For a data set whose modality depends on its file (`npy:PATH`): the modality of the file
    an argument names, read from its header (None where it cannot tell: `modality` then stands,
    and loading reports what is wrong with the file). `get` applies it."""

    def default_protocol(self) -> str:
        """The protocol used when no option changes it."""
        return str(self.defaults.get("protocol", self.protocol))


_SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add a data set to the registry under its name."""
    _SOURCES[source.name] = source
    return source


def names() -> list[str]:
    """Names of all registered data sets."""
    return sorted(_SOURCES)


def get(name: str) -> Source:
    """The registered data set called `name` (a `prefix:ARG` name looks up `prefix`), with the
    modality of the file ARG names where the data set's modality depends on it."""
    key = name.split(":", 1)[0] if ":" in name else name
    if key not in _SOURCES:
        known = ", ".join(f"{n}:{s.arg}" if s.arg else n for n, s in sorted(_SOURCES.items()))
        raise DataError(f"unknown data set {name!r}; known: {known}")
    source = _SOURCES[key]
    if source.modality_of is not None and ":" in name:
        found = source.modality_of(name.split(":", 1)[1])
        source = dataclasses.replace(source, modality=found or source.modality)
    return source


PER_PART_PROTOCOLS = ("leaderboard",)
"""Protocols that fit one model per part of the data set (SKAB's leaderboard: one per file);
their Dataset lists the parts in `folds`."""


def fits_per_part(name: str, options: dict[str, Any]) -> bool:
    """Whether data set `name` with protocol `options` fits one model per part (`folds`)."""
    return str(options.get("protocol", get(name).default_protocol())) in PER_PART_PROTOCOLS


def coerce_options(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """Protocol options for `name`: defaults updated by `options`, each checked for name and type."""
    source = get(name)
    merged = dict(source.defaults)
    for key, value in options.items():
        if key not in source.defaults:
            raise DataError(
                f"data set {source.name!r} has no option {key!r}; "
                f"options: {', '.join(sorted(source.defaults)) or 'none'}"
            )
        merged[key] = _coerce(key, value, source.defaults[key])
    return merged


def _coerce(key: str, value: Any, default: Any) -> Any:
    if default is None or isinstance(value, type(default)) and not isinstance(value, str):
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            raise ValueError
        return type(default)(value)
    except (TypeError, ValueError):
        raise DataError(f"option {key!r} expects {type(default).__name__}, got {value!r}") from None


def load(name: str, *, image_size: int | None = None, **options: Any) -> Dataset:
    """Load data set `name` through its protocol; images are resized to `image_size` if given."""
    source = get(name)
    opts = coerce_options(name, options)
    arg = name.split(":", 1)[1] if ":" in name else None
    if source.arg and not arg:
        raise DataError(f"data set {source.name!r} needs an argument: {source.name}:{source.arg}")
    if arg is not None and not source.arg:
        raise DataError(f"data set {source.name!r} takes no argument, got {name!r}")
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise DataError(f"image_size must be a positive int, got {image_size!r}")
    kwargs: dict[str, Any] = {"image_size": image_size} if source.modality == "image" else {}
    if arg is not None:
        kwargs["arg"] = arg
    ds = source.load(**kwargs, **opts)
    if ds.modality == "image" and ds.preprocessing is None:
        fitted = Preprocessing.for_images(ds.train.x.shape[1:], ds.options.get("fit", "stretch"))
        ds = dataclasses.replace(ds, preprocessing=fitted)
    return ds


def table() -> str:
    """All registered data sets: name, modality, default protocol, description and options."""
    rows = []
    for name in names():
        source = get(name)
        shown = f"{name}:{source.arg}" if source.arg else name
        rows.append((shown, source.modality, source.default_protocol(), source))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'NAME':{width}}  {'MODALITY':8}  {'PROTOCOL':19}  DESCRIPTION"]
    for shown, modality, protocol, source in rows:
        lines.append(f"{shown:{width}}  {modality:8}  {protocol:19}  {source.description}")
        options = " ".join(f"{k}={v}" for k, v in source.defaults.items())
        lines.append(f"{'':{width}}  options: {options or 'none'}")
    return "\n".join(lines)


def data_dir() -> Path:
    """The folder of local data sets: `GANAD_DATA_DIR` (no default: the data are never guessed)."""
    value = os.environ.get("GANAD_DATA_DIR")
    if not value:
        raise DataNotFound(
            "GANAD_DATA_DIR is not set: point it at the folder that holds the data sets "
            "(e.g. mnist/ with the four idx files)"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataNotFound(f"GANAD_DATA_DIR={value!r} is not a folder")
    return path


# Below the classes they use: the modules that register their data sets at import, and
# Preprocessing (for `load`, and as `ganad_jax.data.Preprocessing`).
from ganad_jax.data import defects as _defects  # noqa: E402,F401
from ganad_jax.data import images as _images  # noqa: E402,F401
from ganad_jax.data import series as _series  # noqa: E402,F401
from ganad_jax.data import tabular as _tabular  # noqa: E402,F401
from ganad_jax.data import user as _user  # noqa: E402,F401
from ganad_jax.data.preprocess import Preprocessing  # noqa: E402
