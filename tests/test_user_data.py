"""A user's own data: `csv:PATH`, `parquet:PATH` and `npy:PATH` (ganad_jax.data.user).

Tiny tables (150 rows: three numeric columns, one text column, an id and the label) and arrays
written by the tests. The loaders' splits and fitted preprocessing are checked without JAX; every
bad file fails `ganad train` with one line and status 2 before anything is written; one tiny
EGBAD run on a CSV and one tiny BiGAN run on an .npz archive are scored with `ganad score` on the
raw rows, which must give the run's own test scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganad_jax import data
from ganad_jax.cli import main
from ganad_jax.data import Preprocessing
from ganad_jax.data.user import binary_labels
from ganad_jax.files import read_inputs

ROWS = 150
MLP = [
    "--set", "epochs=1", "--set", "batch_size=16", "--set", "latent=4",
    "--set", "encoder_widths=8", "--set", "generator_widths=8", "--set", "discriminator_width=8",
]  # fmt: skip


def make_table(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """An id, three numeric columns, a text column and a 0/1 `target` (about 20 % anomalies)."""
    rng = np.random.default_rng(seed)
    anomaly = rng.random(rows) < 0.2
    return pd.DataFrame(
        {
            "id": np.arange(rows) + 1000,
            "a": rng.normal(size=rows) + 3 * anomaly,
            "b": rng.normal(10, 3, rows),
            "c": rng.integers(0, 5, rows),
            "color": rng.choice(["red", "green", "blue"], rows),
            "target": anomaly.astype(int),
        }
    )


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table") / "rows.csv"
    make_table().to_csv(path, index=False)
    return path


def load_csv(path: Path, **options) -> data.Dataset:
    return data.load(f"csv:{path}", label="target", ignore="id", **options)


def test_csv_splits_by_the_labels_with_every_anomaly_in_test(table_csv):
    frame = pd.read_csv(table_csv)
    ds = load_csv(table_csv)
    assert (ds.protocol, ds.modality, ds.options["normal"]) == ("user-labels", "tabular", "0")
    ids = [split.ids for split in ds.splits().values()]
    assert sum(map(len, ids)) == ROWS and len(np.unique(np.concatenate(ids))) == ROWS
    target = frame["target"].to_numpy()
    assert not target[ds.train.ids].any() and not target[ds.validation.ids].any()
    assert set(np.flatnonzero(target == 1)) <= set(ds.test.ids)
    np.testing.assert_array_equal(ds.test.y, target[ds.test.ids])
    assert (ds.test.y == 0).sum() == round((target == 0).sum() * 0.5)
    # the label and the ignored id are no features; the text column is one-hot encoded
    assert ds.preprocessing.columns == ("a", "b", "c", "color")
    assert [c.column for c in ds.preprocessing.categories] == ["color"]
    assert ds.train.x.shape[1] == 3 + 3
    # the splits are the saved preprocessing applied to the file's rows (ids = row numbers)
    np.testing.assert_array_equal(ds.preprocessing.apply(frame.iloc[ds.test.ids]), ds.test.x)
    np.testing.assert_allclose(ds.train.x[:, :3].mean(axis=0), 0, atol=1e-5)


def test_scaling_and_categories_come_from_training_rows_only(table_csv, tmp_path):
    ds = load_csv(table_csv)
    frame = pd.read_csv(table_csv)
    changed = frame.copy()
    changed.loc[ds.test.ids, "a"] *= 100
    changed.loc[ds.test.ids, "color"] = "purple"
    changed.to_csv(tmp_path / "changed.csv", index=False)
    other = load_csv(tmp_path / "changed.csv")
    for name in ("shift", "width"):
        np.testing.assert_array_equal(
            getattr(other.preprocessing.scaler, name), getattr(ds.preprocessing.scaler, name)
        )
    assert other.preprocessing.categories == ds.preprocessing.categories
    np.testing.assert_array_equal(other.train.x, ds.train.x)
    np.testing.assert_array_equal(other.test.ids, ds.test.ids)
    assert not np.array_equal(other.test.x, ds.test.x)
    changed.loc[ds.train.ids[:1], "a"] += 1.0  # a training row does move the scaling
    changed.to_csv(tmp_path / "changed.csv", index=False)
    moved = load_csv(tmp_path / "changed.csv").preprocessing.scaler.shift
    assert not np.array_equal(moved, ds.preprocessing.scaler.shift)


@pytest.mark.parametrize(
    "values,normal,expected,y",
    [
        ([1, 0, 0, 1, 1], "", ("0",), [1, 0, 0, 1, 1]),  # 0/1: 0 normal, even if less frequent
        ([True, False, True], "", ("0",), [1, 0, 1]),
        (["ok", "bad ", " ok"], "", ("ok",), [0, 1, 0]),  # else the most frequent (stripped)
        ([1, 1, -1, 1], "", ("1",), [0, 0, 1, 0]),  # PyOD's 1 inlier / -1 outlier
        (["a", "b", "c", "c"], "a, b", ("a", "b"), [0, 0, 1, 1]),
        ([2.0, 3.0, 2.0], "2", ("2",), [0, 1, 0]),  # the text of a number names it
    ],
)
def test_the_normal_values(values, normal, expected, y):
    labels = binary_labels(pd.Series(values), normal, "label")
    assert labels.normal == expected
    np.testing.assert_array_equal(labels.y, y)


def test_parquet_reads_like_csv(table_csv, tmp_path):
    pytest.importorskip("pyarrow")
    pd.read_csv(table_csv).to_parquet(tmp_path / "rows.parquet")
    ds = load_csv(table_csv)
    other = data.load(f"parquet:{tmp_path / 'rows.parquet'}", label="target", ignore="id")
    for part in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(other, part).x, getattr(ds, part).x)


def test_npy_images_map_to_the_unit_range_as_score_reads_them(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (60, 12, 12), dtype=np.uint8)
    np.savez(tmp_path / "images.npz", x=x, y=np.array(["ok"] * 45 + ["bad"] * 15))
    name = f"npy:{tmp_path / 'images.npz'}"
    assert data.get(name).modality == "image"
    ds = data.load(name, image_size=16)
    assert ds.train.x.shape[1:] == (16, 16, 1) and ds.options["normal"] == "ok"
    assert ds.train.x.min() >= -1 and ds.train.x.max() <= 1
    ds.preprocessing.save(tmp_path)
    np.save(tmp_path / "raw.npy", x[ds.test.ids])
    inputs, _ = read_inputs([tmp_path / "raw.npy"], Preprocessing.load(tmp_path), resize=True)
    np.testing.assert_array_equal(inputs, ds.test.x)
    floats = rng.uniform(-1, 1, (60, 16, 16, 3)).astype(np.float32)
    np.savez(tmp_path / "floats.npz", x=floats, y=np.r_[np.zeros(45), np.ones(15)])
    ds = data.load(f"npy:{tmp_path / 'floats.npz'}", image_size=16)
    np.testing.assert_array_equal(ds.test.x, floats[ds.test.ids])
    with pytest.raises(data.DataError, match="float images must be 32x32"):
        data.load(f"npy:{tmp_path / 'floats.npz'}", image_size=32)


def _write(tmp_path: Path, case: str) -> str:
    """The --data name of a bad file for `case`."""
    frame = make_table(40)
    if case == "missing":
        return "csv:nope.csv"
    if case == "unreadable":
        (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\xfa\x00garbage\n\x80\x81")
        return "csv:bad.csv"
    if case == "one-value":
        frame = frame.assign(target=0)
    if case == "too-few-normals":
        frame = frame.assign(target=np.r_[0, 0, np.ones(38, int)])
    if case == "tie":
        frame = frame.assign(target=np.r_[np.zeros(20, int), np.full(20, 5)])
    if case == "no-pyarrow":
        (tmp_path / "rows.parquet").write_bytes(b"PAR1 not really")
        return "parquet:rows.parquet"
    if case == "single-array":
        with open(tmp_path / "x.npz", "wb") as f:  # np.save would add .npy to the name
            np.save(f, np.zeros((10, 3)))
        return "npy:x.npz"
    if case == "no-y":
        np.savez(tmp_path / "x.npz", x=np.zeros((10, 3)))
        return "npy:x.npz"
    if case == "not-an-archive":
        (tmp_path / "x.npz").write_text("x,y\n1,0\n")
        return "npy:x.npz"
    frame.to_csv(tmp_path / "rows.csv", index=False)
    return "csv:rows.csv"


ERRORS = [
    ("missing", [], "nope.csv: no such file"),
    ("unreadable", [], "bad.csv: not a readable CSV file"),
    ("no-label-column", [], "no label column 'label' (set label=COLUMN); its columns: id, a, b"),
    ("ignored-column-absent", ["label=target", "ignore=nope"], "no column(s) nope to ignore"),
    ("one-value", ["label=target"], "holds one value (0) in all 40 rows"),
    ("normal-absent", ["label=target", "normal=7"], "has no value 7 (normal=7); its values: 0 ("),
    ("normal-not-a-number", ["label=target", "normal=ok"], "holds numbers, not 'ok'"),
    ("no-anomalies", ["label=target", "normal=0,1"], "no anomalies, every value is normal"),
    ("too-few-normals", ["label=target"], "2 normal samples (0) are too few"),
    ("tie", ["label=target"], "0 and 5 are equally frequent; set normal=VALUE"),
    ("no-pyarrow", [], "reading Parquet needs pyarrow, which is not installed (pip install"),
    ("single-array", [], "x.npz: a single array; npy:PATH reads an .npz archive holding x and y"),
    ("no-y", [], "x.npz: no array y; expected x (samples) and y (labels), found x"),
    ("not-an-archive", [], "x.npz: not an archive; npy:PATH reads an .npz archive"),
]


@pytest.mark.parametrize("case,settings,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_files_fail_with_one_line(case, settings, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if case == "no-pyarrow":
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` fails
    name = _write(tmp_path, case)
    before = sorted(p.name for p in tmp_path.iterdir())
    capsys.readouterr()
    argv = ["train", "egbad", "--data", name, "--out", "run", "--quiet"]
    argv += [arg for setting in settings for arg in ("--set", setting)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("ganad: error: "), err
    assert message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def _scores(capsys, argv: list[str]) -> np.ndarray:
    capsys.readouterr()
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return np.array([line["score"] for line in lines], np.float32)


@pytest.fixture(scope="module")
def csv_run(table_csv) -> Path:
    """A tiny EGBAD run on the CSV table, its label named on the command line."""
    out = table_csv.parent / "egbad"
    argv = ["train", "egbad", "--data", f"csv:{table_csv}", "--out", str(out), "--quiet"]
    assert main([*argv, "--set", "label=target", "--set", "ignore=id", *MLP]) == 0
    return out


def test_a_csv_run_scores_its_own_rows_as_its_test_split(csv_run, table_csv, capsys):
    report = json.loads((csv_run / "report.json").read_text())
    assert report["protocol"] == "user-labels"
    assert report["data_summary"]["options"]["normal"] == "0"
    stored = np.load(csv_run / "scores.npz")
    scores = _scores(capsys, ["score", str(csv_run), str(table_csv), "--json"])  # every row
    assert len(scores) == ROWS and np.isfinite(scores).all()
    np.testing.assert_array_equal(
        scores[stored["test_ids"]], stored[f"test/{report['score_head']}"]
    )


def test_an_npy_run_scores_its_own_rows_as_its_test_split(tmp_path, capsys):
    rng = np.random.default_rng(2)
    x = rng.normal(5, 2, (120, 5))
    np.savez(tmp_path / "rows.npz", x=x, y=np.r_[np.zeros(90), np.ones(30)])
    np.save(tmp_path / "rows.npy", x)
    out = tmp_path / "bigan"
    argv = ["train", "bigan", "--data", f"npy:{tmp_path / 'rows.npz'}", "--out", str(out)]
    assert main([*argv, "--quiet", *MLP]) == 0
    stored = np.load(out / "scores.npz")
    head = json.loads((out / "report.json").read_text())["score_head"]
    scores = _scores(capsys, ["score", str(out), str(tmp_path / "rows.npy"), "--json"])
    np.testing.assert_array_equal(scores[stored["test_ids"]], stored[f"test/{head}"])


@pytest.mark.parametrize(
    ("data", "folder"),
    [
        ("mnist-embedded", "egbad-mnist-embedded-seed3"),
        ("odds:cardio", "egbad-odds_cardio-seed3"),
        ("csv:/home/me/rows.csv", "egbad-csv_home_me_rows.csv-seed3"),
        ("npy:../arrays.npz", "egbad-npy_.._arrays.npz-seed3"),
    ],
)
def test_the_default_run_folder_is_one_folder_under_runs(data, folder):
    from types import SimpleNamespace

    from ganad_jax.cli import default_run_dir

    assert default_run_dir("egbad", data, 3, SimpleNamespace(ensemble=None)) == Path("runs", folder)
