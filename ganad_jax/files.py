"""Reading user files to score, through a run's saved preprocessing.

What a file may hold depends on the run's modality:
- images: PNG, JPEG and the other formats Pillow reads (grey or colour as the run's images; the
  other kind is converted only with `resize`), or `.npy` arrays of one image (H, W[, C]) or a
  batch (N, H, W[, C]): uint8 pixels in [0, 255], scaled like an image file, or floats already
  in [-1, 1] at the run's size. Only uint8 pixels (files or arrays) are resized, and only with
  `resize`.
- tables: `.npy` arrays of one row (D,) or rows (N, D) of numbers in the data set's original
  units, D being the run's raw column count; or `.csv` files. A CSV whose first line names any of
  the run's columns (or all of them, where the columns are only numbered) has a header: its
  columns are matched by name, in any order, and columns the run does not know (a label, an id)
  are ignored. A CSV without a header holds exactly the run's raw columns, in order. Empty cells,
  NaN and `?` are missing values, which the run's imputation fills or refuses.
- series: `.npy` arrays of one window (T, D) or windows (N, T, D) of raw points.
A file that holds one sample is named by its path; the i-th sample of a batch (every CSV row is
one) by `path[i]`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from ganad_jax.data import DataError, Preprocessing
from ganad_jax.data.defects import GRAY_MODES
from ganad_jax.data.preprocess import short_list

MISSING = ("?",)
"""Cells read as missing besides pandas' defaults (empty, NaN, NA, ...): UCI files write `?`."""


def read_inputs(
    paths: list[Path], preprocessing: Preprocessing, resize: bool = False
) -> tuple[np.ndarray, list[str]]:
    """Model inputs of every sample in the files `paths`, and one name per sample.

    Each file is checked (format, dtype, rank, size, value range) and turned into model inputs
    by the run's `preprocessing`; any problem is a one-line DataError naming the file.
    """
    if not paths:
        raise DataError("no files to score")
    inputs, names = [], []
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: no such file")
        if not path.is_file():
            raise DataError(f"{path}: not a file")
        raw, batch = _read(path, preprocessing, resize)
        if not len(raw):
            raise DataError(f"{path}: holds no samples")
        inputs.append(preprocessing.apply(raw, str(path), resize=resize))
        names += [f"{path}[{i}]" for i in range(len(raw))] if batch else [str(path)]
    return np.concatenate(inputs), names


def _read(
    path: Path, preprocessing: Preprocessing, resize: bool
) -> tuple[np.ndarray | pd.DataFrame, bool]:
    """The raw samples of one file as a batch, and whether the file holds a batch."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path, preprocessing)
    if suffix == ".csv" and preprocessing.modality == "tabular":
        return _read_csv(path, preprocessing), True
    if preprocessing.modality == "image":
        return _read_image(path, preprocessing, resize), False
    formats = ".npy or .csv" if preprocessing.modality == "tabular" else ".npy"
    raise DataError(f"{path}: the run takes {preprocessing.modality} inputs as {formats} files")


def _read_npy(path: Path, preprocessing: Preprocessing) -> tuple[np.ndarray, bool]:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:  # object arrays need pickle: ValueError
        raise DataError(f"{path}: not a readable .npy array ({err})") from None
    if not isinstance(array, np.ndarray):  # an .npz archive under an .npy name
        array.close()
        raise DataError(f"{path}: not a .npy array (an .npz archive?)")
    if preprocessing.modality == "image":
        # (H, W, C) with C in 1, 3 is one image; (H, W) one grey image; (N, H, W) grey images
        single = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3))
        ranks, expected = (2, 3, 4), "(H, W[, C]) or a batch (N, H, W[, C])"
    else:
        rank = len(preprocessing.raw_shape)
        single = array.ndim == rank
        ranks = (rank, rank + 1)
        what = "row (D,)" if preprocessing.modality == "tabular" else "window (T, D)"
        expected = f"one {what} or a batch {what.replace('(', '(N, ')}"
    if array.ndim not in ranks:
        raise DataError(f"{path}: expected {expected}, got shape {array.shape}")
    return (array[None] if single else array), not single


def _read_csv(path: Path, preprocessing: Preprocessing) -> pd.DataFrame:
    try:
        with open(path, newline="") as f:
            first = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None
    columns = preprocessing.columns
    fields = {field.strip() for field in first}
    named = {c for c in columns if not _is_number(c)}
    header = bool(fields & named) or set(columns) <= fields
    try:
        frame = pd.read_csv(path, header=0 if header else None, na_values=MISSING, low_memory=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None
    if header:
        frame.columns = [str(c).strip() for c in frame.columns]
        if frame.columns.duplicated().any():
            twice = sorted(set(frame.columns[frame.columns.duplicated()]))
            raise DataError(f"{path}: column(s) {', '.join(twice)} appear twice in the header")
        return frame
    if frame.shape[1] != len(columns):
        raise DataError(
            f"{path}: {frame.shape[1]} columns and no header naming the run's; expected its "
            f"{len(columns)} raw columns ({short_list(columns)}) in order, or a header row "
            "naming them"
        )
    return frame.set_axis(list(columns), axis=1)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_image(path: Path, preprocessing: Preprocessing, resize: bool) -> np.ndarray:
    """A (1, H, W, C) uint8 batch of one image file in the run's channels, converted as the
    loaders convert theirs; a grey file for a colour run (or the reverse) only with `resize`."""
    try:
        with Image.open(path) as image:
            own = 1 if image.mode in GRAY_MODES else 3
            channels = preprocessing.channels if resize else own
            pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{path}: not a readable image ({err})") from None
    if channels != preprocessing.channels:
        raise DataError(
            f"{path}: shape {(*pixels.shape[:2], channels)}, the run was trained on "
            f"{preprocessing.raw_shape} (use --resize to convert and resize images)"
        )
    return pixels[None]
