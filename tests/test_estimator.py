"""The scikit-learn style estimator: arguments checked up front, fit/score/predict, save/load."""

import json

import numpy as np
import optax
import pytest

from ganad_jax import EGBAD, MADGAN, Estimator, FAnoGAN, GANomaly, detectors
from ganad_jax.data import DataError
from ganad_jax.detectors import ConfigError

TINY = dict(detectors.get("ganomaly").tiny)
TINY_ROWS = {"latent": 4, "batch_size": 8, "epochs": 1, "encoder_widths": (8,), "min_updates": 0}


@pytest.fixture(scope="module")
def fitted():
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    return GANomaly(**TINY).fit(images), images


@pytest.fixture(scope="module")
def rows_fitted():
    rows = np.random.default_rng(1).normal(50.0, 10.0, (64, 5))
    return EGBAD(**TINY_ROWS).fit(rows), rows


def test_fit_score_predict(fitted):
    detector, images = fitted
    scores = detector.score_samples(images[:10])
    assert scores.shape == (10,) and np.all(np.isfinite(scores))
    assert set(np.unique(detector.predict(images))) <= {0, 1}
    assert detector.threshold_source_.startswith("held-back training samples")
    assert set(detector.score_heads(images[:3])) == {"latent", "reconstruction"}
    np.testing.assert_array_equal(detector.decision_function(images[:10]), scores)


def test_bad_input(fitted):
    detector, _ = fitted
    with pytest.raises(
        DataError, match=r"shape \(16, 16, 3\), the run was trained on \(16, 16, 1\)"
    ):
        detector.score_samples(np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(DataError, match="16x16"):
        detector.score_samples(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        detector.score_samples(np.full((2, 16, 16), 3.0, np.float32))
    with pytest.raises(DataError, match="NaN"):
        detector.score_samples(np.full((2, 16, 16), np.nan, np.float32))
    with pytest.raises(DataError, match=r"integer pixels must lie in \[0, 255\]"):
        detector.score_samples(np.full((2, 16, 16), 300, np.int64))
    with pytest.raises(RuntimeError, match="fit"):
        GANomaly(**TINY).score_samples(np.zeros((2, 16, 16), np.uint8))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"threshold_quantile": 1.0}, r"GANomaly.threshold_quantile must be in \(0, 1\), got 1.0"),
        ({"threshold_quantile": 0}, r"threshold_quantile must be in \(0, 1\), got 0"),
        ({"threshold_quantile": "high"}, "threshold_quantile expects float, got 'high'"),
        ({"validation_fraction": 1.0}, r"validation_fraction must be in \[0, 1\), got 1.0"),
        ({"validation_fraction": -0.1}, r"validation_fraction must be in \[0, 1\)"),
        ({"scaling": "robust"}, "scaling must be one of standard, minmax, none, got 'robust'"),
        ({"seed": -1}, "seed must be in"),
        ({"seed": 2**32}, "seed must be in"),
        ({"seed": 1.5}, "seed expects int, got 1.5"),
        ({"seed": True}, "seed expects int, got True"),
        ({"progress": "yes"}, "progress expects true or false"),
        ({"latnet": 8}, "GANomaly has no argument latnet: .* GANomalyConfig: .*latent"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
    ],
)
def test_arguments_are_checked_before_training(arguments, message):
    with pytest.raises(ConfigError, match=message):
        GANomaly(**arguments)


def test_too_few_samples_fail_before_training():
    # fewer samples than one batch are one batch (tests/test_small_tables.py), but not fewer
    # than the batch multiple: f-AnoGAN splits a step's batch over its n_critic critic updates
    message = r"X: 4 samples to train on after .*=0.2: .* smaller than one batch: .* multiple of 5"
    with pytest.raises(DataError, match=message):
        FAnoGAN(validation_fraction=0.2).fit(np.ones((5, 5)))


def test_tables_and_windows(rows_fitted):
    """Rows (N, D) and windows (N, T, D) are scaled with statistics of the fitted samples."""
    rows_detector, rows = rows_fitted
    np.testing.assert_allclose(rows_detector.preprocessing_.apply(rows).mean(axis=0), 0, atol=1e-5)
    assert rows_detector.score_samples(rows[:10]).shape == (10,)
    with pytest.raises(DataError, match=r"shape \(4,\), the run was trained on \(5,\)"):
        rows_detector.score_samples(rows[:, :4])
    with pytest.raises(DataError, match="NaN"):
        rows_detector.score_samples(np.full((2, 5), np.nan))
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(48, 6, 3))
    tiny = {"latent": 4, "batch_size": 8, "epochs": 1, "hidden": 8}
    series_detector = MADGAN(window=6, inversion_steps=2, **tiny).fit(windows)
    assert series_detector.predict(windows[:5]).shape == (5,)
    with pytest.raises(DataError, match=r"mad-gan takes \(N, T, D\), got shape \(4, 3\)"):
        series_detector.score_samples(windows[:4, 0])


def test_saved_image_estimator_scores_exactly_as_the_original(fitted, tmp_path):
    detector, images = fitted
    detector.save(tmp_path / "det")
    files = {p.relative_to(tmp_path / "det").as_posix() for p in (tmp_path / "det").iterdir()}
    assert {"config.json", "checkpoints", "preprocessing.json", "threshold.json"} <= files
    config = json.loads((tmp_path / "det/config.json").read_text())
    assert config["model"] == "ganomaly" and config["input_shape"] == [16, 16, 1]
    assert config["estimator"] == {
        "threshold_quantile": 0.95,
        "validation_fraction": 0.1,
        "scaling": "standard",
    }
    loaded = Estimator.load(tmp_path / "det")
    assert type(loaded) is GANomaly and loaded.threshold_ == detector.threshold_
    np.testing.assert_array_equal(loaded.score_samples(images), detector.score_samples(images))
    with pytest.raises(ValueError, match="already holds a run"):
        detector.save(tmp_path / "det")
    detector.save(tmp_path / "det", overwrite=True)


def test_saved_table_estimator_scores_exactly_as_the_original(rows_fitted, tmp_path):
    detector, rows = rows_fitted
    detector.save(tmp_path / "det")
    loaded = EGBAD.load(tmp_path / "det")
    assert loaded.threshold_source_ == detector.threshold_source_
    np.testing.assert_array_equal(loaded.score_samples(rows), detector.score_samples(rows))
    np.testing.assert_array_equal(loaded.predict(rows), detector.predict(rows))
    with pytest.raises(ConfigError, match="holds a 'egbad' estimator, which has no class among"):
        GANomaly.load(tmp_path / "det")
    (tmp_path / "det/preprocessing.npz").write_bytes(b"broken")
    with pytest.raises(DataError, match="preprocessing.npz: unreadable"):
        Estimator.load(tmp_path / "det")


def test_save_refuses_python_objects_and_missing_folders(tmp_path):
    with_chain = EGBAD(**TINY_ROWS, optimizers={"generator": optax.adam(1e-3)})
    with pytest.raises(ConfigError, match="whose optimizers hold Python objects"):
        with_chain.save(tmp_path / "det")
    assert not (tmp_path / "det").exists()
    with pytest.raises(RuntimeError, match="fit"):
        EGBAD(**TINY_ROWS).save(tmp_path / "det")
    with pytest.raises(ConfigError, match="not a saved estimator \\(no config.json\\)"):
        Estimator.load(tmp_path / "nothing")
