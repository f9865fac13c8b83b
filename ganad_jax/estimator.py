"""A scikit-learn / PyOD style estimator over any registered detector.

det = ganad_jax.GANomaly(epochs=5).fit(X_normal)
det.score_samples(X)   # anomaly scores, higher = more anomalous
det.predict(X)         # 1 = anomaly, at the threshold fitted on held-back normals
det.save("runs/det")   # a run folder: config, checkpoint, preprocessing, threshold (no pickle)
det = ganad_jax.Estimator.load("runs/det")   # the same scores, bit for bit

det = ganad_jax.EGBAD(epochs=20).fit(rows_normal)   # tables (N, D) for detectors that take them
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ganad_jax import compile_cache, detectors, runfolder
from ganad_jax.checkpoint import Checkpoints
from ganad_jax.data import DataError, Preprocessing
from ganad_jax.data.preprocess import SCALINGS, fit_scaler, hold_out, numbered_columns
from ganad_jax.detectors import FRACTION, SEED, ConfigError, Range, check_value, config_to_dict
from ganad_jax.evaluation.metrics import fit_threshold
from ganad_jax.scoring import ScoreArrays, make_scorer, score_dataset
from ganad_jax.train import TrainOptions, fit, plan_training, restore

QUANTILE = Range(0, 1, closed_low=False)
"""The threshold quantiles allowed: in (0, 1)."""


class Estimator:
    """Fit a detector on normal samples, score new samples, flag anomalies above `threshold_`.

    What X holds follows the detector's modalities:
    - images (N, H, W[, C]): uint8 in [0, 255], resized to the config's image size and scaled, or
      float32 already in [-1, 1] at that size;
    - table rows (N, D) or series windows (N, T, D): floats, each feature scaled by `scaling`
      ("standard", "minmax" or "none") fitted on the rows passed to `fit`.
    A `validation_fraction` of the fitted samples is held back; `threshold_` is the
    `threshold_quantile` of their scores. Every argument is checked here, before any training:
    a bad one is a ConfigError naming it. `preprocessing_` is what `fit` fitted on X; `save`
    writes the fitted estimator as a run folder and `Estimator.load` reads it back.

    Training follows `ganad train`: a training set smaller than `batch_size` is one batch, and
    where the epochs make fewer updates than the detector's `min_updates` the fit trains the
    epochs that make them; the same notes (and a warning when the model has fewer updates than
    the minimum) go to stderr, and `fit` records them: `batch_size_used_`, `epochs_used_`,
    `steps_` (the updates the model was trained for) and `training_notes_`.
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
        owner = type(self).__name__
        self.seed = check_value(owner, "seed", seed, int, SEED)
        self.threshold_quantile = check_value(
            owner, "threshold_quantile", threshold_quantile, float, QUANTILE
        )
        self.validation_fraction = check_value(
            owner, "validation_fraction", validation_fraction, float, FRACTION
        )
        if scaling not in SCALINGS:
            raise ConfigError(
                f"{owner}.scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}"
            )
        self.scaling = scaling
        self.progress = check_value(owner, "progress", progress, bool, None)
        compile_cache.enable()  # a second fit of the same shapes loads its steps from disk
        self.detector = detectors.get(self.model)
        fields = {f.name for f in dataclasses.fields(self.detector.config_cls)}
        unknown = sorted(set(config) - fields)
        if unknown:
            raise ConfigError(
                f"{owner} has no argument {', '.join(unknown)}: it takes seed, "
                "threshold_quantile, validation_fraction, scaling, progress and the fields of "
                f"{self.detector.config_cls.__name__}: {', '.join(sorted(fields))}"
            )
        self.config = self.detector.config_cls(**config)  # its own checks raise ConfigError
        self.state_ = None
        self.threshold_ = None
        self.threshold_source_ = None
        self.preprocessing_: Preprocessing | None = None

    def _modality(self, x: np.ndarray) -> str:
        taken = self.detector.modalities
        for modality, ranks in (("image", (3, 4)), ("tabular", (2,)), ("series", (3,))):
            if modality in taken and x.ndim in ranks:
                return modality
        shapes = {"image": "(N, H, W[, C])", "tabular": "(N, D)", "series": "(N, T, D)"}
        expected = " or ".join(shapes[m] for m in taken)
        raise DataError(f"{self.model} takes {expected}, got shape {x.shape}")

    def _fit_preprocessing(self, x: np.ndarray) -> Preprocessing:
        """The preprocessing of samples like `x`: image size and channels, or a scaling of X."""
        modality = self._modality(x)
        if modality == "image":
            size = self.config.image_size
            return Preprocessing.for_images((size, size, x.shape[3] if x.ndim == 4 else 1))
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(f"X: expected numbers, got dtype {x.dtype}")
        rows = x.reshape(-1, x.shape[-1])
        if not np.all(np.isfinite(rows)):
            raise DataError("X: holds NaN or inf values")
        return Preprocessing(
            modality,
            window=x.shape[1] if modality == "series" else 0,
            columns=numbered_columns(x.shape[-1]),
            scaler=fit_scaler(rows, self.scaling),
        )

    def fit(self, X: np.ndarray, y: None = None) -> Estimator:
        """Train on `X` (normal samples only) and fit the threshold on the held-back part."""
        del y
        raw = np.asarray(X)
        preprocessing = self._fit_preprocessing(raw)
        x = preprocessing.apply(raw, "X", resize=True)
        keep, val = hold_out(len(x), self.validation_fraction, salt=self.seed)
        options = TrainOptions(progress=self.progress)
        try:
            plan = plan_training(self.detector, self.config, len(keep), options)
        except ValueError as err:
            raise DataError(
                f"X: {len(keep)} samples to train on after holding back validation_fraction="
                f"{self.validation_fraction:g}: {err}"
            ) from None
        state, self.history_ = fit(
            self.detector, self.config, x[keep], seed=self.seed, options=options
        )
        warning = plan.shortfall(int(state.step))
        self.batch_size_used_, self.epochs_used_ = plan.batch_size_used, plan.epochs_used
        self.training_notes_ = [*plan.notes(), *([f"warning: {warning}"] if warning else [])]
        self._fitted(state, preprocessing, x.shape[1:])
        held_back = self._score(x[val]).value if len(val) else self._score(x[keep]).value
        source = "held-back training samples" if len(val) else "training samples"
        threshold = fit_threshold(held_back, self.threshold_quantile, source)
        self.threshold_, self.threshold_source_ = threshold.value, threshold.source
        return self

    def _fitted(self, state: Any, preprocessing: Preprocessing, shape: tuple[int, ...]) -> None:
        self.state_, self.preprocessing_, self.shape_ = state, preprocessing, tuple(shape)
        self.steps_ = int(state.step)
        self._scorer = make_scorer(self.detector, self.config)

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        if self.state_ is None:
            raise RuntimeError("call fit() first")
        x = np.asarray(X)
        self._modality(x)
        return self.preprocessing_.apply(x, "X", resize=True)

    def _score(self, x: np.ndarray) -> ScoreArrays:
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

    def save(self, path: Path | str, overwrite: bool = False) -> None:
        """Write the fitted estimator as a run folder at `path`: config.json, checkpoints/,
        preprocessing.json (+ .npz) and threshold.json, without pickle; `overwrite` replaces a
        run folder there once the new one is complete."""
        objects = [
            f.name
            for f in dataclasses.fields(self.config)
            if not _is_plain(getattr(self.config, f.name))
        ]
        if objects:
            raise ConfigError(
                f"cannot save a {type(self).__name__} whose {', '.join(objects)} hold Python "
                "objects (optax transformations, functions): a saved config is JSON"
            )
        if self.state_ is None:
            raise RuntimeError("call fit() first")
        out = Path(path)
        runfolder.check_new(out, overwrite)
        config = {
            "model": self.model,
            "config": config_to_dict(self.config),
            "seed": self.seed,
            "input_shape": list(self.shape_),
            "estimator": {
                "threshold_quantile": self.threshold_quantile,
                "validation_fraction": self.validation_fraction,
                "scaling": self.scaling,
            },
        }
        threshold = {
            "threshold": self.threshold_,
            "source": self.threshold_source_,
            "quantile": self.threshold_quantile,
        }
        with runfolder.staged(out) as stage:
            runfolder.write_text(stage / "config.json", json.dumps(config, indent=2) + "\n")
            self.preprocessing_.save(stage)
            runfolder.write_text(stage / "threshold.json", json.dumps(threshold, indent=2) + "\n")
            checkpoints = Checkpoints(stage / "checkpoints")
            try:
                checkpoints.save(int(self.state_.step), self.state_)
            finally:
                checkpoints.close()

    @classmethod
    def load(cls, path: Path | str) -> Estimator:
        """The fitted estimator `save` wrote at `path`, as the class of its model; its scores are
        the saved one's, bit for bit."""
        folder = Path(path)
        saved, threshold = _read_json(folder, "config.json"), _read_json(folder, "threshold.json")
        try:
            estimator_cls = _estimator_class(cls, saved["model"], folder)
            estimator = estimator_cls(seed=saved["seed"], **saved["estimator"], **saved["config"])
            shape = tuple(saved["input_shape"])
            value, source = float(threshold["threshold"]), str(threshold["source"])
        except (KeyError, TypeError) as err:
            raise ConfigError(f"{folder}: not a saved estimator ({err!r})") from None
        state = restore(
            estimator.detector, estimator.config, folder, np.zeros((1, *shape), np.float32)
        )
        estimator._fitted(state, Preprocessing.load(folder), shape)
        estimator.threshold_, estimator.threshold_source_ = value, source
        return estimator


def _is_plain(value: Any) -> bool:
    """Whether `value` is made of JSON values only (as a saved config must be)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _read_json(folder: Path, name: str) -> dict[str, Any]:
    path = folder / name
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{folder}: not a saved estimator (no {name})") from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"{path}: unreadable ({err})") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: not a saved estimator's {name}")
    return document


def _subclasses(base: type) -> Iterator[type]:
    for sub in base.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _estimator_class(cls: type[Estimator], model: str, folder: Path) -> type[Estimator]:
    """`cls` where it is `model`'s estimator, else the first estimator class of `model`."""
    if cls.model == model:
        return cls
    found = [c for c in _subclasses(cls) if c.model == model]
    if not found:
        within = f" among the subclasses of {cls.__name__}" if cls is not Estimator else ""
        raise ConfigError(f"{folder} holds a {model!r} estimator, which has no class{within}")
    return found[0]


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
