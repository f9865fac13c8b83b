"""A run: one detector trained on one data set under its protocol, evaluated, in one folder.

Layout of a run folder: config.json (everything needed to rebuild the run), checkpoints/,
metrics.jsonl, tensorboard/, report.json, report.md and plots/*.png.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax import data as datasets
from ganad_jax import detectors, distributed, series
from ganad_jax.detectors import ConfigError, Detector, config_to_dict, parse_value
from ganad_jax.ensemble import ensemble, parse_spec
from ganad_jax.evaluate import (
    ScoreArrays,
    evaluate_scores,
    fit_threshold,
    make_scorer,
    pixel_metrics,
    plot_report,
    plot_samples,
    ranking_metrics,
    score_dataset,
    write_report,
)
from ganad_jax.train import TrainOptions, fit, named_key, restore


class RunError(ValueError):
    """Bad input to a run: unknown names, bad settings, a run folder that cannot be used."""


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """How a run is evaluated: the validation quantile of the threshold (default 0.95, or the data
    set's own where its protocol implies one), opt-in oracle metrics."""

    threshold_quantile: float = 0.95
    oracle: bool = False


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
) -> RunSpec:
    """Resolve names and `key=value` settings into a RunSpec; RunError on anything unknown.

    A key is looked up in the detector's config, then the data set's protocol options, then the
    training and evaluation options. `ensemble` ("GxD" or "GxD:MODE", also the setting
    `ensemble=...`) trains a GAN ensemble of the detector.
    """
    for item in settings:
        if item.startswith("ensemble="):
            ensemble = item.split("=", 1)[1]
    settings = [item for item in settings if not item.startswith("ensemble=")]
    try:
        detector = detectors.get(model)
        source = datasets.get(data)
        if ensemble is not None:
            ensemble = "{}x{}:{}".format(*parse_spec(ensemble))
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
    for item in settings:
        if "=" not in item:
            raise RunError(f"--set expects key=value, got {item!r}")
        key, text = item.split("=", 1)
        try:
            if key in config_fields:
                groups["config"][key] = parse_value(detector.config_cls, key, text)
            elif key in source.defaults:
                groups["data"][key] = datasets.coerce_options(data, {key: text})[key]
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
    try:
        config = detector.config_cls(**groups["config"])
    except (TypeError, ValueError) as err:
        raise RunError(f"invalid config for {model}: {err}") from None
    # A data option that is also a config field (a series detector's `window`) follows the
    # config, as `image_size` does for image loaders, so the model and its data agree.
    for key in config_fields & set(source.defaults):
        groups["data"][key] = getattr(config, key)
    return RunSpec(
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


def _parse_count(key: str, text: str) -> int | None:
    if key == "max_steps" and text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise RunError(f"{key} expects int, got {text!r}") from None
    lowest = 0 if key == "devices" else 1  # devices=0: all devices
    if value < lowest:
        raise RunError(f"{key} must be >= {lowest}, got {value}")
    return value


def load_data(spec: RunSpec) -> datasets.Dataset:
    """The run's data set, checked for finite values and a non-empty training split."""
    image_size = getattr(spec.config, "image_size", None)
    try:
        ds = datasets.load(spec.data, image_size=image_size, **spec.data_options)
    except datasets.DataError as err:
        raise RunError(str(err)) from None
    for part in ("train", "validation", "test"):
        split = getattr(ds, part)
        if len(split) and not np.all(np.isfinite(split.x)):
            raise RunError(f"{spec.data}: the {part} split holds NaN or inf values")
    if len(ds.train) == 0:
        raise RunError(f"{spec.data}: the training split is empty")
    for part in ds.folds or (ds,):
        if len(part.train) < spec.config.batch_size:
            raise RunError(
                f"{part.name}: {len(part.train)} training samples, fewer than one batch "
                f"({spec.config.batch_size}); lower batch_size"
            )
    return ds


def _check_resumable(spec: RunSpec, out: Path) -> None:
    saved = out / "config.json"
    if not saved.exists() or not any((out / d).is_dir() for d in ("checkpoints", "folds")):
        raise RunError(f"nothing to resume in {out}: no config.json or checkpoints/")
    old = json.loads(saved.read_text())
    new = json.loads(json.dumps(spec.identity()))
    diff = sorted(k for k in new if old.get(k) != new[k])
    if diff:
        raise RunError(f"--resume with a different {', '.join(diff)} than the run in {out}")


def train_run(spec: RunSpec, out: Path, resume: bool = False, overwrite: bool = False) -> dict:
    """Train, evaluate and write the run folder; returns the report."""
    out = Path(out)
    if resume:
        _check_resumable(spec, out)
    elif out.exists() and any(out.iterdir()):
        if not overwrite:
            raise RunError(f"{out} already holds a run; use --resume, --overwrite or another --out")
    ds = load_data(spec)
    if distributed.is_primary():  # one process of a multi-process run writes the folder
        if not resume and out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({**spec.to_json(), "input_shape": list(ds.train.x.shape[1:])}, indent=2)
            + "\n"
        )
    distributed.barrier("run-folder")
    started = time.perf_counter()
    if ds.folds:
        states = _fit_folds(spec, out, ds, resume)
        train_seconds = time.perf_counter() - started
        return evaluate_run(spec, out, state=states, dataset=ds, train_seconds=train_seconds)
    state, _ = fit(
        spec.detector,
        spec.config,
        ds.train.x,
        seed=spec.seed,
        run_dir=out,
        options=spec.train,
        resume=resume,
        validation_x=ds.validation.x,
    )
    train_seconds = time.perf_counter() - started
    return evaluate_run(spec, out, state=state, dataset=ds, train_seconds=train_seconds)


def _fit_folds(spec: RunSpec, out: Path, ds: datasets.Dataset, resume: bool) -> list[Any]:
    """One model per fold, each in run_dir/folds/NN (resumed where it has checkpoints)."""
    from tqdm.auto import tqdm

    states = []
    options = dataclasses.replace(spec.train, progress=False)
    for i, fold in enumerate(tqdm(ds.folds, desc="folds", disable=not spec.train.progress)):
        folder = _fold_dir(out, i)
        state, _ = fit(
            spec.detector,
            spec.config,
            fold.train.x,
            seed=spec.seed,
            run_dir=folder,
            options=options,
            resume=resume and (folder / "checkpoints").is_dir(),
            validation_x=fold.validation.x,
        )
        states.append(state)
    return states


def _fold_dir(out: Path, index: int) -> Path:
    return Path(out) / "folds" / f"{index:02d}"


def _evaluate_folds(
    spec: RunSpec, out: Path, ds: datasets.Dataset, states: list[Any] | None
) -> tuple[dict[str, Any], np.ndarray, ScoreArrays]:
    """Score every fold with its own model and threshold (the `threshold_quantile` of its
    validation, i.e. training, point scores); point metrics pooled over all folds' test points,
    with a PCA residual baseline under the same protocol and per-fold F1/AUROC. Returns the
    result and the pooled point labels and scores (for the plots)."""
    scorer = make_scorer(spec.detector, spec.config)
    batch, quantile = spec.config.batch_size, spec.evaluation.threshold_quantile
    labels, heads, predicted, base_scores, base_predicted = [], {}, [], [], []
    per_fold = {}
    for i, fold in enumerate(ds.folds):
        if states is None:
            state = restore_state(spec, _fold_dir(out, i), fold.train.x[:batch])
        else:
            state = states[i]
        reference = score_dataset(scorer, state, fold.validation.x, batch, keep_maps=True)
        test = score_dataset(scorer, state, fold.test.x, batch, keep_maps=True)
        fold_labels = np.concatenate(fold.test.windows.labels)
        labels.append(fold_labels)
        for head in test.heads:
            points = series.step_point_scores(fold.test.windows, series.head_steps(test, head))
            heads.setdefault(head, []).append(np.concatenate(points))
        ref_points = np.concatenate(
            series.step_point_scores(
                fold.validation.windows, series.head_steps(reference, reference.default)
            )
        )
        threshold = fit_threshold(ref_points, quantile, "training points").value
        predicted.append(heads[test.default][-1] > threshold)
        per_fold[fold.name] = series.point_metrics(
            fold_labels, heads[test.default][-1], threshold, oracle=False
        )
        train_points = series.split_points(fold.validation)
        q_reference = series.pca_residual_scores(train_points, train_points)
        base_scores.append(series.pca_residual_scores(train_points, series.split_points(fold.test)))
        base_predicted.append(base_scores[-1] > np.quantile(q_reference, quantile))
    oracle = spec.evaluation.oracle
    pooled = series.pooled_metrics(labels, heads[test.default], predicted, oracle)
    result = {
        **{k: v for k, v in pooled.items() if not k.startswith("oracle_")},
        "threshold": float("nan"),
        "threshold_source": (
            f"training points of each fold, {quantile:g} quantile ({len(ds.folds)} folds)"
        ),
        "score_head": test.default,
        "heads": {
            head: ranking_metrics(np.concatenate(labels), np.concatenate(scores))
            for head, scores in heads.items()
        },
        "folds": per_fold,
        "baseline": {
            "pca_q": series.pooled_metrics(labels, base_scores, base_predicted, oracle=False)
        },
    }
    if oracle:
        result["oracle"] = {k: v for k, v in pooled.items() if k.startswith("oracle_")}
    points = ScoreArrays({h: np.concatenate(v) for h, v in heads.items()}, test.default)
    return result, np.concatenate(labels), points


def evaluate_run(
    spec: RunSpec,
    out: Path,
    state: Any = None,
    dataset: datasets.Dataset | None = None,
    train_seconds: float | None = None,
) -> dict:
    """Score validation and test, fit the threshold on validation, write report and plots."""
    ds = dataset if dataset is not None else load_data(spec)
    primary = distributed.is_primary()
    if ds.folds:
        result, labels, points = _evaluate_folds(spec, out, ds, state)
        plots = plot_report(out / "plots", labels, points, None) if primary else []
        return _finish_report(spec, out, ds, result, train_seconds, plots)
    if state is None:
        state = restore_state(spec, out, ds.train.x[: spec.config.batch_size])
    scorer = make_scorer(spec.detector, spec.config)
    batch = spec.config.batch_size
    windows = ds.test.windows is not None
    validation = score_dataset(scorer, state, ds.validation.x, batch, keep_maps=windows)
    keep_maps = ds.modality == "image" or windows
    test = score_dataset(scorer, state, ds.test.x, batch, keep_maps=keep_maps)
    threshold = fit_threshold(
        validation.value, spec.evaluation.threshold_quantile, "validation normals"
    )
    result = evaluate_scores(ds.test.y, test, threshold, oracle=spec.evaluation.oracle)
    masks = ds.test.masks
    if masks is not None and test.anomaly_map is not None and masks.any() and not masks.all():
        result.update(pixel_metrics(masks, test.anomaly_map))
    if windows and len(ds.validation):
        result["point"] = series.evaluate_windows(
            (ds.validation.windows, validation.value, series.head_steps(validation, test.default)),
            (ds.test.windows, test.value, series.head_steps(test, test.default)),
            spec.evaluation.threshold_quantile,
            "validation",
            ds.test.y,
        )["point"]
    images = ds.test.x if ds.modality == "image" else None
    plots = plot_report(out / "plots", ds.test.y, test, threshold, images, masks) if primary else []
    if primary and images is not None and spec.detector.samples is not None:
        key = named_key(jax.random.key(spec.seed), "samples")
        generated = spec.detector.samples(spec.config, state, key, jnp.asarray(ds.train.x[:64]))
        plots.append(plot_samples(out / "plots", np.asarray(generated)))
    return _finish_report(spec, out, ds, result, train_seconds, plots)


def _finish_report(
    spec: RunSpec,
    out: Path,
    ds: datasets.Dataset,
    result: dict[str, Any],
    train_seconds: float | None,
    plots: list[str],
) -> dict:
    """The report of a run (spec, protocol, metrics, timing, data summary, plot names), written
    to report.json and report.md by the primary process."""
    if train_seconds is None:
        previous = out / "report.json"
        train_seconds = (
            json.loads(previous.read_text())["train_seconds"] if previous.exists() else float("nan")
        )
    report = {
        **spec.to_json(),
        "protocol": ds.protocol,
        **result,
        "train_seconds": train_seconds,
        "data_summary": ds.summary(),
        "plots": plots,
    }
    if distributed.is_primary():
        write_report(out, report)
    return report


def restore_state(spec: RunSpec, out: Path, sample_batch: np.ndarray) -> Any:
    """The run's newest checkpoint; RunError when it is missing or unreadable."""
    from ganad_jax.checkpoint import CheckpointError

    try:
        return restore(spec.detector, spec.config, out, sample_batch)
    except CheckpointError as err:
        raise RunError(str(err)) from None


def load_spec(out: Path) -> tuple[RunSpec, dict[str, Any]]:
    """Rebuild the RunSpec of a run folder from its config.json; also return the raw JSON."""
    path = Path(out) / "config.json"
    if not path.exists():
        raise RunError(f"{out} is not a run folder (no config.json)")
    try:
        saved = json.loads(path.read_text())
        detector = detectors.get(saved["model"])
        fields = saved["config"]
    except (json.JSONDecodeError, KeyError) as err:
        raise RunError(f"{path} is unreadable: {err}") from None
    opaque = [k for k, v in fields.items() if _is_opaque(v)]
    if opaque:
        raise RunError(
            f"{out} was trained with Python objects in {', '.join(opaque)}; "
            "restore it through the Python API with the same config"
        )
    config = detector.config_cls(**fields)
    spec = RunSpec(
        model=saved["model"],
        data=saved["data"],
        seed=saved["seed"],
        config=config,
        data_options=saved["data_options"],
        train=TrainOptions(progress=False, **saved["train"]),
        evaluation=EvalOptions(**saved["evaluation"]),
        ensemble=saved.get("ensemble"),
    )
    return spec, saved


def _is_opaque(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("<") and value.endswith(">")
    if isinstance(value, dict):
        return any(_is_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_opaque(v) for v in value)
    return False
