"""What defines a run, and how it is read from names and `key=value` settings: `RunSpec` (detector,
data set and protocol options, seed, config, training and evaluation options), `make_spec` (the
command line's and the Python API's way to build one, every value checked before anything is read
or written) and `RunError`. The run folder's lifecycle is `ganad_jax.runs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax

from ganad_jax import data as datasets
from ganad_jax import detectors
from ganad_jax.detectors import (
    SEED,
    ConfigError,
    Detector,
    Range,
    check_fields,
    config_to_dict,
    merge_setting,
    parse_value,
)
from ganad_jax.detectors.ensemble import ensemble, parse_spec
from ganad_jax.errors import GanadError
from ganad_jax.train import (
    TrainOptions,
    make_mesh,
)


class RunError(GanadError, ValueError):
    """Bad input to a run: unknown names, bad settings, a run folder that cannot be used."""


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """How a run is evaluated: the validation quantile of the threshold (default 0.95, or the data
    set's own where its protocol implies one), opt-in oracle metrics."""

    threshold_quantile: float = 0.95
    oracle: bool = False

    def __post_init__(self) -> None:
        check_fields(self, {"threshold_quantile": Range(0, 1, closed_low=False)})


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run; `ensemble` ("GxD:MODE") makes it a GAN ensemble of `model`."""

    model: str
    data: str
    seed: int
    config: Any
    data_options: dict[str, Any]
    train: TrainOptions = TrainOptions()
    evaluation: EvalOptions = EvalOptions()
    ensemble: str | None = None

    @property
    def detector(self) -> Detector:
        """The registered detector, or the ensemble of it."""
        detector = detectors.get(self.model)
        return detector if self.ensemble is None else ensemble(detector, *parse_spec(self.ensemble))

    def identity(self) -> dict[str, Any]:
        """What must match for a run to be resumed: model, data, protocol options, seed, config."""
        return {
            "model": self.model,
            "data": self.data,
            "data_options": self.data_options,
            "seed": self.seed,
            "config": config_to_dict(self.config),
            "ensemble": self.ensemble,
        }

    def to_json(self) -> dict[str, Any]:
        """The content of config.json."""
        train = dataclasses.asdict(self.train)
        train.pop("progress")
        return {
            **self.identity(),
            "train": train,
            "evaluation": dataclasses.asdict(self.evaluation),
        }


def make_spec(
    model: str,
    data: str = "mnist-embedded",
    seed: int = 0,
    settings: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    ensemble: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunSpec:
    """Resolve names and `key=value` settings into a RunSpec; RunError on anything unknown.

    A key is looked up in the detector's config, then the data set's protocol options, then the
    training and evaluation options. `ensemble` ("GxD" or "GxD:MODE", also the setting
    `ensemble=...`) trains a GAN ensemble of the detector. `overrides` are config values given
    in Python, those the command line cannot write (optax transformations in `optimizers`,
    functions in `extra_terms`); `settings` apply over them.
    """
    for item in settings:
        if item.startswith("ensemble="):
            ensemble = item.split("=", 1)[1]
    settings = [item for item in settings if not item.startswith("ensemble=")]
    try:
        detector = detectors.get(model)
        source = datasets.get(data)
        if ensemble is not None:
            ensemble = "{}x{}:{}".format(*parse_spec(ensemble, detector))
    except (KeyError, datasets.DataError) as err:
        raise RunError(str(err.args[0])) from None
    except ValueError as err:
        raise RunError(str(err)) from None
    if source.modality not in detector.modalities:
        raise RunError(
            f"{model} takes {'/'.join(detector.modalities)} data; {data!r} is {source.modality}"
        )
    groups: dict[str, dict[str, Any]] = {"config": {}, "data": {}, "train": {}, "evaluation": {}}
    config_fields = {f.name for f in dataclasses.fields(detector.config_cls)}
    unknown = sorted(set(overrides or {}) - config_fields)
    if unknown:
        raise RunError(f"{detector.config_cls.__name__} has no field {unknown[0]!r}")
    groups["config"].update(overrides or {})
    for item in settings:
        if "=" not in item:
            raise RunError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        field = key.partition(".")[0]
        try:
            if field in config_fields:
                value = parse_value(detector.config_cls, key, text)
                groups["config"][field] = merge_setting(groups["config"].get(field), value)
            elif key in source.defaults:
                groups["data"][key] = datasets.coerce_options(data, {key: text})[key]
            elif key in ("validation_statistic", "seed_mapping"):
                groups["train"][key] = text
            elif key in {f.name for f in dataclasses.fields(TrainOptions)} - {"progress"}:
                groups["train"][key] = _parse_count(key, text)
            elif key in {f.name for f in dataclasses.fields(EvalOptions)}:
                groups["evaluation"][key] = parse_value(EvalOptions, key, text)
            else:
                known = sorted(config_fields | set(source.defaults))
                raise RunError(
                    f"unknown setting {key!r} for {model} on {data}; known: {', '.join(known)}"
                )
        except (ConfigError, datasets.DataError) as err:
            raise RunError(str(err)) from None
    if not SEED.holds(seed):
        raise RunError(f"seed must be {SEED.describe()}, got {seed}")
    try:
        config = detector.config_cls(**groups["config"])
        # A data option that is also a config field (a series detector's `window`) follows the
        # config, as `image_size` does for image loaders, so the model and its data agree.
        for key in config_fields & set(source.defaults):
            groups["data"][key] = getattr(config, key)
        spec = RunSpec(
            model=model,
            data=data,
            seed=seed,
            config=config,
            data_options=datasets.coerce_options(data, groups["data"]),
            train=TrainOptions(progress=progress, **groups["train"]),
            evaluation=EvalOptions(
                **{"threshold_quantile": source.threshold_quantile or 0.95, **groups["evaluation"]}
            ),
            ensemble=ensemble,
        )
    except (ConfigError, datasets.DataError) as err:
        raise RunError(str(err)) from None
    except (TypeError, ValueError) as err:
        raise RunError(f"invalid config for {model}: {err}") from None
    _check_devices(spec)
    return spec


def _parse_count(key: str, text: str) -> int | None:
    if key in ("max_steps", "validate_every", "patience", "curve_every") and text.lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise RunError(f"{key} expects int, got {text!r}") from None


def _check_devices(spec: RunSpec) -> None:
    """RunError unless the run's device mesh can be built and its batch split over it."""
    options = spec.train
    if options.devices == 1 and jax.process_count() == 1:
        return
    try:
        mesh = make_mesh(options.devices, options.ensemble_shards)
    except ValueError as err:
        raise RunError(str(err)) from None
    shards = mesh.shape["data"]
    if spec.config.batch_size % shards:
        raise RunError(
            f"batch_size {spec.config.batch_size} must be a multiple of the {shards} data shards"
        )
    k = options.ensemble_shards
    if k > 1:
        if spec.ensemble is None:
            raise RunError(f"ensemble_shards={k} needs --ensemble")
        generators, discriminators, _ = parse_spec(spec.ensemble)
        if generators % k or discriminators % k:
            raise RunError(
                f"ensemble_shards={k} must divide the ensemble's {generators} generators and "
                f"{discriminators} discriminators"
            )
