"""A data set's Preprocessing: saved without pickle, reloaded, and turning the raw rows of the
source (in original units) into exactly the split's model inputs; fitted on training rows only."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from ganad_jax import data
from ganad_jax.data import DataError, Preprocessing, images, series, tabular
from ganad_jax.data.preprocess import hold_out, sliding_windows
from ganad_jax.files import read_inputs


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "ganad_cache"))


def reloaded(preprocessing: Preprocessing, folder: Path) -> Preprocessing:
    """`preprocessing` saved into `folder` and read back (checking that no file needs pickle)."""
    folder.mkdir(exist_ok=True)
    preprocessing.save(folder)
    json.loads((folder / "preprocessing.json").read_text())
    if (folder / "preprocessing.npz").exists():
        with np.load(folder / "preprocessing.npz", allow_pickle=False) as arrays:
            assert all(arrays[k].dtype == np.float64 for k in arrays.files)
    return Preprocessing.load(folder)


def check_reproduces(ds: data.Dataset, raw_rows, folder: Path, limit: int | None = None) -> None:
    """The reloaded preprocessing applied to the raw rows `raw_rows(ids)` gives every split."""
    preprocessing = reloaded(ds.preprocessing, folder)
    for part, split in ds.splits().items():
        ids = split.ids[:limit]
        x = preprocessing.apply(raw_rows(ids), part)
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, split.x[:limit], err_msg=part)


def saved_files(preprocessing: Preprocessing, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    preprocessing.save(folder)
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_breast_cancer_raw_rows_reproduce_the_splits(tmp_path):
    ds = data.load("breast-cancer")
    bunch = load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=bunch.feature_names)
    check_reproduces(ds, lambda ids: frame.iloc[ids], tmp_path / "frame")
    check_reproduces(ds, lambda ids: bunch.data[ids], tmp_path / "array")  # columns in order
    assert ds.preprocessing.columns == tuple(bunch.feature_names)


def test_test_rows_cannot_change_the_preprocessing(tmp_path):
    """Fitted on training rows: test rows scaled, shifted, or of unseen categories change nothing."""
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "bytes": rng.lognormal(5, 2, n),
            "proto": rng.choice(["tcp", "udp"], n),
            "flag": rng.integers(0, 2, n).astype(np.float64),
            "rate": rng.uniform(size=n),
        }
    )
    frame.loc[[3, 7], "rate"] = np.nan
    y = (np.arange(n) % 6 == 0).astype(np.int8)
    parts = (np.arange(0, 60), np.arange(60, 80), np.arange(80, n))
    common = {
        "scaling": "standard",
        "impute_how": "median",
        "options": {},
        "where": "toy",
        "symbolic": ("proto", "flag"),
    }
    ds = tabular.tabular_dataset("toy", "odds", frame, y, parts, **common)
    changed = frame.copy()
    test = parts[2]
    changed.loc[test, ["bytes", "rate"]] *= 1000.0
    changed.loc[test, "proto"] = "icmp"  # a category training never saw: all zeros
    changed.loc[test, "flag"] = 7.0
    other = tabular.tabular_dataset("toy", "odds", changed, y, parts, **common)
    assert saved_files(ds.preprocessing, tmp_path / "a") == saved_files(
        other.preprocessing, tmp_path / "b"
    )
    np.testing.assert_array_equal(other.train.x, ds.train.x)
    np.testing.assert_array_equal(other.validation.x, ds.validation.x)
    assert not np.array_equal(other.test.x, ds.test.x)
    proto, flag = ds.preprocessing.categories
    assert proto.values == ("tcp", "udp") and not proto.numeric
    assert flag.values == ("0.0", "1.0") and flag.numeric
    # After the two numeric columns, the one-hot blocks of the unseen "icmp" and 7.0: all zeros
    unseen = ds.preprocessing.scaler(np.zeros(6))[2:]
    np.testing.assert_array_equal(other.test.x[:, 2:], np.broadcast_to(unseen, (len(test), 4)))
    check_reproduces(ds, lambda ids: frame.iloc[ids], tmp_path / "c")


def test_symbolic_numbers_match_as_numbers(tmp_path):
    """A numeric symbolic column trained on floats takes the same values written as integers."""
    frame = pd.DataFrame({"x": np.arange(12.0), "flag": np.tile([0.0, 1.0, 2.0], 4)})
    parts = (np.arange(8), np.arange(8, 10), np.arange(10, 12))
    y = np.zeros(12, np.int8)
    y[-1] = 1
    ds = tabular.tabular_dataset(
        "toy", "odds", frame, y, parts, scaling="none", impute_how="none", options={},
        where="toy", symbolic=("flag",),
    )  # fmt: skip
    as_ints = pd.DataFrame({"flag": [0, 1, 2], "x": [1, 2, 3]})
    x = reloaded(ds.preprocessing, tmp_path).apply(as_ints)
    np.testing.assert_array_equal(x, [[1, 1, 0, 0], [2, 0, 1, 0], [3, 0, 0, 1]])


def test_unseen_category_indicator_marks_values_no_training_row_holds(tmp_path):
    """Each symbolic block is followed by one indicator, 1 exactly for a value (text or number)
    the training rows never hold, 0 on every training row; it survives saving, and a saved file
    from before the indicator (no "unseen" key) loads without one."""
    frame = pd.DataFrame(
        {
            "x": np.arange(8.0),
            "proto": ["tcp", "udp"] * 3 + ["icmp", "tcp"],
            "flag": [0, 1] * 3 + [7, 1],
        }
    )
    parts = (np.arange(4), np.arange(4, 6), np.arange(6, 8))
    y = np.array([0] * 7 + [1], np.int8)
    ds = tabular.tabular_dataset(
        "toy", "odds", frame, y, parts, scaling="none", impute_how="none", options={},
        where="toy", symbolic=("proto", "flag"), unseen_indicator=True,
    )  # fmt: skip
    # x | proto: tcp udp unseen | flag: 0.0 1.0 unseen
    np.testing.assert_array_equal(
        ds.train.x[:, 1:], np.tile([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 1, 0]], (2, 1))
    )
    np.testing.assert_array_equal(ds.test.x, [[6, 0, 0, 1, 0, 0, 1], [7, 1, 0, 0, 0, 1, 0]])
    check_reproduces(ds, lambda ids: frame.iloc[ids], tmp_path / "run")
    document = json.loads((tmp_path / "run" / "preprocessing.json").read_text())
    assert [c["unseen"] for c in document["categories"]] == [True, True]
    for c in document["categories"]:
        del c["unseen"]
    (tmp_path / "run" / "preprocessing.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match="not a valid preprocessing file"):
        Preprocessing.load(tmp_path / "run")  # 7 features saved, 5 without the indicators
    old = tabular.tabular_dataset(
        "toy", "odds", frame, y, parts, scaling="none", impute_how="none", options={},
        where="toy", symbolic=("proto", "flag"),
    )  # fmt: skip
    check_reproduces(old, lambda ids: frame.iloc[ids], tmp_path / "old")
    assert old.test.x.shape == (2, 5)


def test_series_raw_windows_reproduce_the_splits(tmp_path):
    rng = np.random.default_rng(0)
    free = rng.normal(20.0, 3.0, (200, 3))
    test = rng.normal(20.0, 3.0, (90, 3))
    labels = np.zeros(90, np.int8)
    labels[40:50] = 1
    ds = series.time_series_protocol(
        "toy", free, [("run", test, labels)], window=8, step=3, validation_fraction=0.2,
        scaling="minmax", options={}, columns=("a", "b", "c"),
    )  # fmt: skip
    preprocessing = reloaded(ds.preprocessing, tmp_path)
    assert preprocessing.raw_shape == (8, 3) and preprocessing.columns == ("a", "b", "c")
    raw, _ = sliding_windows(test, 8, 3)
    np.testing.assert_array_equal(preprocessing.apply(raw), ds.test.x)
    raw_train, _ = sliding_windows(free[:160], 8, 3)
    np.testing.assert_array_equal(preprocessing.apply(raw_train), ds.train.x)


def test_every_leaderboard_fold_has_its_own_preprocessing():
    rng = np.random.default_rng(0)
    runs = [(f"r{i}", rng.normal(i, 1.0 + i, (460, 2)), np.zeros(460, np.int8)) for i in range(2)]
    ds = series._skab_leaderboard(runs, 6, 3, "standard", {}, columns=("p", "q"))
    assert ds.preprocessing is None
    for fold, (_, points, _) in zip(ds.folds, runs, strict=True):
        raw, _ = sliding_windows(points[400:], 6, 3)
        np.testing.assert_array_equal(fold.preprocessing.apply(raw), fold.test.x)
    shifts = [fold.preprocessing.scaler.shift for fold in ds.folds]
    assert not np.array_equal(*shifts)


def test_image_sets_carry_their_size_and_channels(tmp_path):
    ds = data.load("digits", image_size=16)
    preprocessing = reloaded(ds.preprocessing, tmp_path)
    assert preprocessing.raw_shape == (16, 16, 1) and preprocessing.fit == "stretch"
    pixels = np.round(load_digits().images * (255 / 16)).astype(np.uint8)
    train, test = hold_out(len(pixels), 0.2, salt=-2)
    source = np.concatenate([pixels[train], pixels[test]])  # how the digits loader numbers ids
    raw = source[ds.test.ids]
    np.testing.assert_array_equal(preprocessing.apply(raw, resize=True), ds.test.x)
    with pytest.raises(DataError, match=r"shape \(8, 8, 1\), the run was trained on \(16, 16, 1\)"):
        preprocessing.apply(raw)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda folder: (folder / "preprocessing.json").unlink(), "no preprocessing.json"),
        (lambda folder: (folder / "preprocessing.json").write_text("{"), "unreadable"),
        (lambda folder: (folder / "preprocessing.npz").unlink(), "preprocessing.npz.* missing"),
        (
            lambda folder: np.savez(
                folder / "preprocessing.npz", shift=np.zeros(2), width=np.ones(2)
            ),
            "shift must be 30 finite float64 values",
        ),
        (
            lambda folder: (folder / "preprocessing.json").write_text(
                (folder / "preprocessing.json").read_text().replace('"standard"', '"robust"')
            ),
            "bad scaling 'robust'",
        ),
    ],
)
def test_missing_or_corrupt_preprocessing_is_one_line(tmp_path, damage, message):
    data.load("breast-cancer").preprocessing.save(tmp_path)
    damage(tmp_path)
    with pytest.raises(DataError, match=message) as error:
        Preprocessing.load(tmp_path)
    assert "\n" not in str(error.value)


# --- CIFAR-10 python batches: a restricted unpickler -------------------------------------------


def _batch(n: int, protocol: int, python2: bool = False) -> bytes:
    """A CIFAR-10 python batch as the official files hold it (a dict with numpy uint8 data)."""
    pixels = np.arange(n * 3072).astype(np.uint8).reshape(n, 3072)
    batch = {b"batch_label": b"toy", b"labels": list(range(n)), b"data": pixels}
    text = pickle.dumps(batch, protocol=protocol)
    # The official files come from Python 2 and numpy 1, whose module is numpy.core.multiarray
    return text.replace(b"numpy._core.multiarray", b"numpy.core.multiarray") if python2 else text


@pytest.mark.parametrize(("protocol", "python2"), [(2, True), (2, False), (4, False), (5, False)])
def test_cifar_batches_still_load(tmp_path, protocol, python2):
    (tmp_path / "data_batch_1").write_bytes(_batch(3, protocol, python2))
    x, labels = images._cifar_batch(tmp_path / "data_batch_1")
    assert x.shape == (3, 32, 32, 3) and labels.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(
        x[1, 0, 0], [3072 % 256, (3072 + 1024) % 256, (3072 + 2048) % 256]
    )


class _Creates:
    """Unpickling this calls open(path, "w"): the file would appear if the call ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


class _Runs:
    """Unpickling this runs a shell command."""

    def __reduce__(self):
        return (os.system, ("echo unpickled",))


@pytest.mark.parametrize("payload", ["open", "system"])
def test_crafted_cifar_batch_runs_nothing(tmp_path, payload):
    created = tmp_path / "created"
    evil = _Creates(created) if payload == "open" else _Runs()
    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": evil, b"labels": []}))
    with pytest.raises(DataError, match="data_batch_1: not a CIFAR-10 python batch .*refused"):
        images._cifar_batch(tmp_path / "data_batch_1")
    assert not created.exists()


# --- real data sets --------------------------------------------------------------------------


def test_kddcup99_raw_rows_and_csv_lines_reproduce_the_splits(data_dir, tmp_path):
    ds = data.load("kddcup99")
    frame = tabular.read_kdd(tabular._kdd_file("10-percent"))
    frame.pop("label")
    check_reproduces(ds, lambda ids: frame.iloc[ids], tmp_path / "run", limit=3000)
    assert [c.column for c in ds.preprocessing.categories] == list(tabular.KDD_SYMBOLIC)
    assert all(c.unseen for c in ds.preprocessing.categories)
    assert ds.train.x.shape[1] == 121  # 114 one-hot and numeric columns, 7 unseen indicators
    # Lines of the source file, label column cut, score as the test split did.
    with gzip.open(tabular._kdd_file("10-percent"), "rt") as f:
        lines = [next(f) for _ in range(2000)]
    wanted = ds.test.ids[ds.test.ids < len(lines)][:300]
    rows = "".join(lines[i].rsplit(",", 1)[0] + "\n" for i in wanted)
    (tmp_path / "rows.csv").write_text(rows)
    x, names = read_inputs([tmp_path / "rows.csv"], Preprocessing.load(tmp_path / "run"))
    np.testing.assert_array_equal(x, ds.test.x[: len(wanted)])
    assert names[1] == f"{tmp_path / 'rows.csv'}[1]"


def test_arrhythmia_raw_rows_reproduce_the_splits(data_dir, tmp_path):
    ds = data.load("arrhythmia")
    x, _ = tabular.read_mat(Path(data_dir) / "arrhythmia" / "arrhythmia.mat")
    check_reproduces(ds, lambda ids: x[ids], tmp_path)
    uci = data.load("arrhythmia", source="uci", impute="median")
    frame, _ = tabular.read_uci_arrhythmia(Path(data_dir) / "arrhythmia" / "arrhythmia.data")
    check_reproduces(uci, lambda ids: frame.iloc[ids].to_numpy(), tmp_path / "uci")
    assert uci.preprocessing.imputation.method == "median"
