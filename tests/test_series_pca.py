"""Series PCA (the data option `pca_components`, MAD-GAN's sensor projection) fitted on training
points only and saved with the preprocessing, and the nearest-training-window baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganad_jax import data as datasets
from ganad_jax import detectors, runs, runspec
from ganad_jax.data import DataError, Preprocessing, Source, Split, Windows, series
from ganad_jax.data.preprocess import fit_projection, sliding_windows
from ganad_jax.evaluation import series as evaluation


def _toy(seed: int = 0, shift: float = 0.0):
    """An anomaly-free (200, 4) series of rank-3 structure and one labelled test run."""
    rng = np.random.default_rng(seed)
    free = rng.normal(20.0, 3.0, (200, 4))
    free[:, 3] = 2 * free[:, 0] + 0.1 * free[:, 3]
    test = rng.normal(20.0 + shift, 3.0, (90, 4))
    labels = np.zeros(90, np.int8)
    labels[40:50] = 1
    return free, [("run", test, labels)]


def _protocol(free, runs, pca_components: int = 2):
    return series.time_series_protocol(
        "toy", free, runs, window=8, step=3, validation_fraction=0.2, scaling="standard",
        options={}, columns=("a", "b", "c", "d"), pca_components=pca_components,
    )  # fmt: skip


def test_projection_is_fitted_on_training_points_only():
    free, runs = _toy()
    ds = _protocol(free, runs)
    other_free = free.copy()
    other_free[160:] = np.random.default_rng(5).normal(-50.0, 9.0, (40, 4))  # the validation tail
    _, other_runs = _toy(seed=7, shift=40.0)  # other test points
    other = _protocol(other_free, other_runs)
    a, b = ds.preprocessing.projection, other.preprocessing.projection
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.axes, b.axes)
    np.testing.assert_array_equal(ds.train.x, other.train.x)
    assert ds.train.x.shape[-1] == 2 and ds.options["pca_components"] == 2
    assert not np.array_equal(ds.test.x, other.test.x)


def test_leaderboard_fold_projection_ignores_its_test_rows():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(460, 3))
    changed = x.copy()
    changed[400:] = rng.normal(10.0, 5.0, (60, 3))
    labels = np.zeros(460, np.int8)
    folds = [
        series._skab_leaderboard([("r", points, labels)], 6, 3, "minmax", {}, pca_components=2)
        for points in (x, changed)
    ]
    a, b = (ds.folds[0].preprocessing.projection for ds in folds)
    np.testing.assert_array_equal(a.axes, b.axes)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert folds[0].folds[0].train.x.shape == (395, 6, 2)


def test_projection_equals_numpy_svd_and_keeps_the_top_variances():
    free, runs = _toy()
    ds = _protocol(free, runs, pca_components=3)
    scaled = ds.preprocessing.scaler(free[:160]).astype(np.float64)  # scaling comes first
    centred = scaled - scaled.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:3].T
    projected = ds.preprocessing.series_points(ds.preprocessing.scaler(free[:160]))
    signs = np.sign(np.sum(projected * expected, axis=0))  # an axis's sign is a convention
    np.testing.assert_allclose(projected, expected * signs, rtol=1e-5, atol=1e-5)
    variances = np.sort(np.linalg.eigvalsh(np.cov(scaled.T, bias=True)))[::-1][:3]
    np.testing.assert_allclose(projected.var(axis=0), variances, rtol=1e-5)
    np.testing.assert_allclose(variances, s[:3] ** 2 / len(scaled), rtol=1e-10)
    # the training windows are those projected points, windowed
    windows, _ = sliding_windows(projected, 8, 3)
    np.testing.assert_array_equal(ds.train.x, windows)


def test_saved_projection_scores_new_windows_as_the_test_split(tmp_path):
    free, runs = _toy()
    ds = _protocol(free, runs)
    ds.preprocessing.save(tmp_path)
    document = json.loads((tmp_path / "preprocessing.json").read_text())
    assert document["pca_components"] == 2
    with np.load(tmp_path / "preprocessing.npz", allow_pickle=False) as arrays:
        assert arrays["pca_axes"].shape == (4, 2) and arrays["pca_mean"].dtype == np.float64
    loaded = Preprocessing.load(tmp_path)
    assert loaded.raw_shape == (8, 4) and loaded.projection.components == 2
    raw, _ = sliding_windows(runs[0][1], 8, 3)
    np.testing.assert_array_equal(loaded.apply(raw), ds.test.x)
    raw_train, _ = sliding_windows(free[:160], 8, 3)
    np.testing.assert_array_equal(loaded.apply(raw_train), ds.train.x)


def test_pca_off_by_default_leaves_the_files_and_inputs_as_before(tmp_path):
    free, runs = _toy()
    ds = _protocol(free, runs, pca_components=0)
    assert ds.preprocessing.projection is None and ds.train.x.shape[-1] == 4
    windows, _ = sliding_windows(ds.preprocessing.scaler(free[:160]), 8, 3)
    np.testing.assert_array_equal(ds.train.x, windows)
    ds.preprocessing.save(tmp_path)
    assert "pca_components" not in json.loads((tmp_path / "preprocessing.json").read_text())
    with np.load(tmp_path / "preprocessing.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["shift", "width"]
    assert Preprocessing.load(tmp_path).projection is None


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda a: {**a, "pca_axes": a["pca_axes"] * 2}, "pca_axes must be orthonormal"),
        (lambda a: {**a, "pca_axes": a["pca_axes"][:, :1]}, r"pca_axes must be \(4, 2\)"),
        (lambda a: {k: v for k, v in a.items() if k != "pca_mean"}, "unreadable"),
    ],
)
def test_corrupt_projection_is_one_line(tmp_path, damage, message):
    free, runs = _toy()
    _protocol(free, runs).preprocessing.save(tmp_path)
    with np.load(tmp_path / "preprocessing.npz", allow_pickle=False) as arrays:
        saved = {k: arrays[k] for k in arrays.files}
    np.savez(tmp_path / "preprocessing.npz", **damage(saved))
    with pytest.raises(DataError, match=message) as error:
        Preprocessing.load(tmp_path)
    assert "\n" not in str(error.value)


def test_pca_components_is_a_checked_series_option():
    spec = runspec.make_spec("mad-gan", "skab", 0, ["pca_components=5"], progress=False)
    assert spec.data_options["pca_components"] == 5
    assert (
        runspec.make_spec("mad-gan", "smap:P-1", 0, [], progress=False).data_options[
            "pca_components"
        ]
        == 0
    )
    free, runs = _toy()
    with pytest.raises(DataError, match=r"pca_components must be in \[1, 4\]"):
        _protocol(free, runs, pca_components=5)
    with pytest.raises(DataError, match="pca_components must be >= 0"):
        _protocol(free, runs, pca_components=-1)
    with pytest.raises(DataError):
        fit_projection(free, 0)


def _split(points: np.ndarray, window: int, step: int) -> Split:
    x, starts = sliding_windows(points, window, step)
    labels = np.zeros(len(points), np.int8)
    windows = Windows(window, np.zeros(len(starts), np.int32), starts, (labels,), ("r",))
    return Split(x, np.zeros(len(x), np.int8), windows=windows)


def test_window_nn_matches_brute_force():
    rng = np.random.default_rng(0)
    train = _split(rng.normal(size=(20, 2)), 4, 1)
    reference = _split(train_points := evaluation.split_points(train), 4, 3)
    test = _split(rng.normal(1.0, 2.0, (11, 2)), 4, 2)

    def brute(queries: Split, exclude: bool) -> np.ndarray:
        out = []
        for q, qs in zip(queries.x, queries.windows.start, strict=True):
            found = [
                np.sqrt(np.sum((q.astype(np.float64) - r) ** 2))
                for r, rs in zip(train.x, train.windows.start, strict=True)
                if not (exclude and abs(int(qs) - int(rs)) < 4)
            ]
            out.append(min(found))
        return np.array(out)

    test_d = evaluation.nearest_window_distances(train.x, test.x, chunk_values=7)
    np.testing.assert_allclose(test_d, brute(test, False), rtol=1e-10)
    loo = evaluation.nearest_window_distances(
        train.x, reference.x, (train.windows, reference.windows), chunk_values=5
    )
    np.testing.assert_allclose(loo, brute(reference, True), rtol=1e-10)
    assert loo.min() > 0  # a window is never its own nearest one
    np.testing.assert_allclose(
        evaluation.nearest_window_distances(train.x, reference.x), 0, atol=1e-6
    )
    scores = evaluation.baseline_point_scores(train, reference, test, leave_one_out=True)
    ref_points, test_points = scores["window_nn"]
    expected = np.zeros(11)  # the mean of the covering windows' distances, by hand
    counts = np.zeros(11)
    for d, s in zip(brute(test, False), test.windows.start, strict=True):
        expected[s : s + 4] += d
        counts[s : s + 4] += 1
    np.testing.assert_allclose(test_points, expected / counts, rtol=1e-10)
    assert ref_points.shape == (20,)
    q_ref, q_test = scores["pca_q"]
    np.testing.assert_allclose(q_ref, evaluation.pca_residual_scores(train_points, train_points))
    assert q_test.shape == (11,)


def test_baseline_metrics_threshold_on_validation_points():
    free, runs = _toy()
    ds = _protocol(free, runs, pca_components=0)
    metrics = evaluation.baseline_metrics(ds, 0.9)
    assert set(metrics) == {"pca_q", "window_nn"}
    assert set(metrics["window_nn"]) >= {"auroc", "auprc", "f1", "far", "mar"}
    ref, test = evaluation.baseline_point_scores(ds.train, ds.validation, ds.test, False)[
        "window_nn"
    ]
    labels = runs[0][2]
    expected = evaluation.point_metrics(labels, test, np.quantile(ref, 0.9), oracle=False)
    assert metrics["window_nn"] == expected


@pytest.mark.slow
def test_time_series_run_saves_the_projection_and_reports_both_baselines(tmp_path, monkeypatch):
    """`ganad train mad-gan` with `pca_components`: the run folder's preprocessing projects raw
    windows to the model's test inputs, and the report holds both baselines."""
    free, runs_ = _toy()

    def load(*, window, step, pca_components):
        return series.time_series_protocol(
            "toy", free, runs_, window=window, step=step, validation_fraction=0.2,
            scaling="standard", options={}, pca_components=pca_components,
        )  # fmt: skip

    source = Source("toy-series", load, {"window": 6, "step": 3, "pca_components": 0}, "series", "")
    monkeypatch.setitem(datasets._SOURCES, "toy-series", source)
    settings = [f"{k}={v}" for k, v in detectors.get("mad-gan").tiny.items()]
    spec = runspec.make_spec(
        "mad-gan", "toy-series", 0, [*settings, "pca_components=2"], progress=False
    )
    report = runs.train_run(spec, tmp_path / "run")
    assert set(report["baseline"]) == {"pca_q", "window_nn"}
    assert set(report["baseline"]["window_nn"]) >= {"auroc", "f1", "far", "mar"}
    assert report["data_summary"]["shape"][-1] == 2
    loaded = Preprocessing.load(tmp_path / "run")
    raw, _ = sliding_windows(runs_[0][1], spec.config.window, 3)
    np.testing.assert_array_equal(
        loaded.apply(raw), load(window=spec.config.window, step=3, pca_components=2).test.x
    )
