"""Files to score (`ganad_jax.files.read_inputs`): images, .npy arrays of one sample or a batch,
CSV rows, all through a run's preprocessing, with one-line errors naming the file."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import load_breast_cancer

from ganad_jax import data
from ganad_jax.data import DataError, Preprocessing
from ganad_jax.data.preprocess import to_unit_range
from ganad_jax.files import read_inputs

GREY = Preprocessing.for_images((16, 16, 1))


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "ganad_cache"))


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[data.Dataset, pd.DataFrame]:
    bunch = load_breast_cancer()
    return data.load("breast-cancer"), pd.DataFrame(bunch.data, columns=bunch.feature_names)


def test_png_uint8_npy_and_float_npy_of_one_image_are_one_input(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.save(tmp_path / "a.npy", pixels)
    np.save(tmp_path / "a-float.npy", to_unit_range(pixels[None])[0])
    np.save(tmp_path / "a-hw1.npy", pixels[..., None])
    files = [tmp_path / n for n in ("a.png", "a.npy", "a-float.npy", "a-hw1.npy")]
    x, names = read_inputs(files, GREY)
    assert x.shape == (4, 16, 16, 1) and names == [str(f) for f in files]
    for other in x[1:]:
        np.testing.assert_array_equal(other, x[0])
    np.testing.assert_array_equal(x[0], to_unit_range(pixels[None])[0])


def test_a_batch_gives_one_name_per_sample(tmp_path):
    batch = np.random.default_rng(0).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "batch.npy", batch)
    Image.fromarray(batch[1]).save(tmp_path / "one.png")
    x, names = read_inputs([tmp_path / "batch.npy", tmp_path / "one.png"], GREY)
    assert names == [f"{tmp_path / 'batch.npy'}[{i}]" for i in range(3)] + [
        str(tmp_path / "one.png")
    ]
    np.testing.assert_array_equal(x[3], x[1])


def test_resize_applies_to_pixels_only(tmp_path):
    big = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "big.npy", big)
    Image.fromarray(big[0]).convert("RGB").save(tmp_path / "colour.png")
    with pytest.raises(DataError, match=r"big.npy: shape \(28, 28, 1\), the run was trained on"):
        read_inputs([tmp_path / "big.npy"], GREY)
    with pytest.raises(DataError, match=r"colour.png: shape \(28, 28, 3\).*--resize"):
        read_inputs([tmp_path / "colour.png"], GREY)
    x, _ = read_inputs([tmp_path / "big.npy", tmp_path / "colour.png"], GREY, resize=True)
    np.testing.assert_array_equal(x[0], x[2])  # the grey conversion of a grey RGB image
    np.save(tmp_path / "float.npy", to_unit_range(big))
    with pytest.raises(DataError, match="float images must be 16x16"):
        read_inputs([tmp_path / "float.npy"], GREY, resize=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (np.full((16, 16), 300, np.int32), r"integer pixels must lie in \[0, 255\]"),
        (np.full((16, 16), 2.0, np.float32), r"float images must lie in \[-1, 1\]"),
        (np.full((16, 16), np.nan, np.float32), "NaN or inf"),
        (np.zeros((16, 16), bool), "expected uint8 pixels or floats"),
        (np.zeros(16, np.uint8), r"expected .* got shape \(16,\)"),
        (np.zeros((0, 16, 16, 1), np.uint8), "holds no samples"),
        (np.array([{"a": 1}], dtype=object), "not a readable .npy array"),
    ],
)
def test_bad_image_arrays_fail_naming_the_file(tmp_path, content, message):
    np.save(tmp_path / "bad.npy", content, allow_pickle=True)
    with pytest.raises(DataError, match=message) as error:
        read_inputs([tmp_path / "bad.npy"], GREY)
    assert str(error.value).startswith(str(tmp_path / "bad.npy"))


def test_unreadable_files(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image")
    archive = io.BytesIO()
    np.savez(archive, x=np.zeros(3))
    (tmp_path / "archive.npy").write_bytes(archive.getvalue())
    (tmp_path / "folder.png").mkdir()
    for name, message in [
        ("junk.png", "not a readable image"),
        ("missing.png", "no such file"),
        ("archive.npy", "not a .npy array"),
        ("folder.png", "not a file"),
    ]:
        with pytest.raises(DataError, match=message):
            read_inputs([tmp_path / name], GREY)
    with pytest.raises(DataError, match="no files"):
        read_inputs([], GREY)


def test_table_rows_in_original_units(tmp_path, breast_cancer):
    ds, frame = breast_cancer
    raw = frame.iloc[ds.test.ids].to_numpy()
    np.save(tmp_path / "rows.npy", raw[:5])
    np.save(tmp_path / "row.npy", raw[5])
    x, names = read_inputs([tmp_path / "rows.npy", tmp_path / "row.npy"], ds.preprocessing)
    np.testing.assert_array_equal(x, ds.test.x[:6])
    assert names[4] == f"{tmp_path / 'rows.npy'}[4]" and names[5] == str(tmp_path / "row.npy")
    np.save(tmp_path / "short.npy", raw[:2, :29])
    with pytest.raises(
        DataError, match=r"short.npy: shape \(29,\), the run was trained on \(30,\)"
    ):
        read_inputs([tmp_path / "short.npy"], ds.preprocessing)
    np.save(tmp_path / "text.npy", raw[:2].astype(str))
    with pytest.raises(DataError, match="text.npy: expected numbers"):
        read_inputs([tmp_path / "text.npy"], ds.preprocessing)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(DataError, match="x.png: the run takes tabular inputs as .npy or .csv"):
        read_inputs([tmp_path / "x.png"], ds.preprocessing)


def test_csv_rows_by_header_in_any_order_or_without_header(tmp_path, breast_cancer):
    ds, frame = breast_cancer
    rows = frame.iloc[ds.test.ids[:8]]
    shuffled = rows[list(reversed(rows.columns))].assign(label=ds.test.y[:8], id="x")
    shuffled.to_csv(tmp_path / "header.csv", index=False)
    rows.to_csv(tmp_path / "plain.csv", index=False, header=False)
    x, names = read_inputs([tmp_path / "header.csv", tmp_path / "plain.csv"], ds.preprocessing)
    np.testing.assert_array_equal(x, np.concatenate([ds.test.x[:8], ds.test.x[:8]]))
    assert names[0] == f"{tmp_path / 'header.csv'}[0]"
    rows.drop(columns="mean radius").to_csv(tmp_path / "missing.csv", index=False)
    with pytest.raises(DataError, match="missing.csv: missing column.*mean radius"):
        read_inputs([tmp_path / "missing.csv"], ds.preprocessing)
    rows.iloc[:, :10].to_csv(tmp_path / "narrow.csv", index=False, header=False)
    with pytest.raises(DataError, match="narrow.csv: 10 columns and no header .* its 30 raw"):
        read_inputs([tmp_path / "narrow.csv"], ds.preprocessing)
    text = rows.astype(object)
    text.iloc[2, 3] = "lots"
    text.to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(DataError, match="text.csv: column 'mean area' holds a non-numeric"):
        read_inputs([tmp_path / "text.csv"], ds.preprocessing)


def test_missing_cells_are_filled_or_refused_as_the_run_says(tmp_path, breast_cancer):
    ds, frame = breast_cancer
    rows = frame.iloc[ds.test.ids[:3]].astype(object)
    rows.iloc[0, 0] = "?"
    rows.to_csv(tmp_path / "gap.csv", index=False)
    with pytest.raises(DataError, match="gap.csv: missing values .* mean radius.* impute=none"):
        read_inputs([tmp_path / "gap.csv"], ds.preprocessing)
    median = data.load("breast-cancer", impute="median").preprocessing
    x, _ = read_inputs([tmp_path / "gap.csv"], median)
    filled = frame.iloc[ds.test.ids[:3]].copy()
    filled.iloc[0, 0] = median.imputation.medians["mean radius"]
    np.testing.assert_array_equal(x, median.apply(filled))


def test_series_windows(tmp_path):
    from ganad_jax.data.series import time_series_protocol

    rng = np.random.default_rng(0)
    run = rng.normal(5.0, 2.0, (60, 2))
    ds = time_series_protocol(
        "toy", rng.normal(5.0, 2.0, (100, 2)), [("run", run, np.zeros(60, np.int8))],
        window=10, step=10, validation_fraction=0.2, scaling="standard", options={},
    )  # fmt: skip
    windows = np.stack([run[s : s + 10] for s in ds.test.windows.start])
    np.save(tmp_path / "windows.npy", windows)
    np.save(tmp_path / "window.npy", windows[0])
    x, names = read_inputs([tmp_path / "windows.npy", tmp_path / "window.npy"], ds.preprocessing)
    np.testing.assert_array_equal(x, np.concatenate([ds.test.x, ds.test.x[:1]]))
    assert len(names) == len(ds.test) + 1
    np.save(tmp_path / "short.npy", windows[:, :5])
    with pytest.raises(DataError, match=r"short.npy: shape \(5, 2\), the run was trained on"):
        read_inputs([tmp_path / "short.npy"], ds.preprocessing)
    (tmp_path / "x.csv").write_text("1,2\n")
    with pytest.raises(DataError, match="takes series inputs as .npy files"):
        read_inputs([tmp_path / "x.csv"], ds.preprocessing)


def test_padded_image_folder_scores_its_files_as_its_test_split(tmp_path):
    """`fit=pad` runs pad a file to a square as the loader padded it."""
    rng = np.random.default_rng(0)
    for folder, count in (("good", 6), ("bad", 3)):
        (tmp_path / "set" / folder).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (12, 20), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "set" / folder / f"{i}.png")
    ds = data.load(f"folder:{tmp_path / 'set'}", image_size=8, fit="pad")
    assert ds.preprocessing.fit == "pad" and ds.preprocessing.raw_shape == (8, 8, 1)
    ds.preprocessing.save(tmp_path)
    files = [tmp_path / "set" / i for i in ds.test.ids]
    x, _ = read_inputs(files, Preprocessing.load(tmp_path), resize=True)
    np.testing.assert_array_equal(x, ds.test.x)
