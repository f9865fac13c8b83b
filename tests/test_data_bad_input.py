"""Bad input gives a DataError naming the file and what was expected.

Broken inputs are small copies of the real files made in a temporary folder (GANAD_DATA_DIR is
pointed there); tests that copy real files skip where GANAD_DATA_DIR is unset.
"""

from __future__ import annotations

import gzip
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from ganad_jax import data
from ganad_jax.data import DataError
from ganad_jax.data.cache import cached_arrays


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANAD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def real() -> Path:
    value = os.environ.get("GANAD_DATA_DIR")
    if not value:
        pytest.skip("GANAD_DATA_DIR is not set: broken copies are made from the real files")
    return Path(value)


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder that GANAD_DATA_DIR points at."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("GANAD_DATA_DIR", str(folder))
    return folder


# --- names and options -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("mnist-embedded", {"anomaly_class": 10}, "anomaly_class=10 does not exist; classes: 0"),
        ("mnist-embedded", {"protocol": "one-class-normal", "normal_class": -1}, "does not exist"),
        ("mnist-embedded", {"protocol": "leave-one-out"}, "protocol must be one of"),
        ("mnist-embedded", {"anomaly_class": "seven"}, "expects int"),
        (
            "mnist-embedded",
            {"validation_fraction": 1.5},
            r"validation_fraction must be in \[0, 1\)",
        ),
        ("mnist-embedded", {"colour": 1}, "has no option 'colour'"),
        ("breast-cancer", {"scaling": "robust"}, "scaling must be one of"),
        ("mvtec", {}, "needs an argument: mvtec:PATH"),
        ("digits:3", {}, "takes no argument"),
        ("imagenet", {}, "unknown data set 'imagenet'; known: .*odds:NAME"),
    ],
)
def test_bad_names_and_options(name, options, message):
    with pytest.raises(DataError, match=message):
        data.load(name, **options)


def test_bad_image_size():
    with pytest.raises(DataError, match="image_size must be a positive int"):
        data.load("digits", image_size=0)


def test_cache_never_inside_the_data(broken, monkeypatch):
    monkeypatch.setenv("GANAD_CACHE_DIR", str(broken / "cache"))
    with pytest.raises(DataError, match="inside GANAD_DATA_DIR"):
        cached_arrays("x", [], lambda: {"a": np.zeros(1)})
    assert not (broken / "cache").exists()


def test_broken_cache_entry_is_rebuilt(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3)}

    first = cached_arrays("t", [], build)
    (entry,) = (tmp_path / "cache").glob("t-*.npz")
    entry.write_bytes(entry.read_bytes()[:20])  # truncated
    again = cached_arrays("t", [], build)
    np.testing.assert_array_equal(again["a"], first["a"])
    assert len(calls) == 2 and len(list((tmp_path / "cache").glob("t-*.npz"))) == 1


# --- missing files ---------------------------------------------------------------------------


def test_unset_data_dir(monkeypatch):
    monkeypatch.delenv("GANAD_DATA_DIR", raising=False)
    with pytest.raises(DataError, match="GANAD_DATA_DIR is not set"):
        data.load("skab")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("kolektorsdd", "no images under .*kolektorsdd"),
        ("skab", r"missing .*skab/data/anomaly-free/anomaly-free.csv"),
        ("smap:P-1", r"missing .*smap_msl/labeled_anomalies.csv"),
        ("arrhythmia", r"missing .*arrhythmia/arrhythmia.mat"),
        ("odds:cardio", r"no ODDS file cardio.mat"),
        ("glass", r"glass_mvtec is not a folder"),
    ],
)
def test_missing_files(broken, name, message):
    with pytest.raises(DataError, match=message):
        data.load(name)


# --- archives and images ---------------------------------------------------------------------


def test_truncated_idx_file(real, broken):
    shutil.copytree(real / "mnist", broken / "mnist")
    labels = broken / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels.chmod(0o644)
    content = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(content[:5000]))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: expected 10000 values"):
        data.load("mnist")


def _small_cifar_zips(real: Path, folder: Path, per_class: int = 2) -> None:
    folder.mkdir()
    for split in ("train", "test"):
        with zipfile.ZipFile(real / "cifar10_jpg" / f"cifar10_jpg_{split}.zip") as source:
            names = sorted(n for n in source.namelist() if n.endswith(".jpg"))
            keep = [n for n in names if int(Path(n).stem) < per_class]
            with zipfile.ZipFile(folder / f"cifar10_jpg_{split}.zip", "w") as target:
                for n in keep:
                    target.writestr(n, source.read(n))


def test_truncated_zip_archive(real, broken):
    _small_cifar_zips(real, broken / "cifar10_jpg")
    test_zip = broken / "cifar10_jpg" / "cifar10_jpg_test.zip"
    test_zip.write_bytes(test_zip.read_bytes()[:-300])
    with pytest.raises(DataError, match=r"cifar10_jpg_test.zip: not a readable zip archive"):
        data.load("cifar10")


def test_corrupt_image_in_archive(real, broken):
    _small_cifar_zips(real, broken / "cifar10_jpg")
    path = broken / "cifar10_jpg" / "cifar10_jpg_train.zip"
    with zipfile.ZipFile(path) as archive:
        entries = {n: archive.read(n) for n in archive.namelist()}
    entries["train/cat/0001.jpg"] = entries["train/cat/0001.jpg"][:100]
    with zipfile.ZipFile(path, "w") as archive:
        for n, content in entries.items():
            archive.writestr(n, content)
    with pytest.raises(DataError, match=r"cifar10_jpg_train.zip:train/cat/0001.jpg: cannot decode"):
        data.load("cifar10")


def test_small_cifar_copy_loads_and_class_names_are_checked(real, broken):
    _small_cifar_zips(real, broken / "cifar10_jpg")
    ds = data.load("cifar10", anomaly_class="ship")
    assert len(ds.test) == 20 + 2 and ds.test.y.sum() == 4
    with pytest.raises(DataError, match=r"anomaly_class='unicorn' does not exist; .*8=ship"):
        data.load("cifar10", anomaly_class="unicorn")


def _glass_copy(real: Path, folder: Path) -> Path:
    root = folder / "glass_mvtec"
    shutil.copytree(real / "glass_mvtec", root, copy_function=shutil.copyfile)
    return root


def test_corrupt_image_and_missing_mask(real, broken):
    root = _glass_copy(real, broken)
    (root / "ground_truth" / "edge" / "003_mask.png").unlink()
    with pytest.raises(DataError, match=r"missing mask .*edge/003_mask.png for .*edge/003.png"):
        data.load("glass")
    mask = "ground_truth/edge/003_mask.png"
    shutil.copyfile(real / "glass_mvtec" / mask, root / mask)
    image = root / "test" / "angle" / "002.png"
    image.write_bytes(image.read_bytes()[:200])
    with pytest.raises(DataError, match=r"angle/002.png: cannot decode the image"):
        data.load("glass")


def test_mvtec_without_normal_training_images(real, broken):
    root = _glass_copy(real, broken)
    with pytest.raises(
        DataError, match=r"no normal training images: .*train/good.*train_good_fraction"
    ):
        data.load(f"mvtec:{root}")


def test_image_folder_without_normal_images(real, tmp_path):
    folder = tmp_path / "images"
    shutil.copytree(real / "glass_mvtec" / "test" / "edge", folder / "edge")
    shutil.copytree(real / "glass_mvtec" / "test" / "angle", folder / "angle")
    with pytest.raises(
        DataError, match=r"no normal images: expected a sub-folder good/ or normal/"
    ):
        data.load(f"folder:{folder}")
    (folder / "good").mkdir()
    with pytest.raises(DataError, match=r"no normal images.*found: angle, edge"):
        data.load(f"folder:{folder}")
    with pytest.raises(DataError, match=r"no normal images: expected a sub-folder ok/"):
        data.load(f"folder:{folder}", normal_class="ok")


def test_bad_yolo_polygons(real, broken):
    root = broken / "kolektorsdd" / "Datasets"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    for stem in ("000", "005"):
        image = f"images/train/{stem}.jpg"
        shutil.copyfile(real / "kolektorsdd" / "Datasets" / image, root / image)
    (root / "labels" / "train" / "000.txt").write_text("")
    with pytest.raises(DataError, match=r"missing YOLO label file .*005.txt"):
        data.load("kolektorsdd")
    (root / "labels" / "train" / "005.txt").write_text("0 0.1 0.2 0.3 0.4 0.5\n")
    with pytest.raises(DataError, match=r"005.txt:1: a polygon needs an even number"):
        data.load("kolektorsdd")


# --- tables ----------------------------------------------------------------------------------


def _kdd_lines(real: Path, n: int = 400) -> list[str]:
    with gzip.open(real / "kddcup99" / "kddcup.data_10_percent.gz", "rt") as f:
        return [next(f) for _ in range(n)]


def _write_kdd(broken: Path, lines: list[str]) -> Path:
    (broken / "kddcup99").mkdir(exist_ok=True)
    path = broken / "kddcup99" / "kddcup.data_10_percent.gz"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    return path


def test_kdd_csv_without_label_column(real, broken):
    _write_kdd(broken, [line.rsplit(",", 1)[0] + "\n" for line in _kdd_lines(real)])
    with pytest.raises(DataError, match=r"expected 42 comma-separated columns .* found 41"):
        data.load("kddcup99")


def test_kdd_csv_with_non_numeric_value(real, broken):
    lines = _kdd_lines(real)
    fields = lines[7].split(",")
    fields[4] = "lots"
    lines[7] = ",".join(fields)
    _write_kdd(broken, lines)
    with pytest.raises(DataError, match=r"column 'src_bytes' holds a non-numeric value 'lots'"):
        data.load("kddcup99")


def test_truncated_gzip_csv(real, broken):
    path = _write_kdd(broken, _kdd_lines(real, 3000))
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError, match=r"kddcup.data_10_percent.gz: cannot read the CSV"):
        data.load("kddcup99")


def test_nan_features_fail_unless_imputed(real, broken):
    (broken / "arrhythmia").mkdir()
    shutil.copyfile(real / "arrhythmia/arrhythmia.data", broken / "arrhythmia/arrhythmia.data")
    with pytest.raises(DataError, match=r"arrhythmia.data: missing values \(NaN\) in column"):
        data.load("arrhythmia", source="uci")
    ds = data.load("arrhythmia", source="uci", impute="median")
    assert all(np.isfinite(s.x).all() for s in ds.splits().values())


def test_odds_mat_without_labels(broken):
    (broken / "odds").mkdir()
    scipy.io.savemat(broken / "odds" / "tiny.mat", {"X": np.eye(4)})
    with pytest.raises(DataError, match=r"tiny.mat: expected variables X \(N, D\) and y"):
        data.load("odds:tiny")
    (broken / "odds" / "junk.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(DataError, match=r"junk.mat: not a readable .mat file"):
        data.load("odds:junk")


# --- series ----------------------------------------------------------------------------------


def _skab_copy(real: Path, broken: Path) -> Path:
    root = broken / "skab" / "data"
    for part in ("anomaly-free/anomaly-free.csv", "valve1/1.csv", "valve1/2.csv"):
        (root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real / "skab" / "data" / part, root / part)
    return root


def test_series_csv_missing_label_column(real, broken):
    root = _skab_copy(real, broken)
    run = root / "valve1" / "2.csv"
    lines = run.read_text().splitlines()
    run.write_text("\n".join(line.rsplit(";", 2)[0] for line in lines) + "\n")
    with pytest.raises(DataError, match=r"valve1/2.csv: missing column\(s\) 'anomaly'"):
        data.load("skab")


def test_series_csv_non_numeric_value(real, broken):
    root = _skab_copy(real, broken)
    run = root / "valve1" / "1.csv"
    lines = run.read_text().splitlines()
    fields = lines[10].split(";")
    fields[3] = "n/a?"
    lines[10] = ";".join(fields)
    run.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"valve1/1.csv: column 'Current' holds a non-numeric"):
        data.load("skab")


def test_series_window_longer_than_a_run(real, broken):
    _skab_copy(real, broken)
    with pytest.raises(DataError, match=r"shorter than the window"):
        data.load("skab", protocol="time-series", window=5000, validation_fraction=0.0)
    with pytest.raises(DataError, match=r"too few for the leaderboard"):
        data.load("skab", window=5000)
    with pytest.raises(DataError, match=r"protocol must be one of leaderboard, time-series"):
        data.load("skab", protocol="nab")


def test_corrupt_telemetry_archive(real, broken):
    (broken / "smap_msl").mkdir()
    table = "smap_msl/labeled_anomalies.csv"
    shutil.copyfile(real / table, broken / table)
    (broken / "smap_msl" / "SMAP_MSL.zip").write_bytes(
        (real / "smap_msl" / "SMAP_MSL.zip").read_bytes()[:4096]
    )
    with pytest.raises(DataError, match=r"SMAP_MSL.zip.*P-1.npy"):
        data.load("smap:P-1")


def test_swat_layout_missing_label_column(real, tmp_path):
    free = (real / "skab/data/anomaly-free/anomaly-free.csv").read_text().replace(";", ",")
    (tmp_path / "SWaT_Dataset_Normal_v1.csv").write_text(free)
    (tmp_path / "SWaT_Dataset_Attack_v0.csv").write_text(free)
    with pytest.raises(DataError, match=r"Attack_v0.csv: missing label column 'Normal/Attack'"):
        data.load(f"swat:{tmp_path}", warmup=0)


def test_series_step_longer_than_window(real, broken):
    _skab_copy(real, broken)
    with pytest.raises(DataError, match=r"need 1 <= step <= window, got window=8, step=9"):
        data.load("skab", window=8, step=9)


def test_swat_training_file_with_attack_rows(real, tmp_path):
    free = (real / "skab/data/anomaly-free/anomaly-free.csv").read_text().replace(";", ",")
    lines = free.splitlines()
    labelled = [lines[0] + ",Normal/Attack"] + [f"{row},Normal" for row in lines[1:]]
    labelled[50] = labelled[50].replace(",Normal", ",Attack")
    for name in ("SWaT_Dataset_Normal_v1.csv", "SWaT_Dataset_Attack_v0.csv"):
        (tmp_path / name).write_text("\n".join(labelled) + "\n")
    with pytest.raises(DataError, match=r"Normal_v1.csv: 1 rows are not labelled 'Normal'"):
        data.load(f"swat:{tmp_path}", warmup=0, drop_columns="datetime")
