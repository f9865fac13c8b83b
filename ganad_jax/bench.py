"""`ganad bench` (also `python -m ganad_jax.bench`): per detector, training and scoring throughput,
compile time, achieved model FLOP/s as a fraction of a float32 matmul peak measured in the same
run, and memory; with `--torch`, the same step in PyTorch timed alternately with ours.

Every figure is a median over `--repeats` timed blocks of `--steps` calls after `--warmup` calls,
with the spread (min and max over the blocks). Model FLOPs are counted analytically
(`ganad_jax.nn.flops`: 2 per multiply-add of the architecture as published). The peak is the best
of several 2048x2048 float32 matmuls: the practical ceiling of the machine, which a busy machine
lowers, so run benchmarks on an idle one.

    python -m ganad_jax.bench ganomaly --torch
    python -m ganad_jax.bench --json          # every registered detector
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from ganad_jax import detectors
from ganad_jax.nn.flops import count_macs

PEAK_SIZE = 2048
PEAK_REPEATS = 10
DEFAULT_FEATURES = {"tabular": 121, "series": 51}
"""Features per row or time step where `--features` is not given: KDD Cup 99 one-hot encoded (the
tabular protocol of DAGMM/EGBAD/ALAD) and SWaT's 51 sensors (MAD-GAN's data set)."""
UNITS = {"image": "images", "tabular": "rows", "series": "windows"}


@dataclasses.dataclass(frozen=True)
class Rate:
    """Items per second: the median and the spread over timed blocks."""

    median: float
    low: float
    high: float

    @classmethod
    def from_seconds(cls, seconds: Sequence[float], items: int) -> Rate:
        """Rate of `items` per block from each block's duration."""
        rates = [items / s for s in seconds]
        return cls(statistics.median(rates), min(rates), max(rates))


def time_blocks(fns: Sequence[Callable[[], Any]], steps: int, repeats: int) -> list[list[float]]:
    """Seconds of `repeats` blocks of `steps` calls for each fn, the fns taking turns per block so
    that a change in machine load hits them alike."""
    seconds: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, seconds, strict=True):
            start = time.perf_counter()
            for _ in range(steps):
                fn()
            out.append(time.perf_counter() - start)
    return seconds


def matmul_peak_gflop_per_s(repeats: int = PEAK_REPEATS, size: int = PEAK_SIZE) -> float:
    """Best float32 GFLOP/s of a size x size matmul over `repeats` runs: the practical peak."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    matmul(a, a).block_until_ready()
    best = min(time_blocks([lambda: matmul(a, a).block_until_ready()], 1, repeats)[0])
    return 2 * size**3 / best / 1e9


def machine() -> str:
    """The device the benchmark runs on, in words (CPU model and core count on CPU)."""
    device = jax.devices()[0]
    if device.platform != "cpu":
        return f"{device.device_kind} ({device.platform})"
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            ]
        model = names[0] if names else model
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def _max_rss_mb() -> float:
    """The process's peak resident memory so far, compiler included (Linux reports KiB, macOS
    bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _device_peak_mb() -> float | None:
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**20


def _config(detector: detectors.Detector, tiny: bool, overrides: dict[str, Any]) -> Any:
    fields = {f.name for f in dataclasses.fields(detector.config_cls)}
    values = dict(detector.tiny) if tiny else {}
    values.update({k: v for k, v in overrides.items() if v is not None and k in fields})
    return detector.config_cls(**values)


def sample_batch(
    modality: str, config: Any, batch: int, channels: int, features: int | None
) -> jnp.ndarray:
    """A random batch in [-1, 1]: images (B, S, S, C), rows (B, F) or windows (B, T, F)."""
    features = features or DEFAULT_FEATURES.get(modality)
    shapes = {
        "image": lambda: (batch, config.image_size, config.image_size, channels),
        "tabular": lambda: (batch, features),
        "series": lambda: (batch, config.window, features),
    }
    if modality not in shapes:
        raise NotImplementedError(f"bench has no sample batch for modality {modality!r}")
    return jax.random.uniform(jax.random.key(1), shapes[modality](), jnp.float32, -1, 1)


def bench_detector(
    name: str,
    *,
    batch: int | None = None,
    image_size: int | None = None,
    channels: int = 1,
    features: int | None = None,
    modality: str | None = None,
    tiny: bool = False,
    repeats: int = 5,
    steps: int = 10,
    warmup: int = 2,
    torch: bool = False,
    peak_gflop_per_s: float | None = None,
) -> dict[str, Any]:
    """Benchmark one registered detector on data of `modality` (default: images where it takes
    them, else its first modality); returns the figures as a flat JSON-able dict."""
    detector = detectors.get(name)
    modality = modality or ("image" if "image" in detector.modalities else detector.modalities[0])
    if modality not in detector.modalities:
        raise ValueError(f"{name} takes {', '.join(detector.modalities)}, not {modality}")
    config = _config(detector, tiny, {"batch_size": batch, "image_size": image_size})
    batch = batch or getattr(config, "batch_size", 64)
    x = sample_batch(modality, config, batch, channels, features)
    state = detector.init(config, jax.random.key(0), x)
    keys = iter(list(jax.random.split(jax.random.key(2), warmup + repeats * steps)))

    start = time.perf_counter()
    train = (
        jax.jit(functools.partial(detector.train_step, config), donate_argnums=0)
        .lower(state, x, jax.random.key(0))
        .compile()
    )
    compile_s = time.perf_counter() - start
    score = jax.jit(functools.partial(detector.score, config)).lower(state, x).compile()
    train_macs = count_macs(
        functools.partial(detector.train_step, config), state, x, jax.random.key(0)
    )
    score_macs = count_macs(functools.partial(detector.score, config), state, x)

    def train_once() -> None:
        nonlocal state
        state, _ = train(state, x, next(keys))
        jax.block_until_ready(state)

    def score_once() -> None:
        jax.block_until_ready(score(state, x))

    trains, scores = [train_once], [score_once]
    for fn in trains + scores:
        for _ in range(warmup):
            fn()
    host_peak = _max_rss_mb()
    reference = _torch_reference(name, config, channels, batch) if torch else None
    if reference is not None:
        trains.append(reference.train_step)
        scores.append(reference.score)
        for fn in reference:
            for _ in range(warmup):
                fn()
    train_s = time_blocks(trains, steps, repeats)
    score_s = time_blocks(scores, steps, repeats)

    train_rate = Rate.from_seconds(train_s[0], batch * steps)
    score_rate = Rate.from_seconds(score_s[0], batch * steps)
    model_gflop_per_s = 2 * train_macs / 1e9 * train_rate.median / batch
    peak = peak_gflop_per_s or matmul_peak_gflop_per_s()
    device_peak = _device_peak_mb()
    result: dict[str, Any] = {
        "model": name,
        "modality": modality,
        "unit": UNITS.get(modality, "items"),
        "batch": batch,
        "shape": list(x.shape[1:]),
        "tiny": tiny,
        "train_per_s": train_rate.median,
        "train_per_s_min": train_rate.low,
        "train_per_s_max": train_rate.high,
        "score_per_s": score_rate.median,
        "score_per_s_min": score_rate.low,
        "score_per_s_max": score_rate.high,
        "compile_s": compile_s,
        "train_gflop_per_item": 2 * train_macs / batch / 1e9,
        "score_gflop_per_item": 2 * score_macs / batch / 1e9,
        "model_gflop_per_s": model_gflop_per_s,
        "score_gflop_per_s": 2 * score_macs / 1e9 * score_rate.median / batch,
        "peak_gflop_per_s": peak,
        "peak_fraction": model_gflop_per_s / peak,
        "step_memory_mb": _planned_mb(train),
        "peak_memory_mb": device_peak if device_peak is not None else host_peak,
        "peak_memory_source": "device peak_bytes_in_use"
        if device_peak is not None
        else "process max RSS",
        "repeats": repeats,
        "steps": steps,
        "machine": machine(),
        "jax_version": jax.__version__,
    }
    if reference is not None:
        torch_train = Rate.from_seconds(train_s[1], batch * steps)
        torch_score = Rate.from_seconds(score_s[1], batch * steps)
        result |= {
            "torch_train_per_s": torch_train.median,
            "torch_score_per_s": torch_score.median,
            # Ratios of paired blocks (adjacent in time), so load changes cancel out.
            "train_speedup": statistics.median(t / o for o, t in zip(*train_s, strict=True)),
            "score_speedup": statistics.median(t / o for o, t in zip(*score_s, strict=True)),
            "torch_version": _torch_version(),
        }
    return result


def _torch_reference(name: str, config: Any, channels: int, batch: int) -> Any:
    """The detector's PyTorch reference, or None where the project has none."""
    from ganad_jax.bench_torch import REFERENCES

    return REFERENCES[name](config, channels, batch) if name in REFERENCES else None


def _torch_version() -> str:
    import torch

    return f"{torch.__version__} ({torch.get_num_threads()} threads)"


def _planned_mb(compiled: jax.stages.Compiled) -> float | None:
    """XLA's planned memory of one call: arguments, outputs and temporaries, less donated aliases."""
    memory = compiled.memory_analysis()
    if memory is None:
        return None
    used = memory.argument_size_in_bytes + memory.output_size_in_bytes + memory.temp_size_in_bytes
    return (used - memory.alias_size_in_bytes) / 2**20


def run_bench(models: Sequence[str] | None = None, **options: Any) -> list[dict[str, Any]]:
    """Benchmark `models` (default: every registered detector) against one matmul peak."""
    peak = matmul_peak_gflop_per_s()
    return [
        bench_detector(name, peak_gflop_per_s=peak, **options)
        for name in (models or detectors.names())
    ]


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a plain-text table, with the machine and the matmul peak above it."""
    columns = [
        ("model", lambda r: r["model"]),
        ("batch", lambda r: str(r["batch"])),
        ("items", lambda r: "x".join(map(str, r["shape"])) + " " + r["unit"]),
        (
            "train/s",
            lambda r: (
                f"{r['train_per_s']:.0f} ({r['train_per_s_min']:.0f}-{r['train_per_s_max']:.0f})"
            ),
        ),
        (
            "score/s",
            lambda r: (
                f"{r['score_per_s']:.0f} ({r['score_per_s_min']:.0f}-{r['score_per_s_max']:.0f})"
            ),
        ),
        ("compile s", lambda r: f"{r['compile_s']:.1f}"),
        ("GFLOP/item", lambda r: f"{r['train_gflop_per_item']:.3g}"),
        ("GFLOP/s", lambda r: f"{r['model_gflop_per_s']:.0f}"),
        ("% peak", lambda r: f"{100 * r['peak_fraction']:.0f}"),
        ("step MB", lambda r: f"{r['step_memory_mb']:.0f}"),
    ]
    if any("torch_train_per_s" in r for r in results):
        columns += [
            ("torch train/s", lambda r: f"{r.get('torch_train_per_s', float('nan')):.0f}"),
            ("train x", lambda r: f"{r.get('train_speedup', float('nan')):.2f}"),
            ("torch score/s", lambda r: f"{r.get('torch_score_per_s', float('nan')):.0f}"),
            ("score x", lambda r: f"{r.get('score_speedup', float('nan')):.2f}"),
        ]
    rows = [[header for header, _ in columns]] + [[cell(r) for _, cell in columns] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    first = results[0]
    header = (
        f"{first['machine']}, jax {first['jax_version']}; matmul peak "
        f"{first['peak_gflop_per_s']:.0f} GFLOP/s (best of {PEAK_REPEATS} {PEAK_SIZE}x{PEAK_SIZE} "
        "float32 matmuls); "
        f"median (min-max) of {first['repeats']} blocks of {first['steps']} steps"
    )
    return "\n".join([header, *lines])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the bench options on `parser` (for `ganad bench` and `python -m ganad_jax.bench`)."""
    parser.add_argument("model", nargs="?", help="detector name (default: every registered one)")
    parser.add_argument("--batch", type=int, help="batch size (default: the config's)")
    parser.add_argument("--image-size", type=int, help="image side (default: the config's)")
    parser.add_argument("--channels", type=int, default=1, help="image channels (default: 1)")
    parser.add_argument(
        "--features",
        type=int,
        help="features per row or time step (default: 121 tabular, 51 series)",
    )
    parser.add_argument("--modality", help="image, tabular or series (default: image if taken)")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks (default: 5)")
    parser.add_argument("--steps", type=int, default=10, help="calls per timed block (default: 10)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first (default: 2)")
    parser.add_argument("--tiny", action="store_true", help="use the detector's tiny config")
    parser.add_argument("--torch", action="store_true", help="time the PyTorch reference alongside")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print JSON: the flat object of MODEL, or {"results": [...]} for every detector',
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark from parsed arguments; print a table or JSON; return the exit status."""
    if args.torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("--torch needs PyTorch: pip install 'ganad-jax[bench]'", file=sys.stderr)
            return 2
    if args.model and args.model not in detectors.names():
        print(
            f"unknown model {args.model!r}; known: {', '.join(detectors.names())}", file=sys.stderr
        )
        return 2
    results = run_bench(
        [args.model] if args.model else None,
        batch=args.batch,
        image_size=args.image_size,
        channels=args.channels,
        features=args.features,
        modality=args.modality,
        tiny=args.tiny,
        repeats=args.repeats,
        steps=args.steps,
        warmup=args.warmup,
        torch=args.torch,
    )
    if args.json:
        print(json.dumps(results[0] if args.model else {"results": results}, indent=2))
    else:
        print(format_table(results))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m ganad_jax.bench`."""
    parser = argparse.ArgumentParser(prog="ganad bench", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
