"""Run an experiment config and write its result table from the runs' reports.

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ganomaly_mnist.py

An experiment module defines `get_config()` returning an `Experiment`; each of its runs is the
`ganad train` command printed next to its result. Results go to experiments/results/NAME.{md,json}.
Runs of one command that differ only by seed are trained together as one program (`ganad train
--seeds`, into one folder with a run folder per seed; each member equals its single-seed run to
float rounding), except runs with Python overrides and per-file protocols (SKAB's leaderboard).
A run or peer whose report is in its folder under --out is not run again; with `--keep-rows`, nor
is one that has a row in the committed table, so that seeds or rows added to a long experiment
train only what the table lacks (a fresh checkout has no run folders).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ganad_jax import data as datasets
from ganad_jax import runs, runspec
from ganad_jax.evaluation import baselines
from ganad_jax.evaluation.metrics import evaluate_scores
from ganad_jax.evaluation.reports import plot_training_curves
from ganad_jax.scoring import ScoreArrays


@dataclasses.dataclass(frozen=True)
class Run:
    """One `ganad train` invocation, or, with `overrides`, its Python equivalent: config values
    the command line cannot write (optax chains in `optimizers`, functions in `extra_terms`),
    named by `extension`, which the printed command shows and the run folder's name carries."""

    model: str
    data: str
    settings: tuple[str, ...] = ()
    seed: int = 0
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    extension: str = ""

    def __post_init__(self) -> None:
        if bool(self.overrides) != bool(self.extension):
            raise ValueError("a run with Python overrides names them in `extension`, and only then")

    def _line(self, seed: bool) -> str:
        sets = " ".join(f"--set {s}" for s in self.settings)
        seeded = f" --seed {self.seed}" if seed else ""
        line = f"ganad train {self.model} --data {self.data}{seeded} {sets}".strip()
        return f"{line} + python:{self.extension}" if self.extension else line

    def command(self) -> str:
        """The equivalent command line (with "+ python:NAME" for the Python overrides)."""
        return self._line(seed=True)

    def group(self) -> str:
        """The command line without the seed: runs that differ only by seed share it."""
        return self._line(seed=False)


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A reference row: `ganad_jax.evaluation.baselines` method `method` fitted on the training
    normals of `data` and evaluated as a run is; `settings` are data and evaluation options
    (and `image_size`, the size images are read at)."""

    method: str
    data: str
    settings: tuple[str, ...] = ()
    seed: int = 0

    def command(self) -> str:
        """How the table names the row (it is computed by this script, not by `ganad`)."""
        sets = " ".join(f"--set {s}" for s in self.settings)
        return f"baseline {self.method} --data {self.data} --seed {self.seed} {sets}".strip()

    def group(self) -> str:
        """The row's name without the seed."""
        sets = " ".join(f"--set {s}" for s in self.settings)
        return f"baseline {self.method} --data {self.data} {sets}".strip()

    def report(self) -> dict:
        """The metrics of a run's report (those `evaluate_scores` computes) and its fit time."""
        ds, evaluation = load_split(self.data, self.settings)
        started = time.perf_counter()
        score = baselines.fit(self.method, ds.train.x, self.seed)
        seconds = time.perf_counter() - started
        scores = score(ds.test.x), score(ds.validation.x)
        return {**evaluate(ds, evaluation, self.method, *scores), "train_seconds": seconds}


PEERS = Path(__file__).resolve().parent / "peers"  # the peer scripts
RESULTS = Path("experiments/results")  # where the tables go, from the repository root


@dataclasses.dataclass(frozen=True)
class Peer:
    """A row trained by another library: the script `experiments/peers/SCRIPT.py`, run in the
    Python that GANAD_PEER_PYTHON names (this one where it is unset), trains on the training
    images of `data` (read with `settings`, as `Baseline` reads them) and scores its validation
    and test images, which are evaluated as a run is. `options` are the script's own flags
    (its budget); the versions it ran with go into the row."""

    script: str
    data: str
    settings: tuple[str, ...] = ()
    seed: int = 0
    options: tuple[str, ...] = ()

    def _line(self, seed: bool) -> str:
        sets = "".join(f" --set {s}" for s in self.settings)
        seeded = f" --seed {self.seed}" if seed else ""
        flags = "".join(f" {o}" for o in self.options)
        return f"peer {self.script} --data {self.data}{seeded}{sets}{flags}"

    def command(self) -> str:
        """How the table names the row (this script runs it; the script's docstring says how)."""
        return self._line(seed=True)

    def group(self) -> str:
        """The row's name without the seed."""
        return self._line(seed=False)

    def report(self, folder: Path) -> dict:
        """Export the split to `folder`, run the peer script there and evaluate its scores; a
        folder that already holds the report is read instead (a finished row is not rerun)."""
        path = folder / "report.json"
        if path.exists():
            return json.loads(path.read_text())
        ds, evaluation = load_split(self.data, self.settings)
        folder.mkdir(parents=True, exist_ok=True)
        split, scores = folder / "split.npz", folder / "scores.npz"
        np.savez(split, train=ds.train.x, validation=ds.validation.x, test=ds.test.x)
        script = PEERS / f"{self.script}.py"
        python = os.environ.get("GANAD_PEER_PYTHON", sys.executable)
        started = time.perf_counter()
        subprocess.run(
            [python, str(script), str(split), str(scores), "--seed", str(self.seed), *self.options],
            check=True,
        )
        seconds = time.perf_counter() - started
        split.unlink()
        out = np.load(scores)
        report = {
            **evaluate(ds, evaluation, self.script, out["test"], out["validation"]),
            "train_seconds": seconds,
            "updates": int(out["updates"]),
            "peer": str(out["versions"]),
        }
        path.write_text(json.dumps(report, indent=2) + "\n")
        return report


def load_split(
    data: str, settings: tuple[str, ...]
) -> tuple[datasets.Dataset, runspec.EvalOptions]:
    """The data set a reference row reads (`image_size` and the data options of `settings`) and
    its evaluation options (the other settings, over the data set's own defaults)."""
    source = datasets.get(data)
    options, data_options, evaluation = {}, {}, {}
    for item in settings:
        key, text = item.split("=", 1)
        if key == "image_size":  # the size the table's models read the images at
            options["image_size"] = int(text)
        elif key in source.defaults:
            data_options[key] = text
        else:
            evaluation[key] = runspec.parse_value(runspec.EvalOptions, key, text)
    # coerced together: coerce_options fills every key it is not given with its default
    options.update(datasets.coerce_options(data, data_options))
    default = runspec.EvalOptions.threshold_quantile
    evaluation = runspec.EvalOptions(
        **{"threshold_quantile": source.threshold_quantile or default, **evaluation}
    )
    return datasets.load(data, **options), evaluation


def evaluate(
    ds: datasets.Dataset,
    evaluation: runspec.EvalOptions,
    head: str,
    test: np.ndarray,
    validation: np.ndarray,
) -> dict:
    """The report metrics of a reference row's test scores, thresholded on its validation
    normals' scores."""
    return evaluate_scores(
        ds.test.y,
        ScoreArrays({head: test}, head),
        ScoreArrays({head: validation}, head),
        evaluation.threshold_quantile,
        evaluation.oracle,
    )


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named list of runs and the metrics its table shows; a dotted metric name reaches into
    a report's sub-dict ("oracle.oracle_top_k_f1", with `--set oracle=true`; "heads.NAME.f1").
    `baselines` add reference rows after the runs, and `peers` rows trained by other libraries
    after those."""

    name: str
    runs: tuple[Run, ...]
    metrics: tuple[str, ...] = ("auroc", "auprc", "f1")
    baselines: tuple[Baseline, ...] = ()
    peers: tuple[Peer, ...] = ()


def load(path: Path) -> Experiment:
    """Import an experiment module by path and return its get_config()."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.get_config()


def folder_name(command: str) -> str:
    """A run folder's name: the command with "_" for spaces and slashes; a long one is cut and
    ends in a hash of the command instead, to stay within file-name limits (255 bytes)."""
    name = command.replace(" ", "_").replace("/", "_")
    if len(name) > 200:
        name = f"{name[:180]}_{hashlib.sha1(command.encode()).hexdigest()[:12]}"
    return name


def main(argv: list[str] | None = None) -> int:
    """Run every run of the experiment (skipping finished ones) and write the result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/experiments"))
    parser.add_argument(
        "--keep-rows",
        action="store_true",
        help="runs and peers with a row in the committed table (experiments/results/NAME.json) "
        "keep it and are not run again",
    )
    args = parser.parse_args(argv)
    experiment = load(args.config)
    kept = kept_rows(experiment, RESULTS) if args.keep_rows else {}
    reports: dict[int, dict] = {}
    curves: dict[int, tuple] = {}  # the training curves the runs logged (curve_every)
    programs: dict[int, str] = {}  # the --seeds command each run was trained in
    for group in seed_groups(experiment.runs):
        indices = [i for i in group if experiment.runs[i].command() not in kept]
        if not indices:
            continue
        runs_of_group = [experiment.runs[i] for i in indices]
        first = runs_of_group[0]
        spec = runspec.make_spec(
            first.model, first.data, first.seed, first.settings, progress=False,
            overrides=first.overrides,
        )  # fmt: skip
        if len(runs_of_group) > 1:  # one program for the seeds (ganad train --seeds)
            seeds = tuple(r.seed for r in runs_of_group)
            command = seeds_command(first, seeds)
            folder = args.out / experiment.name / folder_name(command)
            paths = [folder / f"seed-{seed}" / "report.json" for seed in seeds]
            if not (folder / "report.json").exists():
                started = time.perf_counter()
                runs.train_run(spec, folder, overwrite=True, seeds=seeds)
                print(f"{command}: {time.perf_counter() - started:.0f} s", flush=True)
        else:
            paths = [args.out / experiment.name / folder_name(first.command()) / "report.json"]
            if not paths[0].exists():
                started = time.perf_counter()
                runs.train_run(spec, paths[0].parent, overwrite=True)
                print(f"{first.command()}: {time.perf_counter() - started:.0f} s", flush=True)
        for i, path in zip(indices, paths, strict=True):
            if path.exists():  # (a seed that diverged has no report)
                reports[i] = json.loads(path.read_text())
                if curve := runs.logged_curve(path.parent):
                    curves[i] = curve
                if len(indices) > 1:
                    programs[i] = command
    rows = [
        kept[run.command()]
        if run.command() in kept
        else {
            **row(run, reports[i], experiment.metrics),
            **({"program": programs[i]} if i in programs else {}),
        }
        for i, run in enumerate(experiment.runs)
        if i in reports or run.command() in kept
    ]
    for baseline in experiment.baselines:
        rows.append(row(baseline, baseline.report(), experiment.metrics))
        print(f"{baseline.command()}: done", flush=True)
    for peer in experiment.peers:
        if peer.command() in kept:
            rows.append(kept[peer.command()])
            continue
        report = peer.report(args.out / experiment.name / folder_name(peer.command()))
        rows.append({**row(peer, report, experiment.metrics), "peer": report["peer"]})
        print(f"{peer.command()}: {report['train_seconds']:.0f} s", flush=True)
    write_results(experiment, rows, RESULTS)
    if curves:
        write_curves(experiment, curves)
    return 0


def kept_rows(experiment: Experiment, folder: Path) -> dict[str, dict]:
    """`--keep-rows`: the rows of `folder`/NAME.json (the committed table) of the experiment's
    runs and peers, by command, each marked `"kept": true`. Such a run or peer is not run again
    (its report under --out is not read either) and its row goes into the new table as it was;
    a curve it logged is not redrawn. For a fresh checkout, whose --out is empty, adding seeds
    or rows to a long experiment then trains only what the table lacks."""
    path = folder / f"{experiment.name}.json"
    if not path.exists():
        return {}
    previous = {line["command"]: line for line in json.loads(path.read_text())["rows"]}
    commands = [r.command() for r in experiment.runs] + [p.command() for p in experiment.peers]
    return {c: {**previous[c], "kept": True} for c in commands if c in previous}


def write_curves(experiment: Experiment, curves: dict[int, tuple], folder: Path = RESULTS) -> None:
    """experiments/results/NAME_curves.png: the training curves `curves` (by run index) of the
    runs that logged one, each labelled by what its command does not share with the others', and
    a line in NAME.md that names the figure."""
    parts = {}
    for i in curves:  # the model, then each "--flag value" of the command
        _, *flags = experiment.runs[i].command().split(" --")
        parts[i] = [experiment.runs[i].model, *(f"--{flag}" for flag in flags)]
    shared = set.intersection(*(set(p) for p in parts.values()))
    labels = {
        i: " ".join(p for p in parts[i] if p not in shared) or experiment.runs[i].model
        for i in curves
    }
    path = folder / f"{experiment.name}_curves.png"
    plot_training_curves(path, {labels[i]: curve for i, curve in curves.items()})
    table = folder / f"{experiment.name}.md"
    table.write_text(
        table.read_text()
        + f"\nTraining curves of the {len(curves)} runs that logged one (the validation normals' "
        f"mean score; the test AUROC, a diagnostic that selects nothing): `{path.name}`.\n"
    )


def seed_groups(all_runs: tuple[Run, ...]) -> list[list[int]]:
    """The indices of the runs in groups trained as one program: the runs of one command that
    differ only by seed (`Run.group`), unless they carry Python overrides or their protocol fits
    one model per file (which `--seeds` does not take); every other run alone. In the order of
    first appearance."""
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(all_runs):
        together = not run.overrides and not datasets.fits_per_part(
            run.data, datasets.coerce_options(run.data, _data_settings(run))
        )
        groups.setdefault(run.group() if together else run.command(), []).append(i)
    return list(groups.values())


def _data_settings(run: Run) -> dict[str, str]:
    """The run's settings that are options of its data set."""
    defaults = datasets.get(run.data).defaults
    pairs = (item.split("=", 1) for item in run.settings if "=" in item)
    return {key: value for key, value in pairs if key in defaults}


def seeds_command(run: Run, seeds: tuple[int, ...]) -> str:
    """The `ganad train --seeds` command of `run`'s group."""
    return run.group().replace(
        f"--data {run.data}", f"--data {run.data} --seeds {','.join(map(str, seeds))}", 1
    )


def row(run: Run | Baseline | Peer, report: dict, metrics: tuple[str, ...]) -> dict:
    """A table row: the command, its group and the metrics of its report."""
    return {
        "command": run.command(),
        "group": run.group(),
        **{m: metric(report, m) for m in metrics},
        "threshold_source": report["threshold_source"],
        "train_seconds": report["train_seconds"],
    }


def metric(report: dict, name: str) -> float | None:
    """A report's value by metric name; dots step into sub-dicts and, by index, lists
    ("threshold_sensitivity.0.f1"); None where the report has no such value (a head another
    detector does not have)."""
    value = report
    for part in name.split("."):
        if isinstance(value, list):
            if not (part.isdigit() and int(part) < len(value)):
                return None
            value = value[int(part)]
        elif part in value:
            value = value[part]
        else:
            return None
    return value


def _cell(values: list[float | None], spread: bool) -> str:
    """The mean of `values` (and, with `spread`, their sample std), or "—" where one is None."""
    if any(v is None for v in values):
        return "—"
    mean = f"{np.mean(values):.4f}"
    if not spread:
        return mean
    return f"{mean} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.4f}"


def write_results(experiment: Experiment, rows: list[dict], folder: Path) -> None:
    """experiments/results/NAME.json (all rows) and NAME.md (a table per run, then the mean of
    all runs, or where runs repeat a command over seeds, each command's mean +- sample std)."""
    folder.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''}".strip()
    meta = {"jax": jax.__version__, "backend": jax.default_backend(), "machine": machine}
    (folder / f"{experiment.name}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    head = " | ".join(experiment.metrics)
    lines = [
        f"# {experiment.name}",
        "",
        f"jax {meta['jax']} on {meta['backend']} ({machine}).",
        "",
        f"| command | {head} | train s |",
        "|---|" + "---|" * (len(experiment.metrics) + 1),
    ]
    for line in rows:
        values = " | ".join(_cell([line[m]], False) for m in experiment.metrics)
        lines.append(f"| `{line['command']}` | {values} | {line['train_seconds']:.0f} |")
    groups: dict[str, list[dict]] = {}
    for line in rows:
        groups.setdefault(line.get("group", line["command"]), []).append(line)
    if all(len(members) == 1 for members in groups.values()):
        means = " | ".join(_cell([r[m] for r in rows], False) for m in experiment.metrics)
        lines.append(f"| mean of {len(rows)} | {means} | |")
    else:
        lines += ["", f"| command (mean ± std over seeds) | {head} | runs |"]
        lines.append("|---|" + "---|" * (len(experiment.metrics) + 1))
        for group, members in groups.items():
            values = " | ".join(_cell([r[m] for r in members], True) for m in experiment.metrics)
            lines.append(f"| `{group}` | {values} | {len(members)} |")
    if any("program" in line for line in rows):
        lines += [
            "",
            "Runs of one command that differ only by seed were trained together, in one program "
            "(`ganad train --seeds`, its command in each JSON row's `program`); their train s "
            "is that program's.",
        ]
    if kept := sum(1 for line in rows if line.get("kept")):
        lines += [
            "",
            f"{kept} of the {len(rows)} rows were kept from an earlier table (`run.py "
            "--keep-rows`, their JSON rows marked `kept`), not run again for this one.",
        ]
    versions = sorted({line["peer"] for line in rows if "peer" in line})
    if versions:
        lines += ["", f"Peer rows ran with {'; '.join(versions)}."]
    sources = sorted({row["threshold_source"] for row in rows})
    lines += ["", f"Thresholds: {'; '.join(sources)}." if rows else ""]
    (folder / f"{experiment.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
