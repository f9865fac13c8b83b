"""The `ganad` command: train, evaluate and score runs, list detectors and data sets."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from ganad_jax import bench_cli, catalog, compile_cache

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's status for a process ended by SIGINT
COMPILING = ("train", "evaluate", "score", "bench")
"""The commands that compile JAX programs, and so use the persistent compilation cache."""


def _train(args: argparse.Namespace) -> int:
    from ganad_jax import distributed, runs, runspec

    if args.distributed or distributed.requested():
        distributed.initialize()
    devices = args.devices if args.devices is not None else (0 if args.distributed else None)
    settings = [*args.set, *([f"devices={devices}"] if devices is not None else [])]
    seeds = args.seeds

    def make(extra: list[str]) -> Any:
        return runspec.make_spec(
            args.model,
            args.data,
            seeds[0] if seeds else args.seed,
            [*settings, *extra],
            progress=not args.quiet,
            ensemble=args.ensemble,
        )

    sweep = None
    if args.sweep:
        setting, values = args.sweep
        sweep = runs.sweep_members(
            make([]), setting, values, tuple(make([f"{setting}={v}"]) for v in values)
        )
    spec = sweep.specs[0] if sweep else make([])
    seed_part = "seeds" + "_".join(map(str, seeds)) if seeds else f"seed{args.seed}"
    if sweep:
        seed_part = f"sweep-{sweep.axis}-{seed_part}"
    out = Path(args.out) if args.out else default_run_dir(args.model, args.data, seed_part, spec)
    report = runs.train_run(
        spec, out, resume=args.resume, overwrite=args.overwrite, seeds=seeds, sweep=sweep
    )
    (_print_members_report if seeds or sweep else _print_report)(report, out)
    return 0


def default_run_dir(model: str, data: str, seed: int | str, spec: Any) -> Path:
    """`runs/MODEL[-ensembleGxD-MODE]-DATA-seedN`, one folder under `runs/` whatever the data's
    argument holds (`csv:/a/b.csv` gives `runs/egbad-csv_a_b.csv-seed0`); `seed` may instead be
    the folder's whole seed part ("seeds0_1_2" for `--seeds 0,1,2`)."""
    members = f"-ensemble{spec.ensemble.replace(':', '-')}" if spec.ensemble else ""
    where = re.sub(r"[^A-Za-z0-9.-]+", "_", data).strip("_")
    seed_part = seed if isinstance(seed, str) else f"seed{seed}"
    return Path("runs") / f"{model}{members}-{where}-{seed_part}"


def _sweep_argument(text: str) -> tuple[str, tuple[str, ...]]:
    key, equals, values = text.partition("=")
    listed = tuple(v.strip() for v in values.split(","))
    if not (key and equals and all(listed)) or len(listed) < 2:
        raise argparse.ArgumentTypeError(f"--sweep expects KEY=V1,V2[,...], got {text!r}")
    if len(set(listed)) != len(listed):
        raise argparse.ArgumentTypeError(f"--sweep: {text!r} names a value twice")
    return key, listed


def _seeds_argument(text: str) -> tuple[int, ...]:
    from ganad_jax.seeds import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _evaluate(args: argparse.Namespace) -> int:
    from ganad_jax import runs

    spec, _ = runs.load_spec(Path(args.run_dir))
    if args.oracle:
        spec = dataclasses.replace(
            spec, evaluation=dataclasses.replace(spec.evaluation, oracle=True)
        )
    report = runs.evaluate_run(spec, Path(args.run_dir))
    _print_report(report, Path(args.run_dir))
    return 0


def _print_report(report: dict, out: Path) -> None:
    print(
        f"{report['model']} on {report['data']} ({report['protocol']}), seed {report['seed']}: "
        f"AUROC {report['auroc']:.4f}  AUPRC {report['auprc']:.4f}  "
        f"F1 {report['f1']:.4f} at "
        + ("thresholds" if "folds" in report else f"threshold {report['threshold']:.4g}")
        + f" ({report['threshold_source']})"
        + (f"; {report['steps']} updates" if "steps" in report else "")
    )
    print(f"report: {out / 'report.md'}")


def _print_members_report(report: dict, out: Path) -> None:
    where = f"{report['model']} on {report['data']} ({report['protocol']})"
    diverged = ", ".join(report["diverged"])
    if "seeds" in report:
        metrics = report["metrics"]
        shown = "  ".join(
            f"{name.upper()} {metrics[name]['mean']:.4f} +- {metrics[name]['std']:.4f}"
            for name in ("auroc", "auprc", "f1")
            if name in metrics
        )
        print(
            f"{where}, {len(report['per_seed'])} of {len(report['seeds'])} seeds: {shown}"
            + (f"; diverged: seeds {diverged}" if diverged else "")
        )
    else:
        shown = ", ".join(
            f"{row[report['sweep']]}: AUROC {row['auroc']:.4f}" for row in report["per_value"]
        )
        print(
            f"{where}, {report['sweep']} swept: {shown}"
            + (f"; diverged: {diverged}" if diverged else "")
        )
    print(f"report: {out / 'report.md'}")


def _score(args: argparse.Namespace) -> int:
    import numpy as np

    from ganad_jax import runs
    from ganad_jax.data.preprocess import Preprocessing
    from ganad_jax.files import read_inputs
    from ganad_jax.scoring import make_scorer, score_dataset

    run_dir = Path(args.run_dir)
    spec, saved = runs.load_spec(run_dir)
    report = runs.load_report(run_dir)
    if "folds" in report:
        raise runs.RunError(
            f"{run_dir} holds one model per labelled file, each with its own scaling and "
            "threshold, so new data has no model to go to; train with --set "
            "protocol=time-series to score new series"
        )
    if not (run_dir / "preprocessing.json").exists() and len(saved["input_shape"]) == 3:
        # an image run of a version that saved no preprocessing: images need none fitted
        preprocessing = Preprocessing.for_images(saved["input_shape"])
    else:
        preprocessing = Preprocessing.load(run_dir)
    x, names = read_inputs([Path(f) for f in args.files], preprocessing, resize=args.resize)
    state = runs.restore_state(spec, run_dir, np.zeros((1, *saved["input_shape"]), np.float32))
    scores = score_dataset(
        make_scorer(spec.detector, spec.config), state, x, spec.config.batch_size
    )
    for name, value in zip(names, scores.value, strict=True):
        flagged = bool(value > report["threshold"])
        if args.json:
            print(json.dumps({"file": name, "score": float(value), "anomaly": flagged}))
        else:
            print(f"{name}\t{value:.6g}\t{'anomaly' if flagged else 'normal'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from ganad_jax import data

    print("detectors:")
    for name in catalog.names():
        d = catalog.entry(name)
        print(f"  {name:16s} {'/'.join(d.modalities):8s} {d.description}")
    print("data sets:")
    for name in data.names():
        s = data.get(name)
        print(f"  {name:16s} {s.modality:8s} {s.description}")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from ganad_jax import data

    print(data.table())
    return 0


def _data_show(args: argparse.Namespace) -> int:
    from ganad_jax import data
    from ganad_jax.data.show import show

    options = {}
    for item in args.set:
        if "=" not in item:
            raise data.DataError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        options[key] = value
    summary = show(args.name, Path(args.out), image_size=args.image_size, **options)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `ganad` and its subcommands."""
    parser = _Parser(
        prog="ganad", description="GAN-based anomaly detectors in JAX: train, evaluate, score."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a detector on a data set, evaluate, write a report")
    train.add_argument("model", help="detector name (see `ganad list`)")
    train.add_argument(
        "--data", default="mnist-embedded", help="data set name (default: mnist-embedded)"
    )
    seed = train.add_mutually_exclusive_group()
    seed.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    seed.add_argument(
        "--seeds",
        type=_seeds_argument,
        metavar="LIST",
        help="train the runs of several seeds (0,1,2 or 0-9) in one program, into OUT/seed-S/, "
        "with a report over them in OUT",
    )
    train.add_argument(
        "--sweep",
        type=_sweep_argument,
        metavar="KEY=V1,V2,...",
        help="train the runs of several values of one config setting in one program, into "
        "OUT/KEY=VALUE/, with a table over the values in OUT",
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, data option or training option (repeatable)",
    )
    train.add_argument("--out", help="run folder (default: runs/MODEL-DATA-seedN)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--ensemble",
        metavar="GxD[:MODE]",
        help="train a GAN ensemble of G generators and D discriminators; MODE is pair (default, "
        "one random pair per step, as the paper), all (every pair every step), independent or code "
        "(the released code's iteration; BiGAN family)",
    )
    train.add_argument(
        "--devices",
        type=int,
        metavar="N",
        help="data-parallel over N devices (0: all; default 1, or all with --distributed); "
        "--set ensemble_shards=K splits an ensemble's members over K of them",
    )
    train.add_argument(
        "--distributed",
        action="store_true",
        help="join a multi-process run (JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, "
        "JAX_PROCESS_ID, or SLURM/Open MPI/TPU detection); JAX_COORDINATOR_ADDRESS alone also does",
    )
    train.set_defaults(func=_train)

    evaluate = sub.add_parser("evaluate", help="re-score a trained run and rewrite its report")
    evaluate.add_argument("run_dir")
    evaluate.add_argument(
        "--oracle",
        action="store_true",
        help="add labelled oracle metrics (thresholds from test labels)",
    )
    evaluate.set_defaults(func=_evaluate)

    score = sub.add_parser("score", help="score new inputs with a trained run and its threshold")
    score.add_argument("run_dir")
    score.add_argument(
        "files",
        nargs="+",
        help="images (PNG/JPEG), .npy arrays of one sample or a batch (uint8 images, or inputs "
        "in the data set's original units), or CSV rows for table runs",
    )
    score.add_argument("--resize", action="store_true", help="resize images to the run's size")
    score.add_argument("--json", action="store_true", help="one JSON object per line")
    score.set_defaults(func=_score)

    bencher = sub.add_parser(
        "bench", help="throughput, compile time, FLOP/s and memory per detector"
    )
    bench_cli.add_arguments(bencher)
    bencher.set_defaults(func=bench_cli.run)

    lister = sub.add_parser("list", help="list detectors and data sets")
    lister.set_defaults(func=_list)

    data = sub.add_parser("data", help="inspect data sets").add_subparsers(
        dest="action", required=True
    )
    data_list = data.add_parser("list", help="every data set with its protocol and options")
    data_list.set_defaults(func=_data_list)
    data_show = data.add_parser("show", help="sizes, class counts and a figure of one data set")
    data_show.add_argument("name")
    data_show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    data_show.add_argument("--image-size", type=int, help="resize images (default: as stored)")
    data_show.add_argument("--out", default="data-show", help="folder of the figure")
    data_show.set_defaults(func=_data_show)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, like every other failure of `ganad`."""

    def error(self, message: str) -> NoReturn:
        """Print one line and exit with status 2."""
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `ganad` command. Every failure prints one line on stderr and exits with
    status 2 (`GANAD_DEBUG=1` also prints the traceback); Ctrl-C exits with 130, keeping the run's
    last checkpoint."""
    from ganad_jax.errors import GanadError

    args = build_parser().parse_args(argv)
    try:
        if args.command in COMPILING:
            compile_cache.enable()
        return args.func(args)
    except KeyboardInterrupt:
        _debug_traceback()
        print(
            "ganad: interrupted; the run keeps its last checkpoint (continue with --resume)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except GanadError as err:
        _debug_traceback()
        print(f"ganad: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as err:  # anything else is still one line; GANAD_DEBUG=1 shows where
        _debug_traceback()
        print(
            f"ganad: error: {type(err).__name__}: {_one_line(err)} "
            "(GANAD_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT


def _in_multi_process_run() -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and jax.distributed.is_initialized()


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _debug_traceback() -> None:
    if os.environ.get("GANAD_DEBUG", "") not in ("", "0"):
        traceback.print_exc()


def entry() -> None:
    """The `ganad` executable: `main`, then exit. After Ctrl-C, and after a failure in a
    multi-process run, the process ends at once: an interpreter shutdown racing the checkpoint
    writer's threads can crash, and a multi-process shutdown waits for peers that may be gone."""
    status = main()
    if status == EXIT_INTERRUPTED or (status and _in_multi_process_run()):
        # a failed process of a multi-process run would otherwise wait for its peers at exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    entry()
