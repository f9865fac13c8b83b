"""A scikit-learn / PyOD style estimator over any registered detector.

det = ganad_jax.GANomaly(epochs=5).fit(X_normal)
det.score_samples(X)   # anomaly scores, higher = more anomalous
det.predict(X)         # 1 = anomaly, at the threshold fitted on held-back normals

det = ganad_jax.EGBAD(epochs=20).fit(rows_normal)   # tables (N, D) for detectors that take them
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ganad_jax import detectors
from ganad_jax.data.preprocess import fit_scaler, hold_out, resize_images, to_unit_range
from ganad_jax.evaluate import ScoreArrays, fit_threshold, make_scorer, score_dataset
from ganad_jax.train import TrainOptions, fit


class Estimator:
    """Fit a detector on normal samples, score new samples, flag anomalies above `threshold_`.

    What X holds follows the detector's modalities:
    - images (N, H, W[, C]): uint8 in [0, 255], resized to the config's image size and scaled, or
      float32 already in [-1, 1] at that size;
    - table rows (N, D) or series windows (N, T, D): floats, each feature scaled by `scaling`
      ("standard", "minmax" or "none") fitted on the rows passed to `fit`.
    A `validation_fraction` of the fitted samples is held back; `threshold_` is the
    `threshold_quantile` of their scores.
    """

    model: str = ""

    def __init__(
        self,
        seed: int = 0,
        threshold_quantile: float = 0.95,
        validation_fraction: float = 0.1,
        scaling: str = "standard",
        progress: bool = False,
        **config: Any,
    ) -> None:
        self.detector = detectors.get(self.model)
        self.config = self.detector.config_cls(**config)
        self.seed = seed
        self.threshold_quantile = threshold_quantile
        self.validation_fraction = validation_fraction
        self.scaling = scaling
        self.progress = progress
        self.state_ = None
        self.threshold_ = None
        self.threshold_source_ = None
        self.scaler_ = None

    def _modality(self, x: np.ndarray) -> str:
        taken = self.detector.modalities
        for modality, ranks in (("image", (3, 4)), ("tabular", (2,)), ("series", (3,))):
            if modality in taken and x.ndim in ranks:
                return modality
        shapes = {"image": "(N, H, W[, C])", "tabular": "(N, D)", "series": "(N, T, D)"}
        expected = " or ".join(shapes[m] for m in taken)
        raise ValueError(f"{self.model} takes {expected}, got shape {x.shape}")

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        x = np.asarray(X)
        if self._modality(x) == "image":
            return self._prepare_images(x[..., None] if x.ndim == 3 else x)
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"expected numbers, got dtype {x.dtype}")
        if not np.all(np.isfinite(x)):
            raise ValueError("input holds NaN or inf values")
        if self.state_ is None:
            self.scaler_ = fit_scaler(x.reshape(-1, x.shape[-1]), self.scaling)
        elif x.shape[1:] != self.shape_:
            raise ValueError(f"fitted on samples of shape {self.shape_}, got {x.shape[1:]}")
        return self.scaler_(x)

    def _prepare_images(self, x: np.ndarray) -> np.ndarray:
        size = self.config.image_size
        if np.issubdtype(x.dtype, np.integer):
            if x.min() < 0 or x.max() > 255:
                raise ValueError("integer images must lie in [0, 255]")
            x = to_unit_range(resize_images(x.astype(np.uint8), size))
        else:
            if x.shape[1:3] != (size, size):
                raise ValueError(
                    f"float images must be {size}x{size} (got {x.shape[1]}x{x.shape[2]}); "
                    "pass uint8 images to have them resized"
                )
            x = x.astype(np.float32)
            if not np.all(np.isfinite(x)):
                raise ValueError("input holds NaN or inf values")
            if x.min() < -1.0 or x.max() > 1.0:
                raise ValueError("float images must lie in [-1, 1]")
        if self.state_ is not None and x.shape[1:] != self.shape_:
            raise ValueError(f"fitted on {self.shape_[-1]} channels, got {x.shape[-1]}")
        return x

    def fit(self, X: np.ndarray, y: None = None) -> Estimator:
        """Train on `X` (normal samples only) and fit the threshold on the held-back part."""
        del y
        self.state_ = None  # a refit starts over, scaler included
        x = self._prepare(X)
        keep, val = hold_out(len(x), self.validation_fraction, salt=self.seed)
        options = TrainOptions(progress=self.progress)
        self.state_, self.history_ = fit(
            self.detector, self.config, x[keep], seed=self.seed, options=options
        )
        self.shape_ = x.shape[1:]
        self._scorer = make_scorer(self.detector, self.config)
        held_back = self._score(x[val]).value if len(val) else self._score(x[keep]).value
        source = "held-back training samples" if len(val) else "training samples"
        threshold = fit_threshold(held_back, self.threshold_quantile, source)
        self.threshold_, self.threshold_source_ = threshold.value, threshold.source
        return self

    def _score(self, x: np.ndarray) -> ScoreArrays:
        if self.state_ is None:
            raise RuntimeError("call fit() first")
        return score_dataset(self._scorer, self.state_, x, self.config.batch_size)

    def score_heads(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Every score head of the detector, per sample."""
        return self._score(self._prepare(X)).heads

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Anomaly scores (the detector's default head); higher means more anomalous."""
        return self._score(self._prepare(X)).value

    decision_function = score_samples

    def predict(self, X: np.ndarray) -> np.ndarray:
        """1 for samples scored above the fitted threshold, else 0."""
        return (self.score_samples(X) > self.threshold_).astype(np.int8)


class GANomaly(Estimator):
    """GANomaly as an estimator; keyword arguments are GANomalyConfig fields."""

    model = "ganomaly"


class AnoGAN(Estimator):
    """AnoGAN as an estimator; keyword arguments are AnoGANConfig fields."""

    model = "anogan"


class FAnoGAN(Estimator):
    """f-AnoGAN as an estimator; keyword arguments are FAnoGANConfig fields."""

    model = "f-anogan"


class SkipGANomaly(Estimator):
    """Skip-GANomaly as an estimator; keyword arguments are SkipGANomalyConfig fields."""

    model = "skip-ganomaly"


class DEDGAN(Estimator):
    """DED-GAN as an estimator; keyword arguments are DEDGANConfig fields."""

    model = "ded-gan"


class BiGAN(Estimator):
    """BiGAN as an estimator; keyword arguments are BiGANConfig fields."""

    model = "bigan"


class EGBAD(Estimator):
    """EGBAD as an estimator; keyword arguments are EGBADConfig fields."""

    model = "egbad"


class ALAD(Estimator):
    """ALAD as an estimator; keyword arguments are ALADConfig fields."""

    model = "alad"


class CEBiGAN(Estimator):
    """The consistency-ensured BiGAN as an estimator; keyword arguments are CEBiGANConfig fields."""

    model = "ce-bigan"


class MADGAN(Estimator):
    """MAD-GAN as an estimator on windows (N, T, D); keyword arguments are MADGANConfig fields."""

    model = "mad-gan"
