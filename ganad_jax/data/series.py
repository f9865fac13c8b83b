"""Multivariate time series: SKAB, NASA SMAP/MSL channels, SWaT/WADI-layout CSV files.

The `time-series` protocol trains on the anomaly-free series and tests on the labelled runs:
- train: sliding windows over the anomaly-free series minus its last `validation_fraction`;
- validation: windows over that held-back tail (contiguous, so no window overlaps training);
- test: windows over every labelled run; a window is anomalous when any of its points is.
Windows are (N, window, D) float32 taken every `step` points (plus one ending at each run's last
point), features scaled with statistics of the training part (`scaling`) and, with
`pca_components=k` (default 0: off), each scaled point projected onto the top k principal axes of
the scaled training points (as MAD-GAN's released code scales, then projects; unlike it, the
projection is never fitted on test data). Both are the Dataset's `preprocessing`, saved with a
run. `Split.windows` maps window scores back to per-point scores and labels of each run
(`Windows.point_scores`).
SKAB's default protocol is its own leaderboard's, one fold (and model) per labelled file (see
`load_skab`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganad_jax import lazy
from ganad_jax.data import (
    DataError,
    DataNotFound,
    Dataset,
    Source,
    Split,
    Windows,
    data_dir,
    register,
)
from ganad_jax.data.preprocess import (
    NO_IMPUTATION,
    Imputation,
    Preprocessing,
    check_fraction,
    fit_imputation,
    fit_projection,
    fit_scaler,
    numbered_columns,
    numeric_frame,
    sliding_windows,
)

pd = lazy.module("pandas")  # on first use: `ganad list` starts without pandas

Run = tuple[str, np.ndarray, np.ndarray]
"""A named run: (name, points (L, D), point labels (L,) with 1 = anomaly)."""


def _windowed(runs: Sequence[Run], window: int, step: int, dim: int) -> Split:
    if not runs:
        empty = Windows(window, np.zeros(0, np.int32), np.zeros(0, np.int64), (), ())
        return Split(np.zeros((0, window, dim), np.float32), np.zeros(0, np.int8), windows=empty)
    xs, ys, starts, run_ids = [], [], [], []
    for r, (name, x, labels) in enumerate(runs):
        try:
            w, s = sliding_windows(x, window, step)
        except DataError as err:
            raise DataError(f"run {name!r}: {err}") from None
        covered = np.concatenate([[0], np.cumsum(labels)])
        xs.append(w)
        ys.append((covered[s + window] - covered[s] > 0).astype(np.int8))
        starts.append(s)
        run_ids.append(np.full(len(s), r, np.int32))
    return Split(
        np.concatenate(xs),
        np.concatenate(ys),
        windows=Windows(
            length=window,
            run=np.concatenate(run_ids),
            start=np.concatenate(starts).astype(np.int64),
            labels=tuple(np.asarray(labels, np.int8) for _, _, labels in runs),
            run_names=tuple(name for name, _, _ in runs),
        ),
    )


def time_series_protocol(
    name: str,
    train: np.ndarray,
    runs: Sequence[Run],
    *,
    window: int,
    step: int,
    validation_fraction: float,
    scaling: str,
    options: dict,
    columns: Sequence[str] | None = None,
    imputation: Imputation = NO_IMPUTATION,
    pca_components: int = 0,
) -> Dataset:
    """The `time-series` protocol over an anomaly-free (L, D) series and labelled test runs.

    `columns` name the D raw features (default "0", "1", ...) and `imputation` is how their
    missing values were handled before: both go into the Dataset's preprocessing with the scaling
    (and, where `pca_components` > 0, the PCA) fitted here on the training part only."""
    check_fraction("validation_fraction", validation_fraction)
    n_val = int(round(len(train) * validation_fraction))
    head, tail = train[: len(train) - n_val], train[len(train) - n_val :]
    if n_val and n_val < window:
        raise DataError(
            f"{name}: the validation tail ({n_val} points) is shorter than the window ({window}); "
            "raise validation_fraction or lower window"
        )
    preprocessing = _series_preprocessing(
        head, window, scaling, columns, imputation, pca_components
    )
    x_head, x_tail = _inputs(preprocessing, head), _inputs(preprocessing, tail)
    x_runs = [_inputs(preprocessing, x) for _, x, _ in runs]
    zeros = np.zeros
    dim = x_head.shape[1]
    return Dataset(
        name=name,
        protocol="time-series",
        modality="series",
        train=_windowed([("train", x_head, zeros(len(x_head), np.int8))], window, step, dim),
        validation=_windowed(
            [("validation", x_tail, zeros(n_val, np.int8))] if n_val else [], window, step, dim
        ),
        test=_windowed(
            [(run, x, labels) for (run, _, labels), x in zip(runs, x_runs, strict=True)],
            window,
            step,
            dim,
        ),
        options={
            **options,
            "window": window,
            "step": step,
            "validation_fraction": validation_fraction,
            "scaling": scaling,
            "pca_components": pca_components,
        },
        preprocessing=preprocessing,
    )


def _series_preprocessing(
    train: np.ndarray,
    window: int,
    scaling: str,
    columns: Sequence[str] | None,
    imputation: Imputation,
    pca_components: int = 0,
) -> Preprocessing:
    """Windows of `columns` (imputed by `imputation`) scaled with statistics of `train` points,
    then projected onto the top `pca_components` principal axes of the scaled `train` points (0:
    no projection). Scaling comes first, as in MAD-GAN's released code."""
    if pca_components < 0:
        raise DataError(f"pca_components must be >= 0 (0: no PCA), got {pca_components}")
    scaler = fit_scaler(train, scaling)
    return Preprocessing(
        "series",
        window=window,
        columns=tuple(columns) if columns is not None else numbered_columns(train.shape[1]),
        imputation=imputation,
        scaler=scaler,
        projection=fit_projection(scaler(train), pca_components) if pca_components else None,
    )


def _inputs(preprocessing: Preprocessing, points: np.ndarray) -> np.ndarray:
    """Imputed (L, D) points as model inputs (L, k): scaled, then projected where fitted."""
    return preprocessing.series_points(preprocessing.scaler(points))


def _header_row(path: Path, sep: str, markers: set[str]) -> int:
    """The first of the first ten lines naming one of `markers` (0 when none does)."""
    with open(path, errors="replace") as f:
        for number, line in zip(range(10), f, strict=False):
            fields = {_column_name(v.strip('"')) for v in line.rstrip("\n").split(sep)}
            if fields & markers:
                return number
    return 0


def _column_name(raw: str) -> str:
    # WADI prefixes sensor names with a logger path (\\WIN-...\LOG_DATA\SUTD_WADI\LOG_DATA\...)
    return str(raw).split("\\")[-1].strip()


def read_table(path: Path, sep: str = ",", markers: Sequence[str] = ()) -> pd.DataFrame:
    """A CSV file with stripped column names, its header found by `markers` (DataError if bad)."""
    if not path.is_file():
        raise DataNotFound(f"missing {path}")
    try:
        header = _header_row(path, sep, set(markers)) if markers else 0
        frame = pd.read_csv(path, sep=sep, skiprows=header, low_memory=False)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{path}: not a readable CSV file ({err})") from None
    frame.columns = [_column_name(c) for c in frame.columns]
    if frame.empty:
        raise DataError(f"{path}: no rows")
    return frame


def _columns(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(str, frame.columns))}"
        )
    return numeric_frame(frame[list(columns)], str(path))


def _labels(values: pd.Series, normal_value: str, path: Path, column: str) -> np.ndarray:
    """1 where `values` differ from `normal_value` (compared as numbers when both are)."""
    if values.isna().any():
        raise DataError(f"{path}: label column {column!r} has empty cells")
    numbers = pd.to_numeric(values, errors="coerce")
    try:
        if numbers.notna().all():
            return (numbers != float(normal_value)).to_numpy().astype(np.int8)
    except ValueError:
        pass
    text = values.astype(str).str.replace(r"\s+", "", regex=True)
    return (text != normal_value.replace(" ", "")).to_numpy().astype(np.int8)


def _features(
    train: pd.DataFrame, runs: Sequence[tuple[str, pd.DataFrame, np.ndarray]], how: str, where: str
) -> tuple[np.ndarray, list[Run], Imputation]:
    """Impute missing values (fitted on train); numpy series and the imputation fitted."""
    imputation = fit_imputation(train, [frame for _, frame, _ in runs], how, where)
    return (
        imputation.apply(train, where).to_numpy(np.float64),
        [
            (name, imputation.apply(frame, where).to_numpy(np.float64), labels)
            for name, frame, labels in runs
        ],
        imputation,
    )


def _run_order(path: Path) -> tuple[str, int, str]:
    return (path.parent.name, int(path.stem) if path.stem.isdigit() else -1, path.stem)


SKAB_PROTOCOLS = ("leaderboard", "time-series")
SKAB_TRAIN_ROWS = 400
"""SKAB's leaderboard protocol fits each labelled file's model on its first 400 rows."""


def load_skab(
    *,
    protocol: str = "leaderboard",
    window: int = 32,
    step: int = 1,
    validation_fraction: float = 0.1,
    scaling: str = "standard",
    impute: str = "none",
    pca_components: int = 0,
) -> Dataset:
    """SKAB's 34 labelled runs (valve1, valve2, other) by one of two protocols.

    - `leaderboard` (SKAB's own): one fold per labelled file: train on its first 400 rows (scaling
      fitted there; windows every point), test on the rest; the fold's validation split is its
      training rows again, windowed every `step` points, whose scores set the threshold (the
      protocol uses no other data). The top-level splits hold all folds together.
    - `time-series`: train on anomaly-free.csv (the last `validation_fraction` held back as
      validation), test on all labelled runs.

    `pca_components` > 0 projects the scaled sensors onto that many principal axes, fitted on
    each model's training points (a fold's first 400 rows, or the anomaly-free training part).
    """
    if protocol not in SKAB_PROTOCOLS:
        raise DataError(
            f"skab: protocol must be one of {', '.join(SKAB_PROTOCOLS)}, got {protocol!r}"
        )
    root = data_dir() / "skab" / "data"
    free = root / "anomaly-free" / "anomaly-free.csv"
    train = read_table(free, sep=";")
    features = [c for c in train.columns if c not in ("datetime", "anomaly", "changepoint")]
    paths = sorted(
        (p for p in root.glob("*/*.csv") if p.parent.name != "anomaly-free"), key=_run_order
    )
    if not paths:
        raise DataNotFound(f"no labelled runs under {root}: expected <folder>/<n>.csv")
    runs = []
    for path in paths:
        frame = read_table(path, sep=";")
        label = _columns(frame, ["anomaly"], path)["anomaly"]
        if not label.isin((0, 1)).all():
            raise DataError(f"{path}: the anomaly column must hold 0 or 1")
        run = f"{path.parent.name}/{path.stem}"
        runs.append((run, _columns(frame, features, path), label.to_numpy().astype(np.int8)))
    x_train, runs, imputation = _features(_columns(train, features, free), runs, impute, str(root))
    fitted = {"columns": features, "imputation": imputation}
    if protocol == "leaderboard":
        return _skab_leaderboard(
            runs, window, step, scaling, {"impute": impute}, **fitted, pca_components=pca_components
        )
    dataset = time_series_protocol(
        "skab",
        x_train,
        runs,
        window=window,
        step=step,
        validation_fraction=validation_fraction,
        scaling=scaling,
        options={"impute": impute},
        **fitted,
        pca_components=pca_components,
    )
    return dataclasses.replace(dataset, options={"protocol": protocol, **dataset.options})


def _skab_leaderboard(
    runs: Sequence[Run],
    window: int,
    step: int,
    scaling: str,
    options: dict,
    columns: Sequence[str] | None = None,
    imputation: Imputation = NO_IMPUTATION,
    pca_components: int = 0,
) -> Dataset:
    """The leaderboard protocol's folds (see `load_skab`), each with its own preprocessing, and
    the Dataset holding them all (with none: its folds are scaled apart)."""
    heads, tails, fitted = [], [], []
    for name, x, labels in runs:
        if len(x) <= SKAB_TRAIN_ROWS + window:
            raise DataError(f"skab: run {name!r} has {len(x)} rows, too few for the leaderboard")
        head = x[:SKAB_TRAIN_ROWS]
        preprocessing = _series_preprocessing(
            head, window, scaling, columns, imputation, pca_components
        )
        heads.append((name, _inputs(preprocessing, head), labels[:SKAB_TRAIN_ROWS]))
        tail = _inputs(preprocessing, x[SKAB_TRAIN_ROWS:])
        tails.append((name, tail, labels[SKAB_TRAIN_ROWS:]))
        fitted.append(preprocessing)
    dim = heads[0][1].shape[1]
    options = {
        "protocol": "leaderboard",
        **options,
        "window": window,
        "step": step,
        "scaling": scaling,
        "pca_components": pca_components,
    }

    def dataset(
        name: str,
        head: Sequence[Run],
        tail: Sequence[Run],
        folds: Sequence[Dataset] = (),
        preprocessing: Preprocessing | None = None,
    ) -> Dataset:
        return Dataset(
            name=name,
            protocol="leaderboard",
            modality="series",
            train=_windowed(head, window, 1, dim),
            validation=_windowed(head, window, step, dim),
            test=_windowed(tail, window, step, dim),
            options=options,
            folds=tuple(folds),
            preprocessing=preprocessing,
        )

    folds = [
        dataset(f"skab:{h[0]}", [h], [t], preprocessing=p)
        for h, t, p in zip(heads, tails, fitted, strict=True)
    ]
    return dataset("skab", heads, tails, folds)


def _channel_arrays(folder: Path, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) arrays of a channel from SMAP_MSL.zip or from train/ and test/ folders."""
    zipped = folder / "SMAP_MSL.zip"
    arrays = []
    for part in ("train", "test"):
        member = f"SMAP_MSL/{part}/{channel}.npy"
        where = f"{zipped}:{member}" if zipped.exists() else str(folder / part / f"{channel}.npy")
        try:
            if zipped.exists():
                with zipfile.ZipFile(zipped) as archive:
                    array = np.load(io.BytesIO(archive.read(member)), allow_pickle=False)
            else:
                array = np.load(folder / part / f"{channel}.npy", allow_pickle=False)
        except (KeyError, FileNotFoundError):
            raise DataError(f"missing {where}") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"{where}: not a readable .npy array in a zip ({err})") from None
        if array.ndim != 2:
            raise DataError(f"{where}: expected a (time, channels) array, found {array.shape}")
        arrays.append(array.astype(np.float64))
    return arrays[0], arrays[1]


def _telemanom(
    spacecraft: str,
    channel: str,
    *,
    window: int,
    step: int,
    validation_fraction: float,
    scaling: str,
    pca_components: int,
) -> Dataset:
    """One NASA SMAP or MSL channel: train/<chan>.npy, test/<chan>.npy, labeled_anomalies.csv."""
    folder = data_dir() / "smap_msl"
    table = read_table(folder / "labeled_anomalies.csv")
    for column in ("chan_id", "spacecraft", "anomaly_sequences"):
        if column not in table.columns:
            raise DataError(f"{folder / 'labeled_anomalies.csv'}: missing column {column!r}")
    mine = table[table["spacecraft"].astype(str).str.upper() == spacecraft]
    rows = mine[mine["chan_id"] == channel]
    if rows.empty:
        raise DataError(
            f"{spacecraft.lower()}:{channel} does not exist; channels: "
            + ", ".join(sorted(set(mine["chan_id"])))
        )
    train, test = _channel_arrays(folder, channel)
    labels = np.zeros(len(test), np.int8)
    for text in rows["anomaly_sequences"]:  # a channel listed twice: the union of its ranges
        try:
            ranges = json.loads(text)
        except (TypeError, ValueError):
            raise DataError(f"{channel}: cannot parse anomaly_sequences {text!r}") from None
        for start, end in ranges:
            if not 0 <= start <= end < len(test):
                raise DataError(
                    f"{channel}: anomaly range [{start}, {end}] outside the test series"
                )
            labels[start : end + 1] = 1
    return time_series_protocol(
        f"{spacecraft.lower()}:{channel}",
        train,
        [(channel, test, labels)],
        window=window,
        step=step,
        validation_fraction=validation_fraction,
        scaling=scaling,
        options={},
        pca_components=pca_components,
    )


def load_smap(*, arg: str, **options: Any) -> Dataset:
    """One NASA SMAP channel (e.g. smap:P-1) from GANAD_DATA_DIR/smap_msl."""
    return _telemanom("SMAP", arg, **options)


def load_msl(*, arg: str, **options: Any) -> Dataset:
    """One NASA MSL channel (e.g. msl:M-1) from GANAD_DATA_DIR/smap_msl."""
    return _telemanom("MSL", arg, **options)


def load_csv_series(
    name: str,
    root: Path,
    *,
    train_file: str,
    test_file: str,
    label_column: str,
    normal_value: str,
    drop_columns: str,
    warmup: int,
    window: int,
    step: int,
    validation_fraction: float,
    scaling: str,
    impute: str,
    pca_components: int,
) -> Dataset:
    """A normal-operation CSV and a labelled attack CSV (the SWaT/WADI layout) in folder `root`."""
    if not root.is_dir():
        raise DataNotFound(f"{root} is not a folder (expected {train_file} and {test_file})")
    drop = [c.strip() for c in drop_columns.split(",") if c.strip()]
    markers = (label_column, *drop)
    train = read_table(root / train_file, markers=markers)
    test = read_table(root / test_file, markers=markers)
    if label_column not in test.columns:
        raise DataError(
            f"{root / test_file}: missing label column {label_column!r}; "
            f"found {', '.join(map(str, test.columns))}"
        )
    labels = _labels(test[label_column], normal_value, root / test_file, label_column)
    if label_column in train.columns:
        attacks = _labels(train[label_column], normal_value, root / train_file, label_column)
        if attacks.any():
            raise DataError(
                f"{root / train_file}: {int(attacks.sum())} rows are not labelled "
                f"{normal_value!r}; the training file must hold normal operation only"
            )
    features = [c for c in train.columns if c not in (label_column, *drop)]
    if warmup < 0 or warmup >= len(train):
        raise DataError(f"{name}: warmup={warmup} leaves no training rows of {len(train)}")
    train = _columns(train.iloc[warmup:], features, root / train_file)
    runs = [(test_file, _columns(test, features, root / test_file), labels)]
    x_train, runs, imputation = _features(train, runs, impute, str(root))
    return time_series_protocol(
        name,
        x_train,
        runs,
        window=window,
        step=step,
        validation_fraction=validation_fraction,
        scaling=scaling,
        options={
            "train_file": train_file,
            "test_file": test_file,
            "label_column": label_column,
            "normal_value": normal_value,
            "drop_columns": drop_columns,
            "warmup": warmup,
            "impute": impute,
        },
        columns=features,
        imputation=imputation,
        pca_components=pca_components,
    )


_WINDOWS = {"window": 32, "step": 1, "validation_fraction": 0.1}
PCA_OFF = {"pca_components": 0}
"""Series option `pca_components`: 0 keeps the sensors; k > 0 projects the scaled points onto
their top k principal axes fitted on training points (MAD-GAN's released code uses 5 for SWaT,
8 for WADI and 6 for KDD99, its `num_signals`)."""
SWAT_DEFAULTS = {
    "train_file": "SWaT_Dataset_Normal_v1.csv",
    "test_file": "SWaT_Dataset_Attack_v0.csv",
    "label_column": "Normal/Attack",
    "normal_value": "Normal",
    "drop_columns": "Timestamp",
    "warmup": 21600,
    **_WINDOWS,
    "step": 10,
    "scaling": "standard",
    "impute": "none",
    **PCA_OFF,
}
"""SWaT (iTrust): the first 21,600 s of normal operation are the plant settling, left out."""
WADI_DEFAULTS = {
    **SWAT_DEFAULTS,
    "train_file": "WADI_14days_new.csv",
    "test_file": "WADI_attackdataLABLE.csv",
    "label_column": "Attack LABLE (1:No Attack, -1:Attack)",
    "normal_value": "1",
    "drop_columns": "Row,Date,Time",
    "warmup": 0,
}
"""WADI (iTrust, 2019 release with a label column)."""


def load_swat(*, arg: str, **options: Any) -> Dataset:
    """SWaT CSV files (normal + attack) in the folder `arg`."""
    return load_csv_series(f"swat:{arg}", Path(arg).expanduser(), **options)


def load_wadi(*, arg: str, **options: Any) -> Dataset:
    """WADI CSV files (14 days normal + labelled attack data) in the folder `arg`."""
    return load_csv_series(f"wadi:{arg}", Path(arg).expanduser(), **options)


register(
    Source(
        "skab",
        load_skab,
        {
            "protocol": "leaderboard",
            **_WINDOWS,
            "scaling": "standard",
            "impute": "none",
            **PCA_OFF,
        },
        "series",
        "SKAB water-circulation test bed (8 sensors), 34 labelled runs: SKAB's leaderboard "
        "(a model per file, first 400 rows train) or protocol=time-series (anomaly-free run trains)",
    )
)
for _craft, _loader in (("smap", load_smap), ("msl", load_msl)):
    register(
        Source(
            _craft,
            _loader,
            {**_WINDOWS, "scaling": "none", **PCA_OFF},
            "series",
            f"one NASA {_craft.upper()} telemetry channel from GANAD_DATA_DIR/smap_msl "
            "(already scaled by telemanom)",
            arg="CHANNEL",
            protocol="time-series",
        )
    )
register(
    Source(
        "swat",
        load_swat,
        dict(SWAT_DEFAULTS),
        "series",
        "SWaT water treatment CSV files (normal + attack) in a folder you hold",
        arg="PATH",
        protocol="time-series",
    )
)
register(
    Source(
        "wadi",
        load_wadi,
        dict(WADI_DEFAULTS),
        "series",
        "WADI water distribution CSV files (14 days normal + labelled attacks) in a folder you hold",
        arg="PATH",
        protocol="time-series",
    )
)
