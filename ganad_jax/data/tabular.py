"""Tables: KDD Cup 99, Arrhythmia (ODDS and UCI raw), any ODDS .mat file, breast cancer.

Protocols:
- `odds`: a stratified random split (fixed seed) into train and `test_fraction` test; the
  anomalies of the training part are dropped (as ALAD/EGBAD do), validation is held back from its
  normals.
- `kdd99-dagmm` (DAGMM, EGBAD, ALAD): the `normal.` traffic is the anomaly, the attacks normal; the
  10 % set is split 50/50 at random (fixed seed), training on the attacks of one half and testing
  on the whole other half (anomaly ratio about 0.2). `test_set=corrected` tests on the labelled
  test file instead, training on the attacks of the whole 10 % set.
Symbolic columns are one-hot encoded with the categories of the training rows (KDD Cup 99 adds an
unseen-category indicator per column, see `load_kddcup99`), features scaled with
training statistics (`scaling`); missing values fail unless `impute` says how to fill them. Sample
ids are row numbers in the source file (KDD corrected rows follow the training file's).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganad_jax import lazy
from ganad_jax.data import DataError, DataNotFound, Dataset, Source, Split, data_dir, register
from ganad_jax.data.cache import cached_arrays
from ganad_jax.data.preprocess import (
    check_fraction,
    fit_table,
    hold_out,
    numeric_frame,
    stratified_hold_out,
)
from ganad_jax.data.tfds import local_or_tfds, tfds_arrays

pd = lazy.module("pandas")  # on first use: `ganad list` starts without pandas

KDD_COLUMNS = (
    "duration protocol_type service flag src_bytes dst_bytes land wrong_fragment urgent hot "
    "num_failed_logins logged_in num_compromised root_shell su_attempted num_root "
    "num_file_creations num_shells num_access_files num_outbound_cmds is_host_login "
    "is_guest_login count srv_count serror_rate srv_serror_rate rerror_rate srv_rerror_rate "
    "same_srv_rate diff_srv_rate srv_diff_host_rate dst_host_count dst_host_srv_count "
    "dst_host_same_srv_rate dst_host_diff_srv_rate dst_host_same_src_port_rate "
    "dst_host_srv_diff_host_rate dst_host_serror_rate dst_host_srv_serror_rate "
    "dst_host_rerror_rate dst_host_srv_rerror_rate"
).split()
KDD_TEXT = ("protocol_type", "service", "flag")
KDD_SYMBOLIC = (*KDD_TEXT, "land", "logged_in", "is_host_login", "is_guest_login")
"""The columns kddcup.names calls symbolic: one-hot encoded (as in DAGMM/ALAD, 121 features)."""
KDD_FILES = {
    "10-percent": (
        "kddcup.data_10_percent.gz",
        "kddcup.data_10_percent",
        "kddcup.data_10_percent_corrected",
    ),
    "full": ("kddcup.data.gz", "kddcup.data", "kddcup.data.corrected"),
    "corrected": ("corrected.gz", "corrected"),
}
KDD_THRESHOLD_QUANTILE = 0.99
"""The kdd99-dagmm protocol's test anomaly ratio is r = 0.2. Thresholding at the q quantile of
validation normals flags about (1 - q)(1 - r) of the test set as false positives; keeping them under
5 % of the anomalies, (1 - q)(1 - r) <= 0.05 r, needs q >= 0.9875: 0.99. (The papers instead flag
the top 20 % of test scores, which reads the test set's anomaly count: an oracle.)"""
ODDS_ARRHYTHMIA_ANOMALIES = "3,4,5,7,8,9,14,15"
"""The small UCI Arrhythmia classes ODDS merges into its outlier class."""


def tabular_dataset(
    name: str,
    protocol: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    scaling: str,
    impute_how: str,
    options: dict,
    where: str,
    symbolic: Sequence[str] = (),
    unseen_indicator: bool = False,
    classes: np.ndarray | None = None,
    class_names: Sequence[str] = ("normal", "anomaly"),
) -> Dataset:
    """Impute, one-hot and scale `frame` fitted on the train rows; build the three splits.

    The splits are the fitted `Dataset.preprocessing` applied to the raw rows of `frame`, so it
    turns rows of the source file into exactly these features."""
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    frames = [frame.iloc[idx] for idx in parts]
    preprocessing = fit_table(
        frames[0],
        frames[1:],
        symbolic=symbolic,
        unseen_indicator=unseen_indicator,
        impute=impute_how,
        scaling=scaling,
        where=where,
    )
    classes = y.astype(np.int16) if classes is None else classes.astype(np.int16)
    splits = {}
    for part, idx, rows in zip(("train", "validation", "test"), parts, frames, strict=True):
        splits[part] = Split(
            preprocessing.apply(rows, f"{where} ({part} rows)"),
            y[idx].astype(np.int8),
            classes=classes[idx],
            ids=idx.astype(np.int64),
        )
    return Dataset(
        name=name,
        protocol=protocol,
        modality="tabular",
        options={**options, "scaling": scaling, "impute": impute_how},
        class_names=tuple(str(c) for c in class_names),
        preprocessing=preprocessing,
        **splits,
    )


def odds_split(
    y: np.ndarray,
    test_fraction: float,
    validation_fraction: float,
    *,
    test_every_anomaly: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample indices (train, validation, test) of the `odds` split of labels `y` (1 = anomaly).

    A stratified split with the fixed protocol seed puts `test_fraction` of the normals and of
    the anomalies into test; the other normals give train and validation (`validation_fraction`
    of them). The other anomalies are dropped, or tested too with `test_every_anomaly`. The test
    split depends on `y` and the fractions only."""
    check_fraction("test_fraction", test_fraction)
    check_fraction("validation_fraction", validation_fraction)
    rest, test = stratified_hold_out(y, test_fraction, salt=23)
    normal = rest[y[rest] == 0]
    keep, val = hold_out(len(normal), validation_fraction, salt=29)
    if test_every_anomaly:
        test = np.union1d(test, rest[y[rest] != 0])
    return normal[keep], normal[val], test


def odds_protocol(
    name: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    test_fraction: float,
    validation_fraction: float,
    scaling: str,
    impute: str,
    where: str,
    classes: np.ndarray | None = None,
    class_names: Sequence[str] = ("normal", "anomaly"),
) -> Dataset:
    """The `odds` protocol: stratified train/test split, normals only in train and validation."""
    return tabular_dataset(
        name,
        "odds",
        frame,
        y,
        odds_split(y, test_fraction, validation_fraction),
        scaling=scaling,
        impute_how=impute,
        options={"test_fraction": test_fraction, "validation_fraction": validation_fraction},
        where=where,
        classes=classes,
        class_names=class_names,
    )


def read_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X (N, D) and y (N,) in {0, 1} of an ODDS .mat file (MATLAB v5, or v7.3 with h5py)."""
    if not path.is_file():
        raise DataNotFound(f"missing {path}")
    try:
        import scipy.io  # only .mat files need it: `ganad list` starts without SciPy

        mat = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        try:
            import h5py
        except ImportError:
            raise DataError(
                f"{path}: a MATLAB v7.3 (HDF5) file; pip install h5py to read it"
            ) from None
        try:
            with h5py.File(path, "r") as f:
                mat = {k: np.asarray(f[k]).T for k in ("X", "y") if k in f}
        except OSError as err:
            raise DataError(f"{path}: not a readable .mat file ({err})") from None
    except (OSError, ValueError, TypeError, IndexError) as err:  # scipy fails on junk this way
        raise DataError(f"{path}: not a readable .mat file ({err!r})") from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: expected variables X (N, D) and y (N, 1); found {sorted(mat)}")
    x, y = np.asarray(mat["X"], np.float64), np.asarray(mat["y"]).ravel()
    if x.ndim != 2 or len(x) != len(y):
        raise DataError(f"{path}: X {x.shape} and y {y.shape} do not match")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path}: y must hold 0 (inlier) and 1 (outlier), found {np.unique(y)[:5]}")
    return x, y.astype(np.int8)


def _odds_path(arg: str) -> Path:
    if arg.endswith(".mat") or "/" in arg:
        return Path(arg).expanduser()
    root = data_dir()
    candidates = (root / "odds" / f"{arg}.mat", root / arg / f"{arg}.mat")
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        raise DataNotFound(
            f"no ODDS file {arg}.mat: looked for {' and '.join(map(str, candidates))}"
        )
    return found


def load_odds(
    *,
    arg: str,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.1,
    scaling: str = "standard",
    impute: str = "none",
) -> Dataset:
    """Any ODDS .mat file (X, y with 1 = outlier) by name under GANAD_DATA_DIR or by path."""
    path = _odds_path(arg)
    x, y = read_mat(path)
    return odds_protocol(
        f"odds:{arg}",
        pd.DataFrame(x),
        y,
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        scaling=scaling,
        impute=impute,
        where=str(path),
    )


def _class_list(text: str) -> set[int]:
    try:
        return {int(v) for v in text.split(",") if v.strip()}
    except ValueError:
        raise DataError(f"anomaly_classes expects comma-separated integers, got {text!r}") from None


def read_uci_arrhythmia(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The UCI arrhythmia.data file: 279 features ('?' = missing) and the class (1-16)."""
    if not path.is_file():
        raise DataNotFound(f"missing {path}")
    try:
        raw = pd.read_csv(path, header=None, na_values="?")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None
    if raw.shape[1] != 280:
        raise DataError(
            f"{path}: expected 280 columns (279 features and the class), found {raw.shape[1]}"
        )
    frame = numeric_frame(raw, str(path))
    labels = frame.pop(279)
    if labels.isna().any() or not labels.between(1, 16).all():
        raise DataError(f"{path}: the last column must hold the class 1-16 in every row")
    return frame, labels.to_numpy(np.int64)


def load_arrhythmia(
    *,
    source: str = "odds",
    anomaly_classes: str = ODDS_ARRHYTHMIA_ANOMALIES,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.1,
    scaling: str = "standard",
    impute: str = "none",
) -> Dataset:
    """Arrhythmia: the ODDS .mat (66 outliers) or the UCI raw file with `anomaly_classes`."""
    folder = data_dir() / "arrhythmia"
    common = {
        "test_fraction": test_fraction,
        "validation_fraction": validation_fraction,
        "scaling": scaling,
        "impute": impute,
    }
    if source == "odds":
        x, y = read_mat(folder / "arrhythmia.mat")
        ds = odds_protocol(
            "arrhythmia", pd.DataFrame(x), y, where=str(folder / "arrhythmia.mat"), **common
        )
    elif source == "uci":
        frame, labels = read_uci_arrhythmia(folder / "arrhythmia.data")
        y = np.isin(labels, list(_class_list(anomaly_classes))).astype(np.int8)
        ds = odds_protocol(
            "arrhythmia",
            frame,
            y,
            where=str(folder / "arrhythmia.data"),
            classes=labels - 1,
            class_names=tuple(str(c) for c in range(1, 17)),
            **common,
        )
    else:
        raise DataError(f"arrhythmia: source must be 'odds' or 'uci', got {source!r}")
    options = {"source": source, "anomaly_classes": anomaly_classes, **ds.options}
    return dataclasses.replace(ds, options=options)


def load_breast_cancer(
    *,
    test_fraction: float = 0.5,
    validation_fraction: float = 0.1,
    scaling: str = "standard",
    impute: str = "none",
) -> Dataset:
    """scikit-learn's Wisconsin breast cancer table (569 x 30): malignant tumours are anomalies."""
    from sklearn.datasets import load_breast_cancer as sklearn_breast_cancer

    bunch = sklearn_breast_cancer()
    classes = bunch.target.astype(np.int64)  # 0 malignant, 1 benign
    return odds_protocol(
        "breast-cancer",
        pd.DataFrame(bunch.data, columns=bunch.feature_names),
        (classes == 0).astype(np.int8),
        test_fraction=test_fraction,
        validation_fraction=validation_fraction,
        scaling=scaling,
        impute=impute,
        where="sklearn breast cancer",
        classes=classes,
        class_names=tuple(bunch.target_names),
    )


def read_kdd(path: Path) -> pd.DataFrame:
    """A KDD Cup 99 CSV file (gzip or plain): 41 named feature columns and `label`."""

    def build() -> dict[str, np.ndarray]:
        try:
            raw = pd.read_csv(path, header=None, low_memory=False)
        except (OSError, EOFError, ValueError, pd.errors.ParserError) as err:
            raise DataError(
                f"{path}: cannot read the CSV (truncated or corrupt?) ({err})"
            ) from None
        if raw.shape[1] != len(KDD_COLUMNS) + 1:
            raise DataError(
                f"{path}: expected {len(KDD_COLUMNS) + 1} comma-separated columns (41 features "
                f"and the label), found {raw.shape[1]}"
            )
        raw.columns = [*KDD_COLUMNS, "label"]
        numbers = [c for c in KDD_COLUMNS if c not in KDD_TEXT]
        return {
            "numbers": numeric_frame(raw[numbers], str(path)).to_numpy(),
            "text": raw[list(KDD_TEXT)].astype(str).to_numpy().astype(str),
            "label": raw["label"].astype(str).to_numpy().astype(str),
        }

    arrays = cached_arrays("kddcup99", [path], build)
    return _kdd_frame(arrays["numbers"], arrays["text"], arrays["label"])


def _kdd_frame(numbers: np.ndarray, text: np.ndarray, label: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame(numbers, columns=[c for c in KDD_COLUMNS if c not in KDD_TEXT])
    for i, c in enumerate(KDD_TEXT):
        frame[c] = text[:, i]
    frame["label"] = label
    return frame[[*KDD_COLUMNS, "label"]]


def _tfds_kdd(split: str) -> pd.DataFrame:
    """tfds' kddcup99 (full training set or the corrected test set) as a KDD frame."""
    data, info = tfds_arrays("kddcup99", split)
    columns = {}
    for c in [*KDD_COLUMNS, "label"]:
        key = "is_hot_login" if c == "is_host_login" else c  # tfds' spelling
        values = np.asarray(data[key])
        if c in (*KDD_TEXT, "label"):
            values = np.asarray(info.features[key].names)[values]
        columns[c] = values.astype(np.float64) if values.dtype == bool else values
    frame = pd.DataFrame(columns)
    frame["label"] = frame["label"] + "."
    return frame


def _kdd_file(kind: str) -> Path:
    folder = data_dir() / "kddcup99"
    for name in KDD_FILES[kind]:
        if (folder / name).exists():
            return folder / name
    raise DataNotFound(f"missing {folder / KDD_FILES[kind][0]}")


def _no_tfds_10_percent() -> pd.DataFrame:
    raise DataNotFound(
        "tensorflow-datasets holds only the full KDD Cup 99 training set, not the 10 % subset "
        "the kdd99-dagmm protocol uses (subset=full reads the full one)"
    )


def load_kddcup99(
    *,
    subset: str = "10-percent",
    test_set: str = "half",
    validation_fraction: float = 0.1,
    scaling: str = "none",
    unseen_indicator: bool = True,
) -> Dataset:
    """KDD Cup 99 by the kdd99-dagmm protocol (`normal.` traffic is the anomaly).

    Features are left unscaled by default, as the released EGBAD and ALAD code leaves them (it
    fits a MinMaxScaler and discards its output); `scaling=minmax` or `standard` fit on the
    training rows.

    The seven symbolic columns are one-hot encoded with the categories of the training rows, so
    nothing of the test half leaks into the features. The released code (ALAD's and EGBAD's
    `data/kdd.py`, `_encode_text_dummy`) encodes them with the categories of the whole file
    (121 columns), which reads the test half; ours give 114 from the training rows, and about
    7 % of the test anomalies carry a category (mostly a `service`) no training row has. One-hot
    alone would encode those as an all-zero block, indistinguishable from nothing; so each
    symbolic column is followed by an "unseen category" indicator (1 for such a value, 0 on every
    training row): 121 columns. `unseen_indicator=false` leaves it out (the encoding of runs made
    before it existed)."""
    if subset not in ("10-percent", "full"):
        raise DataError(f"kddcup99: subset must be '10-percent' or 'full', got {subset!r}")
    if test_set not in ("half", "corrected"):
        raise DataError(f"kddcup99: test_set must be 'half' or 'corrected', got {test_set!r}")
    check_fraction("validation_fraction", validation_fraction)
    layout = f"$GANAD_DATA_DIR/kddcup99/{KDD_FILES[subset][0]}"
    frame = local_or_tfds(
        lambda: read_kdd(_kdd_file(subset)),
        (lambda: _tfds_kdd("train")) if subset == "full" else _no_tfds_10_percent,
        layout,
    )
    if test_set == "half":
        pool, test = hold_out(len(frame), 0.5, salt=31)
    else:
        corrected = local_or_tfds(
            lambda: read_kdd(_kdd_file("corrected")),
            lambda: _tfds_kdd("test"),
            "$GANAD_DATA_DIR/kddcup99/corrected.gz",
        )
        pool = np.arange(len(frame))
        test = len(frame) + np.arange(len(corrected))
        frame = pd.concat([frame, corrected], ignore_index=True)
    labels = frame.pop("label").to_numpy().astype(str)
    y = (labels == "normal.").astype(np.int8)
    pool = pool[y[pool] == 0]
    keep, val = hold_out(len(pool), validation_fraction, salt=37)
    class_names, classes = np.unique(np.char.rstrip(labels, "."), return_inverse=True)
    return tabular_dataset(
        "kddcup99",
        "kdd99-dagmm",
        frame,
        y,
        (pool[keep], pool[val], test),
        scaling=scaling,
        impute_how="none",
        options={
            "subset": subset,
            "test_set": test_set,
            "validation_fraction": validation_fraction,
            "unseen_indicator": unseen_indicator,
        },
        where="kddcup99",
        symbolic=KDD_SYMBOLIC,
        unseen_indicator=unseen_indicator,
        classes=classes,
        class_names=tuple(str(c) for c in class_names),
    )


_ODDS_OPTIONS = {
    "test_fraction": 0.5,
    "validation_fraction": 0.1,
    "scaling": "standard",
    "impute": "none",
}
register(
    Source(
        "breast-cancer",
        load_breast_cancer,
        dict(_ODDS_OPTIONS),
        "tabular",
        "scikit-learn's breast cancer table (no download); malignant tumours are the anomalies",
        protocol="odds",
    )
)
register(
    Source(
        "kddcup99",
        load_kddcup99,
        {
            "subset": "10-percent",
            "test_set": "half",
            "validation_fraction": 0.1,
            "scaling": "none",
            "unseen_indicator": True,
        },
        "tabular",
        "KDD Cup 99 from GANAD_DATA_DIR/kddcup99; normal. traffic is the anomaly (DAGMM protocol)",
        protocol="kdd99-dagmm",
        threshold_quantile=KDD_THRESHOLD_QUANTILE,
    )
)
register(
    Source(
        "arrhythmia",
        load_arrhythmia,
        {"source": "odds", "anomaly_classes": ODDS_ARRHYTHMIA_ANOMALIES, **_ODDS_OPTIONS},
        "tabular",
        "Arrhythmia from GANAD_DATA_DIR/arrhythmia: ODDS .mat (66 outliers) or UCI raw (source=uci)",
        protocol="odds",
    )
)
register(
    Source(
        "odds",
        load_odds,
        dict(_ODDS_OPTIONS),
        "tabular",
        "an ODDS .mat file (X, y): GANAD_DATA_DIR/odds/NAME.mat, GANAD_DATA_DIR/NAME/NAME.mat or a path",
        arg="NAME",
        protocol="odds",
    )
)
