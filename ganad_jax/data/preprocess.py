"""Preprocessing shared by the loaders: images, tables, series and the fixed-seed splits.

Every statistic (scaling, one-hot categories, imputation medians) is fitted on the training rows
only and then applied to validation and test. `Preprocessing` holds what was fitted, so that raw
inputs of a trained run (new files to score) become model inputs as the test split did; it is
saved as JSON and .npz, without pickle.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganad_jax import lazy
from ganad_jax.data import DataError
from ganad_jax.runfolder import write_text

pd = lazy.module("pandas")  # on first use: `ganad list` starts without pandas

PROTOCOL_SEED = 20240229
"""Seed of every protocol split: fixed, so test sets never move with the training seed."""

FITS = ("stretch", "pad")
SCALINGS = ("standard", "minmax", "none")
IMPUTES = ("none", "median", "drop-columns")


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """uint8 images in [0, 255] to float32 in [-1, 1], with a channel axis (NHWC)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    return (x.astype(np.float32) / 127.5 - 1.0).astype(np.float32)


def resize_images(images: np.ndarray, size: int, fit: str = "stretch") -> np.ndarray:
    """Resize uint8 NHW or NHWC images to size x size with bilinear filtering (as torchvision),
    stretching them or padding them to a square (`fit`, see `fit_square`)."""
    x = np.asarray(images)
    if x.shape[1] == size and x.shape[2] == size:
        return x
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.uint8)

    def resized(plane: np.ndarray) -> np.ndarray:
        return np.asarray(fit_square(Image.fromarray(plane), size, fit, Image.BILINEAR))

    for i, img in enumerate(x):
        if x.shape[-1] in (1, 3):  # PIL resizes L and RGB images in one call
            out[i] = resized(img[..., 0] if x.shape[-1] == 1 else img).reshape(out.shape[1:])
        else:
            for c in range(x.shape[-1]):
                out[i, :, :, c] = resized(img[:, :, c])
    return out[..., 0] if squeeze else out


def prepare_images(images: np.ndarray, image_size: int | None) -> np.ndarray:
    """uint8 NHW(C) images to float32 NHWC in [-1, 1], resized to `image_size` when given."""
    if image_size is not None:
        images = resize_images(images, image_size)
    return to_unit_range(images)


def resize_masks(masks: np.ndarray, size: int) -> np.ndarray:
    """Resize (N, H, W) 0/1 masks to size x size with nearest-neighbour sampling."""
    if masks.shape[1] == size and masks.shape[2] == size:
        return masks
    return np.stack(
        [np.asarray(Image.fromarray(m).resize((size, size), Image.NEAREST)) for m in masks]
    ).astype(np.uint8)


def fit_square(image: Image.Image, size: int, fit: str, resample: int) -> Image.Image:
    """Bring an image to size x size: "stretch" it, or scale its long side and "pad" with zeros."""
    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if fit == "stretch" or image.size[0] == image.size[1]:
        return image.resize((size, size), resample)
    w, h = image.size
    scale = size / max(w, h)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    canvas = Image.new(image.mode, (size, size))
    canvas.paste(image.resize(new, resample), ((size - new[0]) // 2, (size - new[1]) // 2))
    return canvas


def hold_out(n: int, fraction: float, salt: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split range(n) into (kept, held-out) index arrays with the fixed protocol seed."""
    perm = np.random.default_rng(PROTOCOL_SEED + salt).permutation(n)
    n_out = int(round(n * fraction))
    return np.sort(perm[n_out:]), np.sort(perm[:n_out])


def stratified_hold_out(
    labels: np.ndarray, fraction: float, salt: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Like `hold_out`, but holding out `fraction` of every label value separately."""
    kept, held = [], []
    for value in np.unique(labels):
        where = np.flatnonzero(labels == value)
        k, h = hold_out(len(where), fraction, salt)
        kept.append(where[k])
        held.append(where[h])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def check_fraction(name: str, value: float, high: float = 1.0) -> None:
    """DataError unless 0 <= value < high (split fractions)."""
    if not 0.0 <= value < high:
        raise DataError(f"{name} must be in [0, {high:g}), got {value}")


def numeric_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """The frame as float64; DataError naming the first non-numeric value (empty cells are NaN)."""
    out = frame.apply(pd.to_numeric, errors="coerce")
    bad = out.isna() & frame.notna()
    if bad.to_numpy().any():
        col = bad.columns[bad.any(axis=0).to_numpy()][0]
        row = bad.index[bad[col].to_numpy()][0]
        raise DataError(
            f"{where}: column {col!r} holds a non-numeric value {frame.at[row, col]!r} "
            f"(row {row}); expected numbers"
        )
    return out.astype(np.float64)


@dataclasses.dataclass(frozen=True, eq=False)
class Scaler:
    """A feature scaling fitted on training rows: rows (..., D) to (x - shift) / width, float32."""

    method: str
    shift: np.ndarray
    width: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Scale rows (..., D) in float64 and return them as float32."""
        return ((np.asarray(x, np.float64) - self.shift) / self.width).astype(np.float32)


def fit_scaler(train: np.ndarray, how: str) -> Scaler:
    """A feature scaling ("standard", "minmax" to [0, 1] or "none") fitted on the training rows
    (N, D) only.

    Constant training columns are only shifted, never divided by zero.
    """
    train = np.asarray(train, np.float64)
    if how == "none":
        shift, width = np.zeros(train.shape[1:]), np.ones(train.shape[1:])
    elif how == "standard":
        shift, width = train.mean(axis=0), train.std(axis=0)
    elif how == "minmax":
        shift, width = train.min(axis=0), np.ptp(train, axis=0)
    else:
        raise DataError(f"scaling must be one of {', '.join(SCALINGS)}, got {how!r}")
    return Scaler(how, shift, np.where(width > 0, width, 1.0))


@dataclasses.dataclass(frozen=True, eq=False)
class Projection:
    """A PCA fitted on training points: rows (..., D) to (x - mean) @ axes, (..., k) float32.

    `axes` (D, k) are the top k principal axes of the training points, each signed so that its
    largest loading is positive (a fixed sign, whatever the SVD returns)."""

    mean: np.ndarray
    axes: np.ndarray

    @property
    def components(self) -> int:
        """The number k of principal components kept."""
        return int(self.axes.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Project rows (..., D) in float64 and return them as float32 (..., k)."""
        return ((np.asarray(x, np.float64) - self.mean) @ self.axes).astype(np.float32)


def fit_projection(train: np.ndarray, components: int) -> Projection:
    """A projection onto the top `components` principal axes of the training points (N, D),
    centred with their mean; fit it on training points only."""
    train = np.asarray(train, np.float64)
    limit = min(train.shape)
    if not 1 <= components <= limit:
        raise DataError(
            f"pca_components must be in [1, {limit}] for {train.shape[0]} training points of "
            f"{train.shape[1]} features, got {components}"
        )
    mean = train.mean(axis=0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    axes = vt[:components].T
    signs = np.sign(axes[np.argmax(np.abs(axes), axis=0), np.arange(components)])
    return Projection(mean, axes * np.where(signs == 0, 1.0, signs))


def short_list(columns: Sequence[Any], most: int = 8) -> str:
    """The first `most` of `columns`, comma-separated, with " ..." when there are more."""
    return ", ".join(map(str, columns[:most])) + (" ..." if len(columns) > most else "")


@dataclasses.dataclass(frozen=True)
class Imputation:
    """What happens to missing values (NaN): `method` "none" refuses them, "median" fills them
    with the training `medians` of their column, "drop-columns" drops the `dropped` columns."""

    method: str = "none"
    dropped: tuple[str, ...] = ()
    medians: dict[str, float] = dataclasses.field(default_factory=dict)

    def apply(self, frame: pd.DataFrame, where: str) -> pd.DataFrame:
        """`frame` without the dropped columns and with gaps filled; DataError for any gap left."""
        if self.dropped:
            frame = frame.drop(columns=list(self.dropped))
        if self.medians:
            frame = frame.fillna(self.medians)
        missing = list(frame.columns[frame.isna().any(axis=0).to_numpy()])
        if missing:
            raise DataError(
                f"{where}: missing values (NaN) in column(s) {short_list(missing)}, which "
                f"impute={self.method} does not fill"
            )
        return frame


NO_IMPUTATION = Imputation()
"""Missing values refused: the imputation of data that needs none."""


def fit_imputation(
    train: pd.DataFrame, others: Sequence[pd.DataFrame], how: str, where: str
) -> Imputation:
    """Missing values: fail ("none"), fill with training medians, or drop columns with any.

    Medians come from the training rows only. `others` (validation, test) only say which columns
    have gaps, so that "none" fails at once and "drop-columns" drops every column with a gap
    anywhere in the data set, as ODDS does: a choice of columns, never a value fitted on them.
    """
    if how not in IMPUTES:
        raise DataError(f"impute must be one of {', '.join(IMPUTES)}, got {how!r}")
    frames = [train, *others]
    missing = [f.columns[f.isna().any(axis=0).to_numpy()] for f in frames]
    columns = sorted({c for m in missing for c in m}, key=list(train.columns).index)
    if how == "none" and columns:
        raise DataError(
            f"{where}: missing values (NaN) in column(s) {short_list(columns)}; set impute=median "
            "(training medians) or impute=drop-columns to handle them"
        )
    if how != "median":
        return Imputation(how, dropped=tuple(columns) if how == "drop-columns" else ())
    medians = train.median(numeric_only=True)
    empty = [c for c in columns if pd.isna(medians.get(c))]
    if empty:
        raise DataError(
            f"{where}: column(s) {', '.join(map(str, empty))} have no training values to take "
            "a median from; use impute=drop-columns"
        )
    # Every column's median, not only those with gaps here: new rows may miss any value.
    return Imputation(how, medians={c: float(v) for c, v in medians.items() if pd.notna(v)})


@dataclasses.dataclass(frozen=True)
class Categories:
    """A symbolic column one-hot encoded with the `values` its training rows hold (as text,
    sorted); other values encode as all zeros, followed, with `unseen`, by one more indicator
    that is 1 exactly for them (0 on every training row). A `numeric` column's values are compared
    as float64 numbers (the text of each is that of its float), so that 1 and 1.0 are one
    category."""

    column: str
    values: tuple[str, ...]
    numeric: bool
    unseen: bool = False

    @classmethod
    def fit(cls, train: pd.Series, unseen: bool = False) -> Categories:
        """The categories of the training values of one column."""
        numeric = pd.api.types.is_numeric_dtype(train)
        if numeric:
            found = [str(v) for v in np.unique(cls._numbers(train, "training rows"))]
        else:
            found = list(train.astype(str).unique())
        return cls(str(train.name), tuple(sorted(found)), numeric, unseen)

    @property
    def width(self) -> int:
        """The number of features this column encodes to."""
        return len(self.values) + self.unseen

    @staticmethod
    def _numbers(values: pd.Series, where: str) -> np.ndarray:
        # + 0.0 makes -0.0 into 0.0, the one float whose text differs from an equal one's
        return numeric_frame(values.to_frame(), where)[values.name].to_numpy(np.float64) + 0.0

    def encode(self, values: pd.Series, where: str) -> np.ndarray:
        """(N, `width`) float64 indicators of the categories (then of an unseen one)."""
        if self.numeric:
            known = np.array([float(v) for v in self.values])
            hot = self._numbers(values, where)[:, None] == known
        else:
            codes = pd.Index(self.values).get_indexer(values.astype(str))  # -1: unseen
            hot = codes[:, None] == np.arange(len(self.values))
        if self.unseen:
            hot = np.concatenate([hot, ~hot.any(axis=1, keepdims=True)], axis=1)
        return hot.astype(np.float64)


def numbered_columns(count: int) -> tuple[str, ...]:
    """Names "0", "1", ... for the columns of data that has no column names."""
    return tuple(str(i) for i in range(count))


def sliding_windows(x: np.ndarray, window: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, window, D) windows of a (L, D) series every `step` points, plus their start indices.

    A last window ending at the last point is added when `step` does not land there, so every
    point is covered.
    """
    if not 1 <= step <= window:
        raise DataError(f"need 1 <= step <= window, got window={window}, step={step}")
    if len(x) < window:
        raise DataError(f"a series of {len(x)} points is shorter than the window ({window})")
    starts = np.arange(0, len(x) - window + 1, step)
    if starts[-1] != len(x) - window:
        starts = np.append(starts, len(x) - window)
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=0)  # (L-T+1, D, T)
    return np.ascontiguousarray(view[starts].transpose(0, 2, 1)), starts


MODALITIES = ("image", "tabular", "series")
PIXEL_RANGE = (0, 255)
"""The raw pixel values `to_unit_range` maps to [-1, 1]: those of uint8 image files."""
FILE = "preprocessing.json"
ARRAYS = "preprocessing.npz"
_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """Everything fitted on the training data that turns raw inputs into model inputs.

    - "image": uint8 pixels in [0, 255] of `channels` 1 or 3, brought to `image_size` a side
      (bilinear, by `fit` "stretch" or "pad" as the loaders do) when resizing is asked for, then
      mapped to [-1, 1]; float images must already be in [-1, 1] at that size.
    - "tabular": rows with the raw `columns` (in original units), missing values handled by
      `imputation`, the symbolic columns one-hot encoded by `categories` (appended after the
      numeric columns), every feature scaled by `scaler`.
    - "series": windows (N, `window`, len(columns)) of raw points, imputed and scaled likewise,
      then, with a `projection` (the `pca_components` option), each scaled point projected
      onto the principal axes of the scaled training points.
    Saved as JSON plus an .npz of the scaler's (and projection's) arrays (no pickle) by `save`,
    read by `load`.
    """

    modality: str
    image_size: int = 0
    channels: int = 0
    fit: str = "stretch"
    window: int = 0
    columns: tuple[str, ...] = ()
    imputation: Imputation = NO_IMPUTATION
    categories: tuple[Categories, ...] = ()
    scaler: Scaler | None = None
    projection: Projection | None = None

    @classmethod
    def for_images(cls, shape: Sequence[int], fit: str = "stretch") -> Preprocessing:
        """The preprocessing of images of model input shape (S, S, C): nothing is fitted."""
        size, width, channels = shape
        if size != width:
            raise DataError(f"model inputs must be square images, got shape {tuple(shape)}")
        return cls("image", image_size=int(size), channels=int(channels), fit=fit)

    @property
    def raw_shape(self) -> tuple[int, ...]:
        """The shape of one raw sample: an image at the model's size, a row, a window."""
        if self.modality == "image":
            return (self.image_size, self.image_size, self.channels)
        if self.modality == "tabular":
            return (len(self.columns),)
        return (self.window, len(self.columns))

    def apply(
        self, raw: np.ndarray | pd.DataFrame, where: str = "input", resize: bool = False
    ) -> np.ndarray:
        """Model inputs (float32) from a batch of raw samples; DataError naming `where` for any
        sample the preprocessing cannot take.

        Images: (N, H, W[, C]) uint8 (or integers in [0, 255]), resized only with `resize`, or
        floats in [-1, 1] at the model's size. Tables: a DataFrame holding the raw columns by name
        (others are ignored) or a numeric (N, D) array of them in order. Series: (N, T, D) raw
        windows.
        """
        if self.modality == "image":
            return self._images(np.asarray(raw), where, resize)
        if self.modality == "tabular":
            return self._scaled(self._features(self._frame(raw, where), where), where)
        x = self._numbers(raw, 3, where)
        n, window, width = x.shape
        frame = pd.DataFrame(x.reshape(n * window, width), columns=list(self.columns))
        points = self.imputation.apply(frame, where).to_numpy(np.float64)
        return self.series_points(self._scaled(points, where)).reshape(n, window, -1)

    def series_points(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled series points (..., D) as model inputs: projected where a PCA was fitted."""
        return scaled if self.projection is None else self.projection(scaled)

    def _mismatch(self, where: str, shape: tuple[int, ...], hint: str = "") -> DataError:
        expected = self.raw_shape
        if self.modality != "image":
            hint = f" (raw columns {short_list(self.columns)})" + hint
        return DataError(f"{where}: shape {shape}, the run was trained on {expected}{hint}")

    def _images(self, x: np.ndarray, where: str, resize: bool) -> np.ndarray:
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4:
            raise DataError(f"{where}: expected images (N, H, W[, C]), got shape {x.shape}")
        if x.shape[-1] != self.channels:
            raise self._mismatch(where, x.shape[1:])
        at_size = x.shape[1:3] == (self.image_size, self.image_size)
        if np.issubdtype(x.dtype, np.integer):
            low, high = PIXEL_RANGE
            if x.size and (x.min() < low or x.max() > high):
                raise DataError(
                    f"{where}: integer pixels must lie in [{low}, {high}], found "
                    f"[{x.min()}, {x.max()}]"
                )
            if not (at_size or resize):
                raise self._mismatch(where, x.shape[1:], " (use --resize to resize images)")
            return to_unit_range(resize_images(x.astype(np.uint8), self.image_size, self.fit))
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"{where}: expected uint8 pixels or floats in [-1, 1], got {x.dtype}")
        if not at_size:
            raise DataError(
                f"{where}: float images must be {self.image_size}x{self.image_size} (got "
                f"{x.shape[1]}x{x.shape[2]}); give uint8 pixels to have them resized"
            )
        x = x.astype(np.float32)
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where}: holds NaN or inf values")
        if x.size and (x.min() < -1.0 or x.max() > 1.0):
            raise DataError(
                f"{where}: float images must lie in [-1, 1] (uint8 pixels are scaled), found "
                f"[{x.min():g}, {x.max():g}]"
            )
        return x

    def _numbers(self, raw: np.ndarray, rank: int, where: str) -> np.ndarray:
        x = np.asarray(raw)
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"{where}: expected numbers, got dtype {x.dtype}")
        if x.ndim != rank or x.shape[1:] != self.raw_shape:
            raise self._mismatch(where, x.shape[1:] if x.ndim == rank else x.shape)
        return x.astype(np.float64)

    def _frame(self, raw: np.ndarray | pd.DataFrame, where: str) -> pd.DataFrame:
        """The raw columns of a table, by name from a DataFrame or in order from an array."""
        if isinstance(raw, pd.DataFrame):
            missing = [c for c in self.columns if c not in raw.columns]
            if missing:
                raise DataError(
                    f"{where}: missing column(s) {short_list(missing)}; the run's raw columns are "
                    f"{short_list(self.columns)}"
                )
            return raw[list(self.columns)]
        text = [c.column for c in self.categories if not c.numeric]
        if text:
            raise DataError(
                f"{where}: the run's column(s) {short_list(text)} hold text, which an array of "
                "numbers cannot; give the rows as a CSV file with a header"
            )
        return pd.DataFrame(self._numbers(raw, 2, where), columns=list(self.columns))

    def _features(self, frame: pd.DataFrame, where: str) -> np.ndarray:
        """Imputed numeric columns followed by the one-hot symbolic ones, unscaled (float64)."""
        frame = self.imputation.apply(frame, where)
        symbolic = {c.column for c in self.categories}
        numbers = numeric_frame(frame[[c for c in frame.columns if c not in symbolic]], where)
        parts = [numbers.to_numpy(np.float64)]
        parts += [c.encode(frame[c.column], where) for c in self.categories]
        return np.concatenate(parts, axis=1)

    def _scaled(self, features: np.ndarray, where: str) -> np.ndarray:
        x = self.scaler(features)
        if not np.all(np.isfinite(x)):
            raise DataError(f"{where}: infinite values in the features")
        return x

    def save(self, folder: Path) -> None:
        """Write `folder/preprocessing.json` (and `preprocessing.npz` with the scaler's arrays)."""
        folder = Path(folder)
        document: dict[str, Any] = {"format": _FORMAT, "modality": self.modality}
        if self.modality == "image":
            document.update(
                image_size=self.image_size,
                channels=self.channels,
                fit=self.fit,
                input_range=list(PIXEL_RANGE),
            )
        else:
            if self.modality == "series":
                document["window"] = self.window
            document.update(
                columns=list(self.columns),
                imputation={
                    "method": self.imputation.method,
                    "dropped": list(self.imputation.dropped),
                    "medians": self.imputation.medians,
                },
                categories=[
                    {
                        "column": c.column,
                        "values": list(c.values),
                        "numeric": c.numeric,
                        "unseen": c.unseen,
                    }
                    for c in self.categories
                ],
                scaling=self.scaler.method,
                arrays=ARRAYS,
            )
            arrays = {"shift": self.scaler.shift, "width": self.scaler.width}
            if self.projection is not None:  # absent otherwise: files as before the option
                document["pca_components"] = self.projection.components
                arrays.update(pca_mean=self.projection.mean, pca_axes=self.projection.axes)
            # The arrays first: the JSON, written last, is what makes the pair complete.
            _write_npz(folder / ARRAYS, arrays)
        write_text(folder / FILE, json.dumps(document, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Preprocessing:
        """The preprocessing saved in `folder`; DataError when it is missing or corrupt."""
        path = Path(folder) / FILE
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(
                f"{folder}: no {FILE}, so its inputs cannot be scored as it was trained "
                "(a run from before ganad saved its preprocessing: train it again)"
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise DataError(f"{path}: unreadable ({err})") from None
        try:
            return cls._from_document(document, Path(folder))
        except DataError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise DataError(f"{path}: not a valid preprocessing file ({err!r})") from None

    @classmethod
    def _from_document(cls, document: dict[str, Any], folder: Path) -> Preprocessing:
        _require(document.get("format") == _FORMAT, f"format {document.get('format')!r}")
        modality = document["modality"]
        _require(modality in MODALITIES, f"modality {modality!r}")
        if modality == "image":
            size, channels = document["image_size"], document["channels"]
            _require(_is_count(size), f"image_size {size!r}")
            _require(channels in (1, 3), f"channels {channels!r}")
            _require(document["fit"] in FITS, f"fit {document['fit']!r}")
            _require(document["input_range"] == list(PIXEL_RANGE), "input_range")
            return cls.for_images((size, size, channels), document["fit"])
        columns = tuple(document["columns"])
        _require(all(isinstance(c, str) for c in columns), "column names")
        _require(len(set(columns)) == len(columns), "duplicate column names")
        window = document["window"] if modality == "series" else 0
        _require(modality != "series" or _is_count(window), f"window {window!r}")
        saved = document["imputation"]
        imputation = Imputation(
            saved["method"],
            tuple(saved["dropped"]),
            {str(k): v for k, v in saved["medians"].items()},
        )
        _require(imputation.method in IMPUTES, f"impute {imputation.method!r}")
        _require(set(imputation.dropped) <= set(columns), "dropped columns")
        _require(set(imputation.medians) <= set(columns), "median columns")
        _require(
            all(isinstance(v, float) and np.isfinite(v) for v in imputation.medians.values()),
            "medians",
        )
        categories = tuple(
            # runs saved before the unseen indicator existed have no "unseen": they had none
            Categories(c["column"], tuple(c["values"]), c["numeric"], c.get("unseen", False))
            for c in document["categories"]
        )
        kept = [c for c in columns if c not in imputation.dropped]
        _require(all(c.column in kept for c in categories), "symbolic columns")
        _require(all(isinstance(v, str) for c in categories for v in c.values), "category values")
        _require(all(isinstance(c.unseen, bool) for c in categories), "unseen indicators")
        width = len(kept) - len(categories) + sum(c.width for c in categories)
        _require(document["scaling"] in SCALINGS, f"scaling {document['scaling']!r}")
        arrays = folder / document["arrays"]
        _require(arrays.name == ARRAYS, "arrays file")
        components = document.get("pca_components")
        _require(components is None or modality == "series", "pca_components of a table")
        _require(
            components is None or _is_count(components) and components <= width,
            f"pca_components {components!r}",
        )
        try:
            with np.load(arrays, allow_pickle=False) as saved_arrays:
                shift, scale = saved_arrays["shift"], saved_arrays["width"]
                if components is not None:
                    pca_mean, pca_axes = saved_arrays["pca_mean"], saved_arrays["pca_axes"]
        except FileNotFoundError:
            raise DataError(f"{folder}: {FILE} needs {ARRAYS}, which is missing") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"{arrays}: unreadable ({err})") from None
        for name, array in (("shift", shift), ("width", scale)):
            ok = array.dtype == np.float64 and array.shape == (width,) and np.isfinite(array).all()
            _require(ok, f"{ARRAYS}: {name} must be {width} finite float64 values")
        _require(bool((scale > 0).all()), f"{ARRAYS}: width must be > 0")
        projection = None
        if components is not None:
            for name, array, shape in (
                ("pca_mean", pca_mean, (width,)),
                ("pca_axes", pca_axes, (width, components)),
            ):
                ok = array.dtype == np.float64 and array.shape == shape and np.isfinite(array).all()
                _require(ok, f"{ARRAYS}: {name} must be {shape} finite float64 values")
            orthonormal = np.allclose(pca_axes.T @ pca_axes, np.eye(components), atol=1e-8)
            _require(orthonormal, f"{ARRAYS}: pca_axes must be orthonormal")
            projection = Projection(pca_mean, pca_axes)
        return cls(
            modality,
            window=window,
            columns=columns,
            imputation=imputation,
            categories=categories,
            scaler=Scaler(document["scaling"], shift, scale),
            projection=projection,
        )


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"bad {what}")


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Replace `path` with an .npz of `arrays` atomically (as `runfolder.write_text` does text)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fit_table(
    train: pd.DataFrame,
    others: Sequence[pd.DataFrame],
    *,
    symbolic: Sequence[str],
    impute: str,
    scaling: str,
    where: str,
    unseen_indicator: bool = False,
) -> Preprocessing:
    """The preprocessing of a table fitted on its `train` rows (see `fit_imputation` for the one
    thing `others` tell): imputation, one-hot categories of `symbolic` columns (each followed by
    an unseen-category indicator with `unseen_indicator`), scaling."""
    columns = tuple(str(c) for c in train.columns)
    train = train.set_axis(columns, axis=1)
    imputation = fit_imputation(train, [f.set_axis(columns, axis=1) for f in others], impute, where)
    filled = imputation.apply(train, where)
    categories = tuple(
        Categories.fit(filled[c], unseen_indicator) for c in symbolic if c in filled.columns
    )
    encoding = Preprocessing(
        "tabular", columns=columns, imputation=imputation, categories=categories
    )
    features = encoding._features(train, where)
    return dataclasses.replace(encoding, scaler=fit_scaler(features, scaling))
