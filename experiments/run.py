"""Run an experiment config and write its result table from the runs' reports.

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ganomaly_mnist.py

An experiment module defines `get_config()` returning an `Experiment`; each of its runs is the
`ganad train` command printed next to its result. Results go to experiments/results/NAME.{md,json}.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

from ganad_jax import runs


@dataclasses.dataclass(frozen=True)
class Run:
    """One `ganad train` invocation."""

    model: str
    data: str
    settings: tuple[str, ...] = ()
    seed: int = 0

    def command(self) -> str:
        """The equivalent command line."""
        sets = " ".join(f"--set {s}" for s in self.settings)
        return f"ganad train {self.model} --data {self.data} --seed {self.seed} {sets}".strip()


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named list of runs and the metrics its table shows."""

    name: str
    runs: tuple[Run, ...]
    metrics: tuple[str, ...] = ("auroc", "auprc", "f1")


def load(path: Path) -> Experiment:
    """Import an experiment module by path and return its get_config()."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.get_config()


def main(argv: list[str] | None = None) -> int:
    """Run every run of the experiment (skipping finished ones) and write the result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--out", type=Path, default=Path("runs/experiments"))
    args = parser.parse_args(argv)
    experiment = load(args.config)
    rows = []
    for run in experiment.runs:
        folder = args.out / experiment.name / run.command().replace(" ", "_").replace("/", "_")
        report_path = folder / "report.json"
        if not report_path.exists():
            spec = runs.make_spec(run.model, run.data, run.seed, run.settings, progress=False)
            started = time.perf_counter()
            runs.train_run(spec, folder, overwrite=True)
            print(f"{run.command()}: {time.perf_counter() - started:.0f} s", flush=True)
        report = json.loads(report_path.read_text())
        rows.append(
            {
                "command": run.command(),
                **{m: report[m] for m in experiment.metrics},
                "threshold_source": report["threshold_source"],
                "train_seconds": report["train_seconds"],
            }
        )
    write_results(experiment, rows, Path("experiments/results"))
    return 0


def write_results(experiment: Experiment, rows: list[dict], folder: Path) -> None:
    """experiments/results/NAME.json (all rows) and NAME.md (a table per run, then a mean)."""
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
    for row in rows:
        values = " | ".join(f"{row[m]:.4f}" for m in experiment.metrics)
        lines.append(f"| `{row['command']}` | {values} | {row['train_seconds']:.0f} |")
    means = " | ".join(f"{np.mean([r[m] for r in rows]):.4f}" for m in experiment.metrics)
    lines += [
        f"| mean of {len(rows)} | {means} | |",
        "",
        f"Thresholds: {rows[0]['threshold_source']}." if rows else "",
    ]
    (folder / f"{experiment.name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
