"""A run: one detector trained on one data set under its protocol, evaluated, in one folder.

Layout of a run folder: config.json (everything needed to rebuild the run), checkpoints/,
metrics.jsonl, tensorboard/, report.json, report.md and plots/*.png. A multi-seed run (`seeds`,
`ganad train --seeds`) holds one complete run folder per seed, seed-S/, trained together in one
program (`ganad_jax.seeds`), with seeds.json (the seeds and the shared spec), report.json and
report.md over the seeds and plots/roc_seeds.png; a sweep (`ganad train --sweep`) one per value,
KEY=VALUE/, with sweep.json, a report over the values and plots/roc_sweep.png.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax import data as datasets
from ganad_jax import detectors, distributed, runfolder
from ganad_jax import seeds as many_seeds
from ganad_jax.detectors import (
    SEED,
)
from ganad_jax.evaluation import series
from ganad_jax.evaluation.metrics import (
    Threshold,
    evaluate_scores,
    fit_threshold,
    ranking_metrics,
)
from ganad_jax.evaluation.pixel import pixel_metrics
from ganad_jax.evaluation.reports import (
    HEADLINE,
    aggregate_reports,
    plot_member_rocs,
    plot_report,
    plot_samples,
    plot_training_curve,
    write_members_report,
    write_report,
)
from ganad_jax.runspec import EvalOptions, RunError, RunSpec
from ganad_jax.scoring import ScoreArrays, make_scorer, score_dataset
from ganad_jax.train import (
    TrainingDiverged,
    TrainingPlan,
    TrainOptions,
    data_shards,
    elapsed_seconds,
    fit,
    named_key,
    plan_training,
    restore,
)


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
        try:
            plan(spec, len(part.train))
        except ValueError as err:
            raise RunError(f"{part.name}: {err}") from None
        if len(part.validation) == 0:
            raise RunError(
                f"{part.name}: the validation split is empty, and the threshold is fitted on "
                "validation normals; set validation_fraction > 0"
            )
    return ds


def plan(spec: RunSpec, n_train: int) -> TrainingPlan:
    """The batch and epochs a run of `n_train` training samples trains with (`plan_training`:
    a batch clamped to a small training set, epochs raised to the config's `min_updates`)."""
    return plan_training(spec.detector, spec.config, n_train, spec.train, data_shards(spec.train))


def planned_steps(spec: RunSpec, n_train: int) -> int:
    """The training steps a run of `n_train` samples makes: its epochs (raised to the
    detector's minimum of updates where they make fewer), capped by max_steps."""
    return plan(spec, n_train).total_steps


def training_summary(plan: TrainingPlan, steps: int, options: TrainOptions) -> dict[str, Any]:
    """What the report records of how the run trained: the batch each step took, the epochs,
    and the notes and warning the terminal showed (see `TrainingPlan`), and with early stopping
    what chose the state scored."""
    warning = plan.shortfall(steps)
    stopping = []
    if options.validate_every is not None:
        stopping.append(
            f"early stopping kept the state with the lowest {options.validation_statistic} "
            "default score over the validation normals, the normals the threshold is also "
            "fitted on"
        )
    return {
        "steps": steps,
        "planned_steps": plan.total_steps,
        "batch_size_used": plan.batch_size_used,
        "epochs_used": plan.epochs_used,
        "training_notes": [*plan.notes(), *stopping, *([f"warning: {warning}"] if warning else [])],
    }


@dataclasses.dataclass(frozen=True)
class Members:
    """Runs trained together in one program (`ganad_jax.seeds`): the seeds of one spec
    (`axis` "seed"), or the values of one swept config setting (`axis` its name). `labels` are the
    seeds or the values as given, `specs` the members' specs."""

    axis: str
    labels: tuple[str, ...]
    specs: tuple[RunSpec, ...]

    @property
    def file(self) -> str:
        """The file that marks the top folder: seeds.json or sweep.json."""
        return "seeds.json" if self.axis == "seed" else "sweep.json"

    def folder(self, index: int) -> str:
        """Member `index`'s run folder: seed-S, or SETTING=VALUE."""
        label = self.labels[index]
        return f"seed-{label}" if self.axis == "seed" else f"{self.axis}={label}"

    def name(self, index: int) -> str:
        """How reports and plots name member `index`: "seed S" or "SETTING=VALUE"."""
        return f"seed {self.labels[index]}" if self.axis == "seed" else self.folder(index)


def seed_members(spec: RunSpec, seeds: tuple[int, ...]) -> Members:
    """The runs of `spec` with each of `seeds`."""
    specs = tuple(dataclasses.replace(spec, seed=seed) for seed in seeds)
    return Members("seed", tuple(map(str, seeds)), specs)


def sweep_members(
    spec: RunSpec, setting: str, values: tuple[str, ...], specs: tuple[RunSpec, ...]
) -> Members:
    """The runs of `spec` with config setting `setting` at each of `values` (`specs`, one per
    value, as `runspec.make_spec` built them); RunError where they differ from `spec` in anything
    but the config, or the setting is not a config field."""
    if setting.partition(".")[0] not in {f.name for f in dataclasses.fields(spec.config)}:
        raise RunError(
            f"--sweep takes a config setting of {spec.model}; {setting!r} is not one (data and "
            "training options are shared by the members)"
        )
    for value, member in zip(values, specs, strict=True):
        if dataclasses.replace(member, config=spec.config) != spec:
            raise RunError(f"--sweep {setting}={value} changes more than the config")
    return Members(setting, values, specs)


MEMBER_FILES = ("seeds.json", "sweep.json")
"""What marks the top folder of runs trained together: their seeds or swept values and spec."""


def _refuse_seeds_folder(out: Path) -> None:
    """RunError for the top folder of runs trained together, which is not one run."""
    for name in MEMBER_FILES:
        if (Path(out) / name).is_file():
            kind = "multi-seed run" if name == "seeds.json" else "sweep"
            raise RunError(f"{out} holds a {kind}: use one of its run folders")


def _check_resumable(spec: RunSpec, out: Path) -> None:
    _refuse_seeds_folder(out)
    try:
        runfolder.check_existing(out)
        old = json.loads((out / "config.json").read_text())
    except runfolder.RunFolderError as err:
        raise RunError(f"nothing to resume: {err}") from None
    except (OSError, json.JSONDecodeError) as err:
        raise RunError(f"{out / 'config.json'} is unreadable: {err}") from None
    new = json.loads(json.dumps(spec.identity()))
    diff = sorted(k for k in new if old.get(k) != new[k])
    if diff:
        raise RunError(f"--resume with a different {', '.join(diff)} than the run in {out}")


def _write_config(spec: RunSpec, folder: Path, ds: datasets.Dataset) -> None:
    """config.json and the fitted preprocessing: what rebuilding and scoring the run needs."""
    config = {**spec.to_json(), "input_shape": list(ds.train.x.shape[1:])}
    runfolder.write_text(folder / "config.json", json.dumps(config, indent=2) + "\n")
    if ds.preprocessing is not None:
        ds.preprocessing.save(folder)


def train_run(
    spec: RunSpec,
    out: Path,
    resume: bool = False,
    overwrite: bool = False,
    seeds: tuple[int, ...] | None = None,
    sweep: Members | None = None,
) -> dict:
    """Train, evaluate and write the run folder; returns the report.

    Everything is checked before anything is written. A new run is written into `out` (marked as
    a run first) so that it can be resumed after a crash; a run that fails before its first
    checkpoint leaves nothing behind. `overwrite` trains the replacement next to the old run and
    swaps it in only once it succeeded. `resume` continues the run in `out` from its newest
    intact checkpoint (from the start where it has none).

    `seeds` (instead of `spec.seed`) trains the runs of those seeds in one program into
    out/seed-S/ and returns the report over them (see the module docstring); `sweep`
    (`sweep_members`) the runs of a swept config setting into out/SETTING=VALUE/. Neither
    resumes (each member's folder resumes alone) nor takes per-file protocols.
    """
    out = Path(out)
    if seeds is not None and sweep is not None:
        raise RunError("--seeds and --sweep do not combine: sweep one seed")
    members = seed_members(spec, seeds) if seeds is not None else sweep
    flag = "--seeds" if seeds is not None else "--sweep"
    if members is not None and resume:
        raise RunError(
            f"--resume does not take {flag}: each member's folder is a complete run, resume it "
            f"alone (ganad train ... --resume --out {out / members.folder(0)})"
        )
    if members is not None:
        try:
            many_seeds.check_options(spec.train)
        except ValueError as err:
            raise RunError(str(err)) from None
        if datasets.fits_per_part(spec.data, spec.data_options):
            raise RunError(
                f"{flag} does not take per-file protocols ({spec.data} fits one model per file): "
                "train the runs one by one"
            )
    try:
        if resume:
            _check_resumable(spec, out)
        else:
            runfolder.check_new(out, overwrite)
    except runfolder.RunFolderError as err:
        raise RunError(str(err)) from None
    ds = load_data(spec)
    primary = distributed.is_primary()  # one process of a multi-process run writes the folder
    replacing = not resume and out.exists() and any(out.iterdir())
    fresh = not resume and not replacing
    created = _first_missing(out)  # what a failed new run removes again (None: out existed)
    target = runfolder.staging_folder(out) if replacing else out
    try:
        if primary:
            if replacing:
                runfolder.begin_stage(out)
            elif fresh:
                runfolder.mark(out)
            if not resume and members is None:
                _write_config(spec, target, ds)
        distributed.barrier("run-folder")
        if members is not None:
            report = _train_members(spec, members, target, ds)
        else:
            report = _train_one(spec, target, ds, resume, primary)
    except BaseException as err:
        if primary and replacing:  # a replacement is never resumed: the old run stays
            runfolder.discard_stage(target)
        elif primary and fresh and isinstance(err, Exception) and not _has_checkpoint(target):
            _remove_new_run(out, created)  # (after Ctrl-C it stays, for --resume)
        raise
    distributed.barrier("run-finished")
    if primary and replacing:
        runfolder.commit_stage(target, out)
    distributed.barrier("run-committed")
    return report


CURVE_KEYS = ("validation_mean_score", "test_auroc_diagnostic")
"""The metrics.jsonl keys of a run's training curve (`--set curve_every=N`)."""


def training_curve(spec: RunSpec, ds: datasets.Dataset) -> Any:
    """`curve(state)` for `train.fit` where the run asks for one (`curve_every`), else None: the
    mean default score of the validation normals (labels not used) and, as a diagnostic that
    nothing is selected by, the test AUROC."""
    if spec.train.curve_every is None or ds.folds:
        return None
    scorer = make_scorer(spec.detector, spec.config)
    batch = spec.config.batch_size

    def curve(state: Any) -> dict[str, float]:
        validation = score_dataset(scorer, state, ds.validation.x, batch).value
        test = score_dataset(scorer, state, ds.test.x, batch).value
        return {
            CURVE_KEYS[0]: float(np.mean(validation)),
            CURVE_KEYS[1]: ranking_metrics(ds.test.y, test)["auroc"],
        }

    return curve


def _members_curve(curves: list[Any]) -> Any:
    """`fit_members`' `curve(i, state)` from one `training_curve` per member (None: none)."""
    if curves[0] is None:
        return None
    return lambda index, state: curves[index](state)


def _train_one(
    spec: RunSpec, target: Path, ds: datasets.Dataset, resume: bool, primary: bool
) -> dict:
    """Train and evaluate the run of `spec` in `target` (`train_run`'s single-seed case)."""
    started = time.perf_counter()
    if ds.folds:
        state = _fit_folds(spec, target, ds, resume)
    else:
        state, _ = fit(
            spec.detector,
            spec.config,
            ds.train.x,
            seed=spec.seed,
            run_dir=target,
            options=spec.train,
            resume=resume,
            validation_x=ds.validation.x,
            curve=training_curve(spec, ds),
        )
    train_seconds = _train_seconds(target, ds, time.perf_counter() - started)
    if primary and resume:  # the training options may have changed (a longer max_steps)
        _write_config(spec, target, ds)
    return evaluate_run(spec, target, state=state, dataset=ds, train_seconds=train_seconds)


def _train_members(spec: RunSpec, members: Members, target: Path, ds: datasets.Dataset) -> dict:
    """Train `members` in one program into their folders under `target`, evaluate each as a run
    of its own, and write the report over them: every metric's mean, std, min and max over
    seeds, or a table over a sweep's values."""
    count = len(members.specs)
    folders = [target / members.folder(i) for i in range(count)]
    shared = {
        k: v
        for k, v in spec.to_json().items()
        if k != ("seed" if members.axis == "seed" else "config")
    }
    listing = (
        {"seeds": [int(v) for v in members.labels]}
        if members.axis == "seed"
        else {"sweep": members.axis, "values": list(members.labels)}
    )
    runfolder.write_text(target / members.file, json.dumps({**listing, **shared}, indent=2) + "\n")
    for member, folder in zip(members.specs, folders, strict=True):
        runfolder.mark(folder)
        _write_config(member, folder, ds)
    started = time.perf_counter()
    results = many_seeds.fit_members(
        spec.detector,
        [member.config for member in members.specs],
        ds.train.x,
        seeds=[member.seed for member in members.specs],
        run_dirs=folders,
        options=spec.train,
        validation_x=ds.validation.x,
        curve=_members_curve([training_curve(member, ds) for member in members.specs]),
    )
    seconds = time.perf_counter() - started
    diverged = {i: r.diverged for i, r in enumerate(results) if r.diverged is not None}
    if len(diverged) == count:
        raise TrainingDiverged("; ".join(diverged.values()))
    reports = {
        i: evaluate_run(
            members.specs[i], folders[i], state=r.state, dataset=ds, train_seconds=seconds
        )
        for i, r in enumerate(results)
        if r.state is not None
    }
    curves = {}
    for i, member_report in reports.items():
        with np.load(folders[i] / SCORES_FILE) as scores:
            head = member_report["score_head"]
            curves[members.name(i)] = (scores["test_labels"], scores[f"test/{head}"])
    rows = [
        {members.axis: members.labels[i], **{k: r[k] for k in HEADLINE if k in r}}
        for i, r in reports.items()
    ]
    if members.axis == "seed":
        for row in rows:
            row["seed"] = int(row["seed"])
        summary = {"metrics": aggregate_reports(reports), "per_seed": rows}
    else:
        for row, r in zip(rows, reports.values(), strict=True):
            row["heads"] = {name: {"auroc": m["auroc"]} for name, m in r["heads"].items()}
        summary = {"per_value": rows}
    plot = "roc_seeds" if members.axis == "seed" else "roc_sweep"
    report = {
        **shared,
        **listing,
        "protocol": ds.protocol,
        **summary,
        "diverged": {members.labels[i]: why for i, why in diverged.items()},
        "train_seconds": seconds,
        "plots": [plot_member_rocs(target / "plots", curves, plot)],
    }
    write_members_report(target, report)
    return report


def _has_checkpoint(folder: Path) -> bool:
    return any(p.is_dir() for p in (folder / "checkpoints").glob("*")) or any(
        _has_checkpoint(f) for f in sorted((folder / "folds").glob("*"))
    )


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None when `path` exists)."""
    path = path.absolute()
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def _remove_new_run(out: Path, created: Path | None) -> None:
    """Undo a new run that failed before its first checkpoint: remove the folders it created, or
    empty again the empty folder it was given."""
    if not runfolder.is_run(out):
        return
    if created is None:
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    else:
        shutil.rmtree(created)


def _train_seconds(folder: Path, ds: datasets.Dataset, measured: float | None) -> float | None:
    """Training time across all resumed segments, from the checkpoints' records where they hold
    it (every fold's for per-file protocols), else the time measured now."""
    folders = [_fold_dir(folder, i) for i in range(len(ds.folds))] if ds.folds else [folder]
    recorded = [elapsed_seconds(f) for f in folders]
    if all(r is not None for r in recorded):
        return float(sum(recorded))
    return measured


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
            resume=resume,  # a fold with no checkpoint yet starts from step 0
            validation_x=fold.validation.x,
            announce=False,  # one summary line for all folds below, not one per fold
        )
        states.append(state)
    plans = [plan(spec, len(fold.train)) for fold in ds.folds]
    _announce_folds(plans, [int(state.step) for state in states])
    return states


def _announce_folds(plans: list[TrainingPlan], steps: list[int]) -> None:
    """One stderr line saying how many folds trained with a clamped batch, more epochs than
    configured or fewer updates than the minimum (each fold's notes are in report.json)."""
    counts = {
        "a batch clamped to their training set": sum(
            p.batch_size_used != p.batch_size for p in plans
        ),
        "epochs raised to the minimum of updates": sum(p.epochs_used != p.epochs for p in plans),
        "fewer updates than the minimum": sum(
            p.shortfall(n) is not None for p, n in zip(plans, steps, strict=True)
        ),
    }
    found = [f"{count} with {what}" for what, count in counts.items() if count]
    if found and distributed.is_primary():
        kind = "warning" if counts["fewer updates than the minimum"] else "note"
        print(
            f"ganad: {kind}: of {len(plans)} folds, {', '.join(found)} "
            "(each fold's training_notes are in report.json)",
            file=sys.stderr,
        )


def _fold_dir(out: Path, index: int) -> Path:
    return Path(out) / "folds" / f"{index:02d}"


def _evaluate_folds(
    spec: RunSpec, out: Path, ds: datasets.Dataset, states: list[Any] | None
) -> tuple[dict[str, Any], np.ndarray, ScoreArrays]:
    """Score every fold with its own model and threshold (the `threshold_quantile` of its
    validation, i.e. training, point scores); point metrics pooled over all folds' test points,
    with the baselines of `series.baseline_point_scores` under the same protocol (thresholds
    from each fold's training points, leave-one-out for the window distance) and per-fold
    F1/AUROC. Returns the
    result and the pooled point labels and scores (for the plots)."""
    scorer = make_scorer(spec.detector, spec.config)
    batch, quantile = spec.config.batch_size, spec.evaluation.threshold_quantile
    labels, heads, predicted, base_scores, base_predicted = [], {}, [], {}, {}
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
        per_fold[fold.name] = {
            **series.point_metrics(fold_labels, heads[test.default][-1], threshold, oracle=False),
            **training_summary(plan(spec, len(fold.train)), int(state.step), spec.train),
        }
        # the fold's validation split is its training rows again, so the reference is training
        baselines = series.baseline_point_scores(fold.train, fold.validation, fold.test, True)
        for name, (reference_points, test_points) in baselines.items():
            base_scores.setdefault(name, []).append(test_points)
            cut = np.quantile(reference_points, quantile)
            base_predicted.setdefault(name, []).append(test_points > cut)
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
        "steps": sum(f["steps"] for f in per_fold.values()),
        "planned_steps": sum(f["planned_steps"] for f in per_fold.values()),
        "training_notes": [
            f"{name}: {note}" for name, f in per_fold.items() for note in f["training_notes"]
        ],
        "baseline": {
            name: series.pooled_metrics(labels, scores, base_predicted[name], oracle=False)
            for name, scores in base_scores.items()
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
        if primary:
            _write_scores(out, {"point_labels": labels, **_prefixed("point", points.heads)})
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
    result = evaluate_scores(
        ds.test.y, test, validation, spec.evaluation.threshold_quantile, spec.evaluation.oracle
    )
    result.update(training_summary(plan(spec, len(ds.train)), int(state.step), spec.train))
    if primary:
        _write_scores(
            out,
            {
                "test_labels": ds.test.y,
                **({"test_ids": ds.test.ids} if ds.test.ids is not None else {}),
                **_prefixed("test", test.heads),
                **_prefixed("validation", validation.heads),
                "threshold": np.float64(result["threshold"]),
            },
        )
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
        result["baseline"] = series.baseline_metrics(ds, spec.evaluation.threshold_quantile)
    images = ds.test.x if ds.modality == "image" else None
    threshold = Threshold(result["threshold"], result["threshold_source"])
    plots = plot_report(out / "plots", ds.test.y, test, threshold, images, masks) if primary else []
    curve = logged_curve(out)
    if primary and curve:
        plots.append(plot_training_curve(out / "plots", *curve))
    if primary and images is not None and spec.detector.samples is not None:
        key = named_key(jax.random.key(spec.seed), "samples")
        generated = spec.detector.samples(spec.config, state, key, jnp.asarray(ds.train.x[:64]))
        plots.append(plot_samples(out / "plots", np.asarray(generated)))
    return _finish_report(spec, out, ds, result, train_seconds, plots)


def logged_curve(out: Path) -> tuple[list[int], list[float], list[float]] | None:
    """(steps, validation mean scores, test AUROCs) of the training curve in out/metrics.jsonl,
    or None where the run logged none."""
    path = out / "metrics.jsonl"
    if not path.exists():
        return None
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if all(key in row for key in CURVE_KEYS):
            rows.append(row)
    if not rows:
        return None
    return ([r["step"] for r in rows], *([r[key] for r in rows] for key in CURVE_KEYS))


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
    if train_seconds is None:  # re-evaluating: the time the checkpoints recorded
        train_seconds = _train_seconds(out, ds, measured=None)
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


SCORES_FILE = "scores.npz"
"""Per-sample scores of the evaluated splits: `test/HEAD`, `validation/HEAD`, `test_labels`,
`test_ids` and `threshold` (per-file protocols: `point/HEAD` and `point_labels`)."""


def _prefixed(prefix: str, heads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}/{name}": np.asarray(value) for name, value in heads.items()}


def _write_scores(out: Path, arrays: dict[str, np.ndarray]) -> None:
    """scores.npz, replaced atomically and without pickle."""
    tmp = out / f".{SCORES_FILE}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, out / SCORES_FILE)


def load_report(out: Path) -> dict[str, Any]:
    """The run's report.json; RunError when it is missing (not evaluated yet) or unreadable."""
    path = Path(out) / "report.json"
    if not path.exists():
        raise RunError(f"{out} has no report.json: evaluate it first (ganad evaluate {out})")
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"{path} is unreadable: {err}") from None


def restore_state(spec: RunSpec, out: Path, sample_batch: np.ndarray) -> Any:
    """The run's newest checkpoint; RunError when it is missing or unreadable."""
    from ganad_jax.checkpoint import CheckpointError

    try:
        return restore(spec.detector, spec.config, out, sample_batch)
    except CheckpointError as err:
        raise RunError(str(err)) from None


def load_spec(out: Path) -> tuple[RunSpec, dict[str, Any]]:
    """Rebuild the RunSpec of a run folder from its config.json; also return the raw JSON.

    RunError naming the file and the problem when it is missing, unreadable or edited into
    something that is not a run's config (unknown or missing keys, bad values)."""
    out = Path(out)
    _refuse_seeds_folder(out)
    try:
        runfolder.check_existing(out)
    except runfolder.RunFolderError as err:
        raise RunError(str(err)) from None
    path = out / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunError(f"{path} is unreadable: {err}") from None
    if isinstance(saved, dict) and "estimator" in saved:
        raise RunError(
            f"{out} holds a saved estimator; load it with ganad_jax.Estimator.load({str(out)!r})"
        )
    required = {"model", "data", "seed", "config", "data_options", "train", "evaluation"}
    known = required | {"ensemble", "input_shape"}
    if not isinstance(saved, dict) or required - set(saved) or set(saved) - known:
        keys = set(saved) if isinstance(saved, dict) else set()
        problems = [f"missing {', '.join(sorted(required - keys))}" if required - keys else ""]
        problems.append(f"unknown {', '.join(sorted(keys - known))}" if keys - known else "")
        raise RunError(f"{path} is not a run's config: {'; '.join(p for p in problems if p)}")
    try:
        detector = detectors.get(saved["model"])
    except KeyError as err:
        raise RunError(f"{path}: {err.args[0]}") from None
    fields = saved["config"]
    opaque = [k for k, v in fields.items() if _is_opaque(v)] if isinstance(fields, dict) else []
    if opaque:
        raise RunError(
            f"{out} was trained with Python objects in {', '.join(opaque)}; "
            "restore it through the Python API with the same config"
        )
    try:
        config = detector.config_cls(**fields)
        spec = RunSpec(
            model=saved["model"],
            data=saved["data"],
            seed=saved["seed"],
            config=config,
            data_options=datasets.coerce_options(saved["data"], saved["data_options"]),
            train=TrainOptions(**{**saved["train"], "progress": False}),
            evaluation=EvalOptions(**saved["evaluation"]),
            ensemble=saved.get("ensemble"),
        )
    except (TypeError, ValueError) as err:  # ConfigError and DataError are ValueErrors
        raise RunError(f"{path} holds an invalid config: {err}") from None
    if not isinstance(spec.seed, int) or not SEED.holds(spec.seed):
        raise RunError(f"{path}: seed must be an int {SEED.describe()}, got {spec.seed!r}")
    return spec, saved


def _is_opaque(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("<") and value.endswith(">")
    if isinstance(value, dict):
        return any(_is_opaque(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_opaque(v) for v in value)
    return False
