"""Data sets by name through their protocols: shapes, class counts, disjoint splits, fixed tests.

Tests on real files read GANAD_DATA_DIR and skip where it is unset; embedded sets always run.
Decoded arrays are cached in a per-session temporary folder, never in the user's cache.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ganad_jax import data
from ganad_jax.data import DataError, Windows, show

NEEDS_DATA = "GANAD_DATA_DIR is not set: this test reads the real data files (../shared/data)"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANAD_CACHE_DIR", str(tmp_path_factory.mktemp("ganad_cache")))
        yield


@pytest.fixture(scope="session")
def root() -> Path:
    value = os.environ.get("GANAD_DATA_DIR")
    if not value:
        pytest.skip(NEEDS_DATA)
    return Path(value)


def check_protocol(ds: data.Dataset, shape: tuple[int, ...]) -> None:
    """Shapes and dtypes, normal-only train/validation, both classes in test, disjoint ids."""
    for part, split in ds.splits().items():
        assert split.x.shape[1:] == shape, part
        assert split.x.dtype == np.float32 and split.y.dtype == np.int8, part
        assert len(split.y) == len(split.x), part
        assert np.isfinite(split.x).all(), part
        if ds.modality == "image":
            assert split.x.min() >= -1 and split.x.max() <= 1, part
    assert len(ds.train) > 0 and len(ds.validation) > 0
    assert not ds.train.y.any() and not ds.validation.y.any()
    assert set(np.unique(ds.test.y)) == {0, 1}
    if ds.train.ids is not None:
        ids = [set(s.ids.tolist()) for s in ds.splits().values()]
        assert all(len(i) == len(s) for i, s in zip(ids, ds.splits().values(), strict=True))
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    if ds.test.masks is not None:
        assert ds.test.masks.shape == (len(ds.test), *shape[:2])
        assert not ds.test.masks[ds.test.y == 0].any()
        assert all(m.any() for m in ds.test.masks[ds.test.y == 1])
    json.dumps(ds.summary())  # reports store it


def check_seed_independent(name: str, ds: data.Dataset, **options) -> None:
    """The test rows and labels move neither with the global seed nor the validation fraction.

    Image pixels are fixed too; table and series features are scaled with statistics of the
    training rows, so there only the rows (ids, window positions) and labels are compared.
    """
    np.random.seed(12345)  # noqa: NPY002  (a loader must not depend on the global state)
    other = data.load(name, validation_fraction=0.25, **options)
    assert len(other.validation) > len(ds.validation)
    np.testing.assert_array_equal(other.test.y, ds.test.y)
    if ds.test.ids is not None:
        np.testing.assert_array_equal(other.test.ids, ds.test.ids)
    if ds.test.windows is not None:
        np.testing.assert_array_equal(other.test.windows.start, ds.test.windows.start)
        np.testing.assert_array_equal(other.test.windows.run, ds.test.windows.run)
    if ds.modality == "image":
        np.testing.assert_array_equal(other.test.x, ds.test.x)


def counts(ds: data.Dataset, part: str) -> dict[str, int]:
    return ds.summary()["class_counts"][part]


# --- embedded sets ---------------------------------------------------------------------------


def test_mnist_embedded_both_one_class_protocols():
    ds = data.load("mnist-embedded", anomaly_class=3)
    check_protocol(ds, (28, 28, 1))
    assert (
        ds.protocol == "one-class-anomalous"
        and len(ds.train) + len(ds.validation) + len(ds.test) == 5000
    )
    assert "3" not in counts(ds, "train") and counts(ds, "test")["3"] == ds.test.y.sum()
    check_seed_independent("mnist-embedded", ds, anomaly_class=3)
    alad = data.load("mnist-embedded", protocol="one-class-normal", normal_class="7")
    check_protocol(alad, (28, 28, 1))
    assert alad.protocol == "one-class-normal" and list(counts(alad, "train")) == ["7"]
    assert len(alad.test) == 1000 and alad.test.y.sum() == 1000 - counts(alad, "test")["7"]


def _released_ganomaly_split(trn_lbl, tst_lbl, abnormal, seed):
    """GANomaly's `lib/data.py` (`get_mnist_anomaly_dataset`, `manualseed != -1`) written out on
    the ids of the images (training file rows, then test file rows): (train ids, test ids)."""
    trn_ids, tst_ids = np.arange(len(trn_lbl)), len(trn_lbl) + np.arange(len(tst_lbl))
    nrm = np.concatenate([trn_ids[trn_lbl != abnormal], tst_ids[tst_lbl != abnormal]])
    idx = np.arange(len(nrm))
    np.random.seed(seed)  # noqa: NPY002 -- the released code's own calls
    np.random.shuffle(idx)  # noqa: NPY002
    cut = int(len(idx) * 0.80)
    abn = np.concatenate([trn_ids[trn_lbl == abnormal], tst_ids[tst_lbl == abnormal]])
    return nrm[idx[:cut]], np.concatenate([nrm[idx[cut:]], abn])


def test_pooled_seed_makes_the_released_ganomaly_split():
    ds = data.load("mnist-embedded", anomaly_class=3, pooled_seed=2)
    files = data.load("mnist-embedded", anomaly_class=3)
    labels = np.zeros(5000, np.int64)  # by id: the 4,000 "training file" rows, then the test rows
    for split in files.splits().values():
        labels[split.ids] = split.classes
    train, test = _released_ganomaly_split(labels[:4000], labels[4000:], 3, 2)
    held = np.concatenate([ds.train.ids, ds.validation.ids])
    np.testing.assert_array_equal(np.sort(held), np.sort(train))  # validation: from the 80 %
    assert 0.09 < len(ds.validation) / len(train) < 0.11
    np.testing.assert_array_equal(ds.test.ids, test)
    assert ds.test.y.sum() == (labels == 3).sum()
    assert not np.array_equal(np.sort(ds.test.ids), np.sort(files.test.ids))
    assert ds.options["pooled_seed"] == 2 and files.options["pooled_seed"] == -1
    with pytest.raises(DataError, match="pooled_seed is an option of protocol=one-class-anomalous"):
        data.load("mnist-embedded", protocol="one-class-normal", pooled_seed=0)
    with pytest.raises(DataError, match="pooled_seed must be -1"):
        data.load("mnist-embedded", pooled_seed=-2)


def test_digits_resized():
    ds = data.load("digits", image_size=16, anomaly_class=9)
    check_protocol(ds, (16, 16, 1))
    assert sum(len(s) for s in ds.splits().values()) == 1797
    check_seed_independent("digits", ds, anomaly_class=9, image_size=16)


def test_breast_cancer_odds_protocol():
    ds = data.load("breast-cancer")
    check_protocol(ds, (30,))
    assert counts(ds, "test") == {"malignant": 106, "benign": 178}  # half of 212 / 357, stratified
    assert set(counts(ds, "train")) == {"benign"}
    assert abs(ds.train.x.mean(axis=0)).max() < 1e-5  # standardised with training statistics only
    check_seed_independent("breast-cancer", ds)


def test_windows_map_scores_back_to_points():
    windows = Windows(3, np.array([0, 0, 0]), np.array([0, 2, 3]), (np.zeros(6, np.int8),), ("r",))
    max_scores = windows.point_scores(np.array([1.0, 5.0, 2.0]))[0]
    np.testing.assert_array_equal(max_scores, [1, 1, 5, 5, 5, 2])
    mean_scores = windows.point_scores(np.array([1.0, 5.0, 2.0]), reduce="mean")[0]
    np.testing.assert_allclose(mean_scores, [1, 1, 3, 3.5, 3.5, 2])


def test_registry_lists_every_issue_name():
    expected = {"mnist-embedded", "digits", "breast-cancer", "mnist", "cifar10", "svhn"}
    expected |= {"kddcup99", "arrhythmia", "odds", "mvtec", "glass", "kolektorsdd", "folder"}
    expected |= {"skab", "smap", "msl", "swat", "wadi"}
    assert expected <= set(data.names())
    table = data.table()
    for name in ("odds:NAME", "mvtec:PATH", "smap:CHANNEL", "folder:PATH", "wadi:PATH"):
        assert name in table
    for name in data.names():  # every default is a JSON scalar, so --set can coerce to it
        assert all(isinstance(v, (str, int, float, bool)) for v in data.get(name).defaults.values())


def test_show_writes_figures(tmp_path):
    for name, modality in (("mnist-embedded", "image"), ("breast-cancer", "tabular")):
        result = show.show(name, tmp_path)
        assert result["modality"] == modality and Path(result["figure"]).stat().st_size > 1000


# --- real files ------------------------------------------------------------------------------


def test_mnist(root):
    ds = data.load("mnist", anomaly_class=2)
    check_protocol(ds, (28, 28, 1))
    assert len(ds.train) + len(ds.validation) + len(ds.test) == 70000
    assert ds.test.y.sum() == 5958 + 1032  # the 2s of the training and test splits
    check_seed_independent("mnist", ds, anomaly_class=2)


@pytest.fixture(scope="module")
def cifar(root) -> data.Dataset:
    return data.load("cifar10", anomaly_class="cat")


@pytest.mark.slow
def test_cifar10_jpeg_zips_and_cache(root, cifar, monkeypatch):
    check_protocol(cifar, (32, 32, 3))
    assert cifar.class_names[3] == "cat" and len(cifar.class_names) == 10
    assert counts(cifar, "test")["cat"] == 6000 and len(cifar.test) == 15000
    assert len(cifar.train) + len(cifar.validation) == 45000
    cached = list(Path(os.environ["GANAD_CACHE_DIR"]).glob("cifar10-jpg-*.npz"))
    assert len(cached) == 1 and not list(root.rglob("*.npz"))  # cached outside the data

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second load must come from the cache")

    monkeypatch.setattr("ganad_jax.data.images._read_jpeg_zip", no_decoding)
    start = time.perf_counter()
    check_seed_independent("cifar10", cifar, anomaly_class="cat")
    assert time.perf_counter() - start < 60
    alad = data.load("cifar10", protocol="one-class-normal", normal_class="3")
    assert len(alad.test) == 10000 and alad.test.y.sum() == 9000
    assert list(counts(alad, "train")) == ["cat"]


def test_cifar10_python_batches(root, cifar, tmp_path, monkeypatch):
    """The official pickle layout, written from a few real images of the JPEG set."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    spread = np.arange(70) * 140  # test rows of every class
    pixels = np.round((cifar.test.x[spread] + 1) * 127.5).astype(np.uint8)
    labels = cifar.test.classes[spread].tolist()
    chw = pixels.transpose(0, 3, 1, 2).reshape(70, -1)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {b"data": chw[10 * i : 10 * i + 10], b"labels": labels[10 * i : 10 * i + 10]}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = {b"label_names": [n.encode() for n in cifar.class_names]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    monkeypatch.setenv("GANAD_DATA_DIR", str(tmp_path))
    ds = data.load("cifar10", protocol="one-class-normal", normal_class=labels[0])
    assert len(ds.test) == 10 and ds.class_names == cifar.class_names
    np.testing.assert_array_equal(ds.test.x, cifar.test.x[spread[50:60]])
    np.testing.assert_array_equal(ds.test.classes, labels[50:60])


@pytest.mark.slow
def test_kddcup99_dagmm_protocol(root):
    ds = data.load("kddcup99")
    assert ds.protocol == "kdd99-dagmm"
    check_protocol(ds, ds.train.x.shape[1:])
    assert len(ds.test) == 494021 // 2 and 0.19 < ds.test.y.mean() < 0.21
    assert "normal" not in counts(ds, "train") and counts(ds, "test")["normal"] == ds.test.y.sum()
    assert ds.options["scaling"] == "none" and ds.train.x.max() > 1e6  # raw, as EGBAD/ALAD's code
    scaled = data.load("kddcup99", scaling="minmax")
    assert scaled.train.x.min() == 0 and scaled.train.x.max() == 1  # fitted on training rows
    assert 100 < ds.train.x.shape[1] <= 121  # one-hot categories seen in training
    check_seed_independent("kddcup99", ds)
    corrected = data.load("kddcup99", test_set="corrected")
    check_protocol(corrected, corrected.train.x.shape[1:])
    assert len(corrected.test) == 311029 and corrected.test.y.sum() == 60593


def test_arrhythmia_odds_and_uci_agree(root):
    ds = data.load("arrhythmia")
    check_protocol(ds, (274,))
    assert len(ds.test) == 226 and ds.test.y.sum() == 33  # half of the 66 outliers
    check_seed_independent("arrhythmia", ds)
    by_path = data.load("odds:arrhythmia")
    np.testing.assert_array_equal(by_path.test.x, ds.test.x)
    # The raw UCI file, with ODDS's choices (drop the 5 columns with '?', small classes are
    # outliers), reproduces the ODDS matrix and hence the same splits.
    uci = data.load("arrhythmia", source="uci", impute="drop-columns")
    np.testing.assert_allclose(uci.test.x, ds.test.x, atol=1e-6)
    np.testing.assert_array_equal(uci.test.y, ds.test.y)
    with pytest.raises(DataError, match="impute"):
        data.load("arrhythmia", source="uci")
    median = data.load("arrhythmia", source="uci", impute="median")
    assert median.train.x.shape[1] == 279


def test_glass_mvtec_layout(root):
    ds = data.load("glass", image_size=64)
    check_protocol(ds, (64, 64, 1))
    assert counts(ds, "test") == {"good": 9, "angle": 24, "edge": 56}
    assert len(ds.train) + len(ds.validation) == 9
    assert all(i.startswith("test/good/") for i in ds.train.ids)
    check_seed_independent("glass", ds, image_size=64)
    as_mvtec = data.load(f"mvtec:{root / 'glass_mvtec'}", image_size=64, train_good_fraction=0.5)
    np.testing.assert_array_equal(as_mvtec.test.masks, ds.test.masks)


def test_mvtec_folder_with_train_good(root, tmp_path):
    """A full MVTec layout built from copies of the real glass images."""
    source = root / "glass_mvtec"
    shutil.copytree(source / "ground_truth", tmp_path / "ground_truth")
    for defect in ("angle", "edge"):
        shutil.copytree(source / "test" / defect, tmp_path / "test" / defect)
    goods = sorted((source / "test" / "good").iterdir())
    for folder, files in (("train/good", goods[:12]), ("test/good", goods[12:])):
        (tmp_path / folder).mkdir(parents=True)
        for f in files:
            shutil.copy(f, tmp_path / folder / f.name)
    ds = data.load(f"mvtec:{tmp_path}", image_size=32, fit="pad")
    check_protocol(ds, (32, 32, 1))
    assert len(ds.train) + len(ds.validation) == 12 and counts(ds, "test")["good"] == 6
    assert ds.class_names == ("good", "angle", "edge")


def test_image_folder(root, tmp_path):
    for cls, files in (("normal", "test/good/*.png"), ("crack", "test/edge/*.png")):
        (tmp_path / cls).mkdir()
        for f in sorted((root / "glass_mvtec").glob(files)):
            shutil.copy(f, tmp_path / cls / f.name)
    ds = data.load(f"folder:{tmp_path}", image_size=32, channels=3)
    check_protocol(ds, (32, 32, 3))
    assert ds.test.masks is None and counts(ds, "test") == {"normal": 5, "crack": 56}


def test_kolektorsdd_polygon_masks(root):
    ds = data.load("kolektorsdd", image_size=64)
    check_protocol(ds, (64, 64, 1))
    assert counts(ds, "test")["defect"] == 52 and sum(len(s) for s in ds.splits().values()) == 268
    assert counts(ds, "test")["good"] == round(216 * 0.3)
    check_seed_independent("kolektorsdd", ds, image_size=64)


def _run_points(split: data.Split, run: int) -> np.ndarray:
    w = split.windows
    points = np.zeros((len(w.labels[run]), split.x.shape[-1]), np.float32)
    for i in np.flatnonzero(w.run == run):
        points[w.start[i] : w.start[i] + w.length] = split.x[i]
    return points


def test_skab_leaderboard(root):
    """SKAB's own protocol: a fold per labelled file, first 400 rows train (scaled there)."""
    ds = data.load("skab", window=30, step=10)
    assert ds.protocol == "leaderboard" and len(ds.folds) == 34
    for fold in ds.folds:
        assert fold.train.x.shape == (400 - 30 + 1, 30, 8)
        train = _run_points(fold.validation, 0)
        assert len(train) == 400
        np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-5)  # standard, fitted there
        rows = len(pd.read_csv(root / "skab/data" / f"{fold.name[5:]}.csv", sep=";"))
        assert len(fold.test.windows.labels[0]) == rows - 400
    assert len(ds.test) == sum(len(f.test) for f in ds.folds)
    assert ds.test.windows.run_names == tuple(f.name[5:] for f in ds.folds)


def test_skab_time_series(root):
    ds = data.load("skab", protocol="time-series", window=16, step=4)
    check_protocol(ds, (16, 8))
    w = ds.test.windows
    runs = [p for p in (root / "skab/data").glob("*/*.csv") if p.parent.name != "anomaly-free"]
    frames = [pd.read_csv(p, sep=";") for p in runs]
    assert len(w.run_names) == len(runs) == 34
    assert sum(len(labels) for labels in w.labels) == sum(len(f) for f in frames)
    anomalous = sum(f["anomaly"].sum() for f in frames)
    assert sum(int(labels.sum()) for labels in w.labels) == anomalous
    assert ds.validation.windows.run_names == ("validation",)
    train_points = len(ds.train.windows.labels[0]) + len(ds.validation.windows.labels[0])
    assert train_points == 9405  # train and validation are disjoint slices of anomaly-free.csv
    first = _run_points(ds.test, 0)
    assert first.shape == (len(w.labels[0]), 8)
    scores = w.point_scores(ds.test.y.astype(float))
    assert all((s >= labels).all() for s, labels in zip(scores, w.labels, strict=True))
    check_seed_independent("skab", ds, protocol="time-series", window=16, step=4)


def test_smap_and_msl_channels(root):
    ds = data.load("smap:P-1")
    check_protocol(ds, (32, 25))
    labels = ds.test.windows.labels[0]
    assert len(labels) == 8505 and labels.sum() == (201 + 309 + 241)
    check_seed_independent("smap:P-1", ds)
    msl = data.load("msl:M-1", window=8)
    check_protocol(msl, (8, 55))
    with pytest.raises(DataError, match="smap:M-1 does not exist; channels: .*P-1"):
        data.load("smap:M-1")


def _swat_layout(root: Path, folder: Path, label_values: tuple[str, str]) -> None:
    """SKAB rows (real sensor data) written in the SWaT CSV layout."""
    free = pd.read_csv(root / "skab/data/anomaly-free/anomaly-free.csv", sep=";")
    run = pd.read_csv(root / "skab/data/valve1/1.csv", sep=";")
    normal, attack = label_values
    free = free.rename(columns={"datetime": " Timestamp"}).assign(**{"Normal/Attack": normal})
    labels = np.where(run.pop("anomaly") > 0, attack, normal)
    run = run.drop(columns="changepoint").rename(columns={"datetime": " Timestamp"})
    folder.mkdir(exist_ok=True)
    (folder / "SWaT_Dataset_Normal_v1.csv").write_text(",,,\n" + free.to_csv(index=False))
    attack = run.assign(**{"Normal/Attack": labels})
    (folder / "SWaT_Dataset_Attack_v0.csv").write_text(attack.to_csv(index=False))


def test_swat_csv_layout(root, tmp_path):
    _swat_layout(root, tmp_path, ("Normal", "A ttack"))
    ds = data.load(f"swat:{tmp_path}", warmup=100)
    check_protocol(ds, (32, 8))
    run = pd.read_csv(root / "skab/data/valve1/1.csv", sep=";")
    assert ds.test.windows.labels[0].sum() == run["anomaly"].sum()
    assert len(ds.train.windows.labels[0]) + len(ds.validation.windows.labels[0]) == 9405 - 100


def test_wadi_csv_layout(root, tmp_path):
    _swat_layout(root, tmp_path, ("1", "-1"))
    ds = data.load(
        f"wadi:{tmp_path}",
        train_file="SWaT_Dataset_Normal_v1.csv",
        test_file="SWaT_Dataset_Attack_v0.csv",
        label_column="Normal/Attack",
        drop_columns="Timestamp",
        step=1,
    )
    check_protocol(ds, (32, 8))


def test_show_series_and_masks(root, tmp_path):
    for name in ("skab", "glass"):
        result = show.show(name, tmp_path, image_size=32 if name == "glass" else None)
        assert Path(result["figure"]).stat().st_size > 1000


def test_tfds_fallback(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets is not installed")
    if not tfds.builder("mnist").is_prepared():
        pytest.skip("tensorflow-datasets has no prepared mnist in its data dir (no download here)")
    monkeypatch.setenv("GANAD_DATA_DIR", str(tmp_path))  # no local mnist/: tfds is used
    ds = data.load("mnist", anomaly_class=1)
    check_protocol(ds, (28, 28, 1))
    assert len(ds.train) + len(ds.validation) + len(ds.test) == 70000


def test_missing_local_data_names_the_layout(tmp_path, monkeypatch):
    try:
        import tensorflow_datasets  # noqa: F401

        pytest.skip("tensorflow-datasets is installed: it may download instead of failing")
    except ImportError:
        pass
    monkeypatch.setenv("GANAD_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=r"tensorflow-datasets is not installed.*cifar10_jpg"):
        data.load("cifar10")
    with pytest.raises(DataError, match=r"mnist/.*idx"):
        data.load("mnist")
    with pytest.raises(DataError, match=r"only the full KDD.*kddcup.data_10_percent.gz"):
        data.load("kddcup99")


def _stub_tfds(monkeypatch: pytest.MonkeyPatch, sets: dict[str, tuple[dict, dict]]) -> list:
    """A stand-in tensorflow_datasets module serving real arrays; records what was asked for.

    `sets` maps a tfds name to ({split: {feature: array}}, {feature: class names}).
    """
    asked = []

    def load(name, split, batch_size, with_info):
        assert batch_size == -1 and with_info
        asked.append((name, split))
        splits, names = sets[name]
        features = {k: SimpleNamespace(names=v) for k, v in names.items()}
        return splits[split], SimpleNamespace(features=features)

    module = ModuleType("tensorflow_datasets")
    module.load, module.as_numpy = load, lambda tree: tree
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    return asked


def test_tfds_code_path_with_a_stub(root, tmp_path, monkeypatch):
    """The conversion from tfds' arrays, fed with real local files through a stub module."""
    local = data.load("mnist", anomaly_class=4)
    idx = data.images._local_mnist()[0]
    mnist = {
        "train": {"image": idx[0][..., None], "label": idx[1]},
        "test": {"image": idx[2][..., None], "label": idx[3]},
    }
    raw = data.tabular.read_kdd(root / "kddcup99" / "kddcup.data_10_percent.gz").iloc[::50]
    kdd, names = {}, {}
    for column in raw.columns:  # tfds' encoding: class indices, booleans, its own spelling
        key = "is_hot_login" if column == "is_host_login" else column
        values = raw[column].to_numpy()
        if values.dtype == object:
            names[key] = sorted({v.rstrip(".") for v in values} | {"unused"})
            values = np.searchsorted(names[key], [v.rstrip(".") for v in values])
        elif column in ("land", "logged_in", "root_shell", "is_host_login", "is_guest_login"):
            values = values.astype(bool)
        kdd[key] = values
    asked = _stub_tfds(
        monkeypatch,
        {"mnist": (mnist, {"label": list("0123456789")}), "kddcup99": ({"train": kdd}, names)},
    )
    monkeypatch.setenv("GANAD_DATA_DIR", str(tmp_path))  # no local files: tfds is asked
    via_tfds = data.load("mnist", anomaly_class=4)
    np.testing.assert_array_equal(via_tfds.test.x, local.test.x)
    np.testing.assert_array_equal(via_tfds.train.y, local.train.y)
    full = data.load("kddcup99", subset="full")
    assert asked == [("mnist", "train"), ("mnist", "test"), ("kddcup99", "train")]
    assert len(full.test) == len(raw) // 2
    assert full.test.y.sum() == (raw["label"].to_numpy()[full.test.ids] == "normal.").sum()
