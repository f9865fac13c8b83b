"""Your own data: a labelled table (`csv:PATH`, `parquet:PATH`) or labelled arrays (`npy:PATH`).

Labels: a table's `label` column (option `label=COLUMN`, default `label`), an archive's `y`
array. The option `normal=VALUE[,VALUE...]` names the label values of normal samples; every other
value is an anomaly. Without it, a label of the numbers 0 and 1 (or False and True) takes 0 as
normal (1 = anomaly, as in ODDS and this library), and any other label its most frequent value
(anomalies are the rare ones; a tie is an error). A label of one value, a `normal` value the label
does not hold, a file without anomalies and a file with too few normal samples to split are
errors, each one line naming the file.

Tables: every column except the label (and the `ignore` ones, e.g. ids) is a feature; columns of a
numeric (or boolean) type are numbers, all others (text) symbolic, one-hot encoded with the
categories of the training rows. Imputation, categories and scaling (`scaling`, `impute`) are
fitted on the training rows only, as for every table in `ganad_jax.data.tabular`, and saved with a
run, so `ganad score RUN rows.csv` scores raw rows: the header is matched by column name and the
label and other extra columns are ignored. Empty cells, NaN and `?` are missing values. Parquet
needs pyarrow (`pip install 'ganad-jax[parquet]'`).

Arrays: `npy:PATH` reads a NumPy `.npz` archive (`np.savez(PATH, x=x, y=y)`) holding `x` and the
labels `y` (N,) of numbers, booleans or text. `x` of shape (N, D) is a table of numbers (columns
"0", "1", ..., scaled like a table's); (N, H, W, C) with C 1 or 3, or (N, H, W), are images:
integer pixels in [0, 255] (brought to the model's `image_size` by `fit`, then mapped to
[-1, 1]) or floats already in [-1, 1] at the model's size, as `ganad score` takes them.

The `user-labels` protocol splits every source alike, by the labels alone: the `odds` split (fixed
seed: test never moves with the training seed) with `test_fraction` of the normal samples in test,
the other normals giving train and validation (`validation_fraction` of them), and every anomaly
in test (ODDS drops the anomalies of its training part; here none is wasted). Sample ids are row
numbers in the file (0 = the first row below a CSV header).
"""

from __future__ import annotations

import dataclasses
import importlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ganad_jax import lazy
from ganad_jax.data import DataError, DataNotFound, Dataset, Source, Split, register
from ganad_jax.data.preprocess import FITS, Preprocessing, short_list
from ganad_jax.data.tabular import odds_split, tabular_dataset

pd = lazy.module("pandas")  # on first use: `ganad list` starts without pandas

PROTOCOL = "user-labels"


@dataclasses.dataclass(frozen=True)
class Labels:
    """A label made binary: `y` (1 = anomaly), each sample's `classes` (an index into `names`,
    the label's distinct values as text, sorted) and the `normal` values among them."""

    y: np.ndarray
    classes: np.ndarray
    names: tuple[str, ...]
    normal: tuple[str, ...]


def binary_labels(values: pd.Series, normal: str, where: str) -> Labels:
    """The anomaly labels of `values` given the option `normal` ("" = the rule of the module
    docstring); DataError naming `where` (the label) for a label that cannot give both kinds."""
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"{where} is empty in {int(missing.sum())} row(s) (first: row "
            f"{int(np.flatnonzero(missing)[0])}); every sample needs a label"
        )
    numeric = pd.api.types.is_numeric_dtype(values)
    if numeric:
        keys = values.to_numpy(np.float64) + 0.0  # + 0.0: -0.0 is the value 0
    else:
        keys = values.astype(str).str.strip().to_numpy(str)
    distinct, classes, counts = np.unique(keys, return_inverse=True, return_counts=True)
    names = tuple(_text(v) for v in distinct) if numeric else tuple(str(v) for v in distinct)
    found = short_list([f"{n} ({c} rows)" for n, c in zip(names, counts, strict=True)])
    if len(distinct) == 1:
        raise DataError(
            f"{where} holds one value ({names[0]}) in all {len(keys)} rows; it needs normal "
            "samples and anomalies"
        )
    if normal.strip():
        wanted = [t.strip() for t in normal.split(",") if t.strip()]
        chosen = [_key(t, numeric, f"{where} holds numbers, not {t!r}", found) for t in wanted]
        absent = [t for t, k in zip(wanted, chosen, strict=True) if k not in distinct]
        if absent:
            raise DataError(
                f"{where} has no value {', '.join(absent)} (normal={normal}); its values: {found}"
            )
    elif numeric and set(distinct) == {0.0, 1.0}:
        chosen = [0.0]
    else:
        top = np.flatnonzero(counts == counts.max())
        if len(top) > 1:
            raise DataError(
                f"{where}: cannot tell the normal value, {' and '.join(names[i] for i in top)} "
                f"are equally frequent; set normal=VALUE (its values: {found})"
            )
        chosen = [distinct[top[0]]]
    is_normal = np.isin(distinct, chosen)
    if is_normal.all():
        raise DataError(
            f"{where}: no anomalies, every value is normal (normal="
            f"{','.join(names)}); the test split needs anomalies to be scored against"
        )
    return Labels(
        y=(~is_normal[classes]).astype(np.int8),
        classes=classes.astype(np.int64),
        names=names,
        normal=tuple(n for n, keep in zip(names, is_normal, strict=True) if keep),
    )


def _text(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _key(text: str, numeric: bool, problem: str, found: str) -> float | str:
    """The label value that the `normal` option's `text` names; DataError saying `problem` when
    a numeric label holds no such number."""
    if not numeric:
        return text
    if text.lower() in ("true", "false"):
        return float(text.lower() == "true")
    try:
        return float(text) + 0.0
    except ValueError:
        raise DataError(f"{problem} (normal={text}); its values: {found}") from None


def user_split(
    labels: Labels, test_fraction: float, validation_fraction: float, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample indices (train, validation, test) of the `user-labels` protocol; DataError when the
    normal samples are too few to give each split some."""
    y = labels.y
    train, validation, test = odds_split(
        y, test_fraction, validation_fraction, test_every_anomaly=True
    )
    test_normal = int((y[test] == 0).sum())
    if not len(train) or not test_normal or (validation_fraction > 0 and not len(validation)):
        raise DataError(
            f"{where}: {int((y == 0).sum())} normal samples ({', '.join(labels.normal)}) are too "
            f"few: they split into {len(train)} train, {len(validation)} validation and "
            f"{test_normal} test (test_fraction={test_fraction}, validation_fraction="
            f"{validation_fraction}); every split needs normal samples"
        )
    return train, validation, test


def _existing(arg: str) -> Path:
    path = Path(arg).expanduser()
    if not path.exists():
        raise DataNotFound(f"{path}: no such file")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    return path


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV file with a header, read as `ganad score` reads CSV rows (`?` is missing too)."""
    from ganad_jax.files import MISSING  # here: ganad_jax.files imports this package

    try:
        return pd.read_csv(path, na_values=MISSING, low_memory=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: not a readable CSV file ({_first_line(err)})") from None


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file, read with pyarrow; DataError saying how to install it where it is not."""
    try:
        pyarrow = importlib.import_module("pyarrow")
    except ImportError:
        raise DataError(
            f"{path}: reading Parquet needs pyarrow, which is not installed "
            "(pip install pyarrow, or pip install 'ganad-jax[parquet]')"
        ) from None
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, pyarrow.ArrowException) as err:
        raise DataError(f"{path}: not a readable Parquet file ({_first_line(err)})") from None


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def table_dataset(
    name: str,
    path: Path,
    frame: pd.DataFrame,
    *,
    label: str,
    normal: str,
    ignore: str,
    test_fraction: float,
    validation_fraction: float,
    scaling: str,
    impute: str,
) -> Dataset:
    """A user's table `frame` (read from `path`) split by the `user-labels` protocol."""
    columns = [str(c).strip() for c in frame.columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(f"{path}: column(s) {', '.join(twice)} appear twice in the header")
    frame = frame.set_axis(columns, axis=1)
    if label not in columns:
        raise DataError(
            f"{path}: no label column {label!r} (set label=COLUMN); its columns: "
            f"{short_list(columns, 12)}"
        )
    left_out = [c.strip() for c in ignore.split(",") if c.strip()]
    unknown = [c for c in left_out if c not in columns]
    if unknown:
        raise DataError(
            f"{path}: no column(s) {', '.join(unknown)} to ignore; its columns: "
            f"{short_list(columns, 12)}"
        )
    features = frame.drop(columns=list(dict.fromkeys([label, *left_out])))
    if features.shape[1] == 0:
        raise DataError(f"{path}: no feature columns besides the label {label!r}")
    if not len(frame):
        raise DataError(f"{path}: holds no rows")
    labels = binary_labels(frame[label], normal, f"{path}: label column {label!r}")
    parts = user_split(labels, test_fraction, validation_fraction, str(path))
    symbolic = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    return tabular_dataset(
        name,
        PROTOCOL,
        features,
        labels.y,
        parts,
        scaling=scaling,
        impute_how=impute,
        options={
            "label": label,
            "normal": ",".join(labels.normal),
            "ignore": ignore,
            "test_fraction": test_fraction,
            "validation_fraction": validation_fraction,
        },
        where=str(path),
        symbolic=symbolic,
        classes=labels.classes,
        class_names=labels.names,
    )


def load_csv(*, arg: str, **options: Any) -> Dataset:
    """A CSV file with a header: the label column (`label`), the columns to `ignore` and the
    features, split by the `user-labels` protocol (normals by `normal`)."""
    path = _existing(arg)
    return table_dataset(f"csv:{arg}", path, read_csv(path), **options)


def load_parquet(*, arg: str, **options: Any) -> Dataset:
    """A Parquet file (needs pyarrow), read like `load_csv`: the label column (`label`), the
    columns to `ignore` and the features, split by the `user-labels` protocol."""
    path = _existing(arg)
    return table_dataset(f"parquet:{arg}", path, read_parquet(path), **options)


ARRAY_KEYS = ("x", "y")


def read_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """`x` (N, ...) and the labels `y` (N,) of an .npz archive; DataError for any other file."""
    wanted = "npy:PATH reads an .npz archive holding x and y (np.savez(PATH, x=x, y=y))"
    try:
        with open(path, "rb") as f:
            single = f.read(6) == b"\x93NUMPY"
        archive = np.load(path, allow_pickle=False) if zipfile.is_zipfile(path) else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a readable .npz archive ({_first_line(err)})") from None
    if archive is None:
        raise DataError(f"{path}: {'a single array' if single else 'not an archive'}; {wanted}")
    with archive:
        absent = [k for k in ARRAY_KEYS if k not in archive.files]
        if absent:
            raise DataError(
                f"{path}: no array {' or '.join(absent)}; expected x (samples) and y (labels), "
                f"found {', '.join(archive.files) or 'none'}"
            )
        try:
            x, y = (archive[k] for k in ARRAY_KEYS)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # object arrays: pickle
            raise DataError(f"{path}: unreadable x or y ({_first_line(err)})") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(f"{path}: x {x.shape} and y {y.shape} do not match; y must be (N,)")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{path}: x must hold numbers, got dtype {x.dtype}")
    if x.ndim not in (2, 3, 4) or not len(x):
        raise DataError(
            f"{path}: x has shape {x.shape}; expected rows (N, D) or images (N, H, W[, C])"
        )
    return x, y


def array_modality(arg: str) -> str | None:
    """The modality of the archive `arg` names, "tabular" or "image" by the rank of its `x`,
    read from the array's header only (None when the file cannot tell)."""
    try:
        with zipfile.ZipFile(Path(arg).expanduser()) as archive, archive.open("x.npy") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape = np.lib.format.read_array_header_1_0(f)[0]
            elif version == (2, 0):
                shape = np.lib.format.read_array_header_2_0(f)[0]
            else:
                return None
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    return {2: "tabular", 3: "image", 4: "image"}.get(len(shape))


def load_arrays(
    *,
    arg: str,
    image_size: int | None = None,
    normal: str = "",
    test_fraction: float = 0.5,
    validation_fraction: float = 0.1,
    scaling: str = "standard",
    impute: str = "none",
    fit: str = "stretch",
) -> Dataset:
    """An .npz archive of `x` (rows or images) and labels `y`, split by the `user-labels`
    protocol; rows are scaled (`scaling`, `impute`), images brought to `image_size` (`fit`)."""
    path = _existing(arg)
    x, y = read_arrays(path)
    labels = binary_labels(pd.Series(y), normal, f"{path}: y")
    parts = user_split(labels, test_fraction, validation_fraction, str(path))
    options = {
        "normal": ",".join(labels.normal),
        "test_fraction": test_fraction,
        "validation_fraction": validation_fraction,
    }
    if x.ndim == 2:
        return tabular_dataset(
            f"npy:{arg}",
            PROTOCOL,
            pd.DataFrame(x),
            labels.y,
            parts,
            scaling=scaling,
            impute_how=impute,
            options=options,
            where=str(path),
            classes=labels.classes,
            class_names=labels.names,
        )
    preprocessing = _image_preprocessing(path, x.shape, image_size, fit)
    images = preprocessing.apply(x, str(path), resize=True)
    splits = {
        part: Split(
            images[idx], labels.y[idx], classes=labels.classes[idx].astype(np.int16), ids=idx
        )
        for part, idx in zip(("train", "validation", "test"), parts, strict=True)
    }
    return Dataset(
        name=f"npy:{arg}",
        protocol=PROTOCOL,
        modality="image",
        options={**options, "fit": fit},
        class_names=labels.names,
        preprocessing=preprocessing,
        **splits,
    )


def _image_preprocessing(
    path: Path, shape: tuple[int, ...], image_size: int | None, fit: str
) -> Preprocessing:
    """What turns the archive's images into model inputs: their channels at `image_size` (their
    own size where none is given, which must then be square)."""
    if fit not in FITS:
        raise DataError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    channels = shape[3] if len(shape) == 4 else 1
    if channels not in (1, 3):
        raise DataError(
            f"{path}: images of {channels} channels; expected 1 (grey) or 3 (RGB): x is "
            "(N, H, W), (N, H, W, 1) or (N, H, W, 3)"
        )
    height, width = shape[1:3]
    if image_size is None and height != width:
        raise DataError(
            f"{path}: images of {height}x{width}; give an image size to bring them to a square"
        )
    return Preprocessing.for_images((image_size or height,) * 2 + (channels,), fit)


_OPTIONS = {
    "normal": "",
    "test_fraction": 0.5,
    "validation_fraction": 0.1,
    "scaling": "standard",
    "impute": "none",
}
_TABLE_OPTIONS = {"label": "label", **_OPTIONS, "ignore": ""}
_RULE = "normal=VALUE[,VALUE...] (default: 0 of a 0/1 label, else its most frequent value)"
register(
    Source(
        "csv",
        load_csv,
        dict(_TABLE_OPTIONS),
        "tabular",
        f"your CSV table: label=COLUMN (default label), {_RULE}; text columns one-hot",
        arg="PATH",
        protocol=PROTOCOL,
    )
)
register(
    Source(
        "parquet",
        load_parquet,
        dict(_TABLE_OPTIONS),
        "tabular",
        f"your Parquet table (needs pyarrow), read like csv:PATH: label=COLUMN, {_RULE}",
        arg="PATH",
        protocol=PROTOCOL,
    )
)
register(
    Source(
        "npy",
        load_arrays,
        {**_OPTIONS, "fit": "stretch"},
        "tabular",
        "your arrays: an .npz archive of x and labels y (np.savez(PATH, x=x, y=y)); x (N, D) is "
        f"a table, (N, H, W[, C]) images (uint8, or floats in [-1, 1]); {_RULE}",
        arg="PATH",
        protocol=PROTOCOL,
        modality_of=array_modality,
    )
)
