"""Preprocessing shared by the loaders: images, tables, series and the fixed-seed splits.

Every statistic (scaling, one-hot categories, imputation medians) is fitted on the training rows
only and then applied to validation and test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from ganad_jax.data import DataError

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


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 NHW or NHWC images to size x size with bilinear filtering (as torchvision)."""
    x = np.asarray(images)
    if x.shape[1] == size and x.shape[2] == size:
        return x
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    out = np.empty((len(x), size, size, x.shape[-1]), dtype=np.uint8)
    for i, img in enumerate(x):
        if x.shape[-1] in (1, 3):  # PIL resizes L and RGB images in one call
            plane = Image.fromarray(img[..., 0] if x.shape[-1] == 1 else img)
            out[i] = np.asarray(plane.resize((size, size), Image.BILINEAR)).reshape(out.shape[1:])
        else:
            for c in range(x.shape[-1]):
                plane = Image.fromarray(img[:, :, c])
                out[i, :, :, c] = np.asarray(plane.resize((size, size), Image.BILINEAR))
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


def impute(
    train: pd.DataFrame, others: Sequence[pd.DataFrame], how: str, where: str
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Missing values: fail ("none"), fill with training medians, or drop columns with any."""
    frames = [train, *others]
    missing = [f.columns[f.isna().any(axis=0).to_numpy()] for f in frames]
    columns = sorted({c for m in missing for c in m}, key=list(train.columns).index)
    if not columns:
        return train, list(others)
    if how == "none":
        raise DataError(
            f"{where}: missing values (NaN) in column(s) {', '.join(map(str, columns[:8]))}"
            f"{' ...' if len(columns) > 8 else ''}; set impute=median (training medians) or "
            "impute=drop-columns to handle them"
        )
    if how == "drop-columns":
        return train.drop(columns=columns), [f.drop(columns=columns) for f in others]
    if how == "median":
        medians = train.median(numeric_only=True)
        empty = [c for c in columns if pd.isna(medians.get(c))]
        if empty:
            raise DataError(
                f"{where}: column(s) {', '.join(map(str, empty))} have no training values to take "
                "a median from; use impute=drop-columns"
            )
        return train.fillna(medians), [f.fillna(medians) for f in others]
    raise DataError(f"impute must be one of {', '.join(IMPUTES)}, got {how!r}")


def one_hot(
    train: pd.DataFrame, others: Sequence[pd.DataFrame], columns: Sequence[str]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One-hot encode `columns` with the categories seen in training (unseen ones: all zeros)."""
    categories = {c: sorted(train[c].astype(str).unique()) for c in columns}

    def encode(frame: pd.DataFrame) -> pd.DataFrame:
        parts = [frame.drop(columns=list(columns))]
        for c in columns:
            text = frame[c].astype(str)
            values = pd.Categorical(text.where(text.isin(categories[c])), categories=categories[c])
            dummies = pd.get_dummies(values, prefix=c, dtype=np.float64)
            dummies.index = frame.index
            parts.append(dummies)
        return pd.concat(parts, axis=1)

    return encode(train), [encode(f) for f in others]


def fit_scaler(train: np.ndarray, how: str) -> Callable[[np.ndarray], np.ndarray]:
    """A feature scaling ("standard", "minmax" to [0, 1] or "none") fitted on the training rows
    (N, D) only, as a function of rows (..., D) returning float32.

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
    width = np.where(width > 0, width, 1.0)

    def apply(x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float64) - shift) / width).astype(np.float32)

    return apply


def scale(
    train: np.ndarray, others: Sequence[np.ndarray], how: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Scale features with training statistics only (see `fit_scaler`)."""
    apply = fit_scaler(train, how)
    return apply(train), [apply(x) for x in others]


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
