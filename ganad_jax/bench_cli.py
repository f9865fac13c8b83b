"""The arguments of `ganad bench` (and `python -m ganad_jax.bench`), checked before JAX starts,
and the command that runs `ganad_jax.bench` with them and prints its table or JSON.

Bad options are `BenchError`s: one line on stderr and status 2, as every `ganad` failure."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from ganad_jax import catalog
from ganad_jax.errors import GanadError

MODALITIES = ("image", "tabular", "series", "all")


class BenchError(GanadError, ValueError):
    """A `ganad bench` option that cannot be run: an unknown model, modality or ensemble size."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the bench options on `parser`."""
    parser.add_argument(
        "models", nargs="*", metavar="MODEL", help="detector names (default: every registered one)"
    )
    parser.add_argument("--batch", type=int, help="batch size (default: the config's)")
    parser.add_argument("--image-size", type=int, help="image side (default: the config's)")
    parser.add_argument("--channels", type=int, default=1, help="image channels (default: 1)")
    parser.add_argument(
        "--features",
        type=int,
        help="features per row or time step (default: 121 tabular, 51 series)",
    )
    parser.add_argument(
        "--modality",
        help="image, tabular, series, or all: every one the model takes (default: image if taken)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks (default: 5)")
    parser.add_argument("--steps", type=int, default=10, help="calls per timed block (default: 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default: 2)")
    parser.add_argument("--tiny", action="store_true", help="use the detector's tiny config")
    parser.add_argument("--torch", action="store_true", help="time the PyTorch reference alongside")
    parser.add_argument(
        "--search-steps",
        type=int,
        help="steps of a latent search (AnoGAN, MAD-GAN; default: the config's)",
    )
    parser.add_argument(
        "--ensemble",
        metavar="N,N,...",
        help="also time n x n ensembles for each n (e.g. 1,3,5), cost per pair update",
    )
    parser.add_argument(
        "--ensemble-mode",
        choices=catalog.ENSEMBLE_MODES,
        default="independent",
        help="ensemble training mode (default: independent, every member every step)",
    )
    parser.add_argument(
        "--seeds",
        metavar="N,N,...",
        help="also time N seeds trained in one program for each N (e.g. 1,4,8), against one run",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print JSON: one flat object for a single result, else {"results": [...]}',
    )


def members(text: str | None, option: str = "--ensemble") -> tuple[int, ...]:
    """The sizes of `--ensemble 1,3,5` (or of `option`, `--seeds 1,4,8`); () when not given."""
    if not text:
        return ()
    try:
        sizes = tuple(int(n) for n in text.split(","))
    except ValueError:
        raise BenchError(f"{option} expects sizes like 1,3,5, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise BenchError(f"{option} sizes must be >= 1, got {text!r}")
    return sizes


def check(args: argparse.Namespace) -> None:
    """Refuse, before anything is compiled, options the benchmark cannot run."""
    for name in args.models:
        if name not in catalog.DETECTORS:
            raise BenchError(f"unknown model {name!r}; known: {', '.join(catalog.names())}")
    if args.modality is not None and args.modality not in MODALITIES:
        raise BenchError(f"--modality must be one of {', '.join(sorted(MODALITIES))}")
    for name in args.models:
        taken = catalog.entry(name).modalities
        if args.modality not in (None, "all", *taken):
            raise BenchError(f"{name} takes {', '.join(taken)}, not {args.modality}")
    members(args.ensemble)
    members(args.seeds, "--seeds")
    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise BenchError("--torch needs PyTorch: pip install 'ganad-jax[bench]'") from None


def run(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments; print a table or JSON; return the exit status."""
    check(args)
    from ganad_jax import bench

    results = bench.run_bench(
        args.models or None,
        modality=args.modality,
        batch=args.batch,
        image_size=args.image_size,
        channels=args.channels,
        features=args.features,
        tiny=args.tiny,
        repeats=args.repeats,
        steps=args.steps,
        warmup=args.warmup,
        torch=args.torch,
        search_steps=args.search_steps,
        ensemble_members=members(args.ensemble),
        ensemble_mode=args.ensemble_mode,
        seed_counts=members(args.seeds, "--seeds"),
    )
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else {"results": results}, indent=2))
    else:
        print(bench.format_table(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m ganad_jax.bench`: `ganad bench` with the same arguments."""
    import sys

    from ganad_jax import cli

    return cli.main(["bench", *(sys.argv[1:] if argv is None else argv)])
