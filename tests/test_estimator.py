"""The scikit-learn style estimator."""

import numpy as np
import pytest

from ganad_jax import EGBAD, MADGAN, GANomaly

TINY = {"image_size": 16, "latent": 8, "features": 8, "batch_size": 8, "epochs": 1}


@pytest.fixture(scope="module")
def fitted():
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    return GANomaly(**TINY).fit(images), images


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
    with pytest.raises(ValueError, match="channels"):
        detector.score_samples(np.zeros((2, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="16x16"):
        detector.score_samples(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        detector.score_samples(np.full((2, 16, 16), 3.0, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        detector.score_samples(np.full((2, 16, 16), np.nan, np.float32))
    with pytest.raises(RuntimeError, match="fit"):
        GANomaly(**TINY).score_samples(np.zeros((2, 16, 16), np.uint8))


def test_tables_and_windows():
    """Rows (N, D) and windows (N, T, D) are scaled with statistics of the fitted samples."""
    rng = np.random.default_rng(1)
    rows = rng.normal(50.0, 10.0, (64, 5))
    tiny = {"latent": 4, "batch_size": 8, "epochs": 1, "hidden": 8}
    rows_detector = EGBAD(latent=4, batch_size=8, epochs=1, encoder_widths=(8,)).fit(rows)
    np.testing.assert_allclose(rows_detector.scaler_(rows).mean(axis=0), 0, atol=1e-5)
    assert rows_detector.score_samples(rows[:10]).shape == (10,)
    with pytest.raises(ValueError, match=r"shape \(5,\), got \(4,\)"):
        rows_detector.score_samples(rows[:, :4])
    windows = rng.normal(size=(48, 6, 3))
    series_detector = MADGAN(window=6, inversion_steps=2, **tiny).fit(windows)
    assert series_detector.predict(windows[:5]).shape == (5,)
    with pytest.raises(ValueError, match=r"mad-gan takes \(N, T, D\), got shape \(4, 3\)"):
        series_detector.score_samples(windows[:4, 0])
