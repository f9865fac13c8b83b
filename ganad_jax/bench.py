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

import dataclasses
import functools
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

from ganad_jax import detectors, search
from ganad_jax.detectors.ensemble import ensemble
from ganad_jax.nn.flops import count_macs
from ganad_jax.seeds import seeds_step, stack
from ganad_jax.train import gathered_step

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


def _train_runner(
    detector: detectors.Detector, config: Any, x: jnp.ndarray
) -> tuple[Callable[[], None], float, jax.stages.Compiled]:
    """A callable that runs one training step of a fresh state on `x` (state donated, keys from a
    counter); the compile time of the step; the compiled step."""
    state = detector.init(config, jax.random.key(0), x)
    start = time.perf_counter()
    train = (
        jax.jit(functools.partial(detector.train_step, config), donate_argnums=0)
        .lower(state, x, jax.random.key(0))
        .compile()
    )
    compile_s = time.perf_counter() - start
    calls = 0

    def train_once() -> None:
        nonlocal state, calls
        state, _ = train(state, x, jax.random.fold_in(jax.random.key(2), calls))
        calls += 1
        jax.block_until_ready(state)

    return train_once, compile_s, train


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
    search_steps: int | None = None,
    ensemble_members: Sequence[int] = (),
    ensemble_mode: str = "independent",
    seed_counts: Sequence[int] = (),
    peak_gflop_per_s: float | None = None,
) -> dict[str, Any]:
    """Benchmark one registered detector on data of `modality` (default: images where it takes
    them, else its first modality); returns the figures as a flat JSON-able dict, plus a list
    under "ensemble" when `ensemble_members` is given and under "seeds" when `seed_counts` is.

    Detectors that score by a latent search (AnoGAN, MAD-GAN) also get the search timed batched
    against a per-sample loop (`search_*` keys); their scoring is timed one call per block.
    `search_steps` overrides the config's step count (`search_steps` / `inversion_steps`)."""
    detector = detectors.get(name)
    modality = modality or ("image" if "image" in detector.modalities else detector.modalities[0])
    if modality not in detector.modalities:
        raise ValueError(f"{name} takes {', '.join(detector.modalities)}, not {modality}")
    overrides = {"batch_size": batch, "image_size": image_size}
    overrides |= {"search_steps": search_steps, "inversion_steps": search_steps}
    config = _config(detector, tiny, overrides)
    batch = batch or getattr(config, "batch_size", 64)
    x = sample_batch(modality, config, batch, channels, features)
    train_once, compile_s, train = _train_runner(detector, config, x)
    state = detector.init(config, jax.random.key(0), x)
    score = jax.jit(functools.partial(detector.score, config)).lower(state, x).compile()
    train_macs = count_macs(
        functools.partial(detector.train_step, config), state, x, jax.random.key(0)
    )
    score_macs = count_macs(functools.partial(detector.score, config), state, x)

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
    score_steps = 1 if detector.search else steps  # a search is long: one call per block
    train_s = time_blocks(trains, steps, repeats)
    score_s = time_blocks(scores, score_steps, repeats)

    train_rate = Rate.from_seconds(train_s[0], batch * steps)
    score_rate = Rate.from_seconds(score_s[0], batch * score_steps)
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
        torch_score = Rate.from_seconds(score_s[1], batch * score_steps)
        result |= {
            "torch_train_per_s": torch_train.median,
            "torch_score_per_s": torch_score.median,
            # Ratios of paired blocks (adjacent in time), so load changes cancel out.
            "train_speedup": statistics.median(t / o for o, t in zip(*train_s, strict=True)),
            "score_speedup": statistics.median(t / o for o, t in zip(*score_s, strict=True)),
            "torch_version": _torch_version(),
        }
    if detector.search:
        result |= bench_search(detector.search(config, state, x), repeats, peak)
    if ensemble_members:
        result["ensemble_mode"] = ensemble_mode
        result["ensemble"] = bench_ensemble(
            detector, config, x, ensemble_members, ensemble_mode, steps, repeats, warmup
        )
    if seed_counts:
        result["seeds"] = bench_seeds(detector, config, x, seed_counts, steps, repeats, warmup)
    return result


def bench_seeds(
    detector: detectors.Detector,
    config: Any,
    x: jnp.ndarray,
    counts: Sequence[int],
    steps: int,
    repeats: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """Training throughput of S seeds in one program (`seeds.seeds_step`, the step `ganad train
    --seeds` runs) for each S in `counts`, timed block by block in turn with one run's step
    (`train.gathered_step`, jitted as `ganad train` runs it); both gather their batch from `x` by
    a permutation. "time_vs_one" is a step of S seeds relative to a step of one run;
    "time_per_seed" that divided by S."""
    batch = x.shape[0]
    perm = jnp.arange(batch, dtype=jnp.int32)

    fold = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(0, None)))

    def runner(count: int | None) -> Callable[[], None]:
        states = [detector.init(config, jax.random.key(s), x) for s in range(count or 1)]
        bases = stack([jax.random.key(100 + s) for s in range(count or 1)])  # step keys
        if count is None:
            step = jax.jit(gathered_step(detector, config, batch), donate_argnums=0)
            state, perms = states[0], perm
        else:
            step = seeds_step(detector, config, batch)
            state, perms = stack(states), jnp.stack([perm] * count)
        calls = 0

        def once() -> None:
            nonlocal state, calls
            keys = fold(bases, calls)
            state, _ = step(state, x, perms, jnp.int32(0), keys[0] if count is None else keys)
            calls += 1
            jax.block_until_ready(state)

        return once

    runners = [runner(None), *(runner(n) for n in counts)]
    for fn in runners:
        for _ in range(warmup):
            fn()
    seconds = time_blocks(runners, steps, repeats)
    alone = statistics.median(seconds[0])
    rows = []
    for n, blocks in zip(counts, seconds[1:], strict=True):
        rate = Rate.from_seconds(blocks, n * batch * steps)
        ratio = statistics.median(blocks) / alone
        rows.append(
            {
                "seeds": n,
                "train_per_s": rate.median,
                "train_per_s_min": rate.low,
                "train_per_s_max": rate.high,
                "time_vs_one": ratio,
                "time_per_seed": ratio / n,
            }
        )
    return rows


def bench_search(problem: tuple, repeats: int, peak: float) -> dict[str, Any]:
    """A latent search (`search.latent_search`'s arguments) timed batched, as scoring runs it,
    against a per-sample loop of one jitted optimizer step per call, as the reference
    implementations run it, and against a loop of compiled one-sample searches (best of
    `repeats`)."""
    speed = search.search_speed(*problem, repeats=repeats)
    gflop_per_s = speed["gflop_per_item"] * speed["search_per_s"]
    return {
        "search_steps": problem[4],
        "search_per_s": speed["search_per_s"],
        "search_loop_per_s": speed["search_loop_per_s"],
        "search_image_loop_per_s": speed["search_image_loop_per_s"],
        "search_speedup": speed["speedup"],
        "search_gflop_per_item": speed["gflop_per_item"],
        "search_gflop_per_s": gflop_per_s,
        "search_peak_fraction": gflop_per_s / peak,
    }


def bench_ensemble(
    detector: detectors.Detector,
    config: Any,
    x: jnp.ndarray,
    members: Sequence[int],
    mode: str,
    steps: int,
    repeats: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """Training throughput of n x n ensembles (n generators, n discriminators) of `detector` for
    each n in `members`, timed block by block in turn with the detector alone. "cost_per_update"
    is the time of one generator-discriminator pair update relative to a step of the detector
    alone (n updates per step in the independent mode, n * n in "all", one in "pair")."""
    runners = [_train_runner(detector, config, x)[0]]
    runners += [_train_runner(ensemble(detector, n, n, mode), config, x)[0] for n in members]
    for fn in runners:
        for _ in range(warmup):
            fn()
    seconds = time_blocks(runners, steps, repeats)
    batch = x.shape[0]
    alone = statistics.median(seconds[0])
    rows = []
    for n, blocks in zip(members, seconds[1:], strict=True):
        updates = {"independent": n, "all": n * n, "pair": 1}[mode]
        rate = Rate.from_seconds(blocks, batch * steps)
        rows.append(
            {
                "members": n,
                "pair_updates_per_step": updates,
                "train_per_s": rate.median,
                "train_per_s_min": rate.low,
                "train_per_s_max": rate.high,
                "cost_per_update": statistics.median(blocks) / updates / alone,
            }
        )
    return rows


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


def run_bench(
    models: Sequence[str] | None = None, modality: str | None = None, **options: Any
) -> list[dict[str, Any]]:
    """Benchmark `models` (default: every registered detector) against one matmul peak; with
    `modality="all"`, each model on every modality it takes; models that do not take a named
    modality are skipped."""
    peak = matmul_peak_gflop_per_s()
    results = []
    for name in models or detectors.names():
        taken = detectors.get(name).modalities
        for each in taken if modality == "all" else [modality]:
            if each is not None and each not in taken:
                continue
            results.append(bench_detector(name, modality=each, peak_gflop_per_s=peak, **options))
    return results


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a plain-text table, with the machine and the matmul peak above it."""
    columns = [
        ("model", lambda r: r["model"]),
        ("batch", lambda r: str(r["batch"])),
        ("items", lambda r: "x".join(map(str, r["shape"])) + " " + r["unit"]),
        ("train/s", lambda r: _rate(r, "train_per_s")),
        ("score/s", lambda r: _rate(r, "score_per_s")),
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
    first = results[0]
    header = (
        f"{first['machine']}, jax {first['jax_version']}; matmul peak "
        f"{first['peak_gflop_per_s']:.0f} GFLOP/s (best of {PEAK_REPEATS} {PEAK_SIZE}x{PEAK_SIZE} "
        "float32 matmuls); "
        f"median (min-max) of {first['repeats']} blocks of {first['steps']} steps"
    )
    sections = [header, _columns(columns, results)]
    searched = [r for r in results if "search_per_s" in r]
    if searched:
        sections += ["", "latent search, per sample (batched vs one sample at a time):"]
        sections.append(_columns(SEARCH_COLUMNS, searched))
    seeded = [{**r, **row} for r in results for row in r.get("seeds", [])]
    if seeded:
        sections += ["", "many seeds in one program (samples/s over all seeds, vs one run's step):"]
        sections.append(_columns(SEEDS_COLUMNS, seeded))
    ensembles = [{**r, **row} for r in results for row in r.get("ensemble", [])]
    if ensembles:
        sections += ["", f"ensembles of n x n members ({results[0]['ensemble_mode']} mode):"]
        sections.append(_columns(ENSEMBLE_COLUMNS, ensembles))
    return "\n".join(sections)


SEARCH_COLUMNS = [
    ("model", lambda r: r["model"]),
    ("modality", lambda r: r["modality"]),
    ("batch", lambda r: str(r["batch"])),
    ("steps", lambda r: str(r["search_steps"])),
    ("batched/s", lambda r: f"{r['search_per_s']:.3g}"),
    ("step loop/s", lambda r: f"{r['search_loop_per_s']:.3g}"),
    ("search loop/s", lambda r: f"{r['search_image_loop_per_s']:.3g}"),
    ("speed-up", lambda r: f"{r['search_speedup']:.2f}"),
    ("GFLOP/item", lambda r: f"{r['search_gflop_per_item']:.3g}"),
    ("GFLOP/s", lambda r: f"{r['search_gflop_per_s']:.0f}"),
    ("% peak", lambda r: f"{100 * r['search_peak_fraction']:.0f}"),
]
SEEDS_COLUMNS = [
    ("model", lambda r: r["model"]),
    ("modality", lambda r: r["modality"]),
    ("seeds", lambda r: str(r["seeds"])),
    ("train/s", lambda r: _rate(r, "train_per_s")),
    ("time vs one", lambda r: f"{r['time_vs_one']:.2f}x"),
    ("time per seed", lambda r: f"{r['time_per_seed']:.2f}x"),
]
ENSEMBLE_COLUMNS = [
    ("model", lambda r: r["model"]),
    ("modality", lambda r: r["modality"]),
    ("members", lambda r: f"{r['members']}x{r['members']}"),
    ("pair updates/step", lambda r: str(r["pair_updates_per_step"])),
    ("train/s", lambda r: _rate(r, "train_per_s")),
    ("cost per update", lambda r: f"{r['cost_per_update']:.2f}x"),
]


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _rate(row: dict, key: str) -> str:
    """A rate's median with its (min-max) spread."""
    return f"{_number(row[key])} ({_number(row[key + '_min'])}-{_number(row[key + '_max'])})"


def _columns(columns: Sequence[tuple[str, Callable[[dict], str]]], rows: Sequence[dict]) -> str:
    """`rows` as right-aligned text columns under their headers."""
    cells = [[header for header, _ in columns]] + [[cell(r) for _, cell in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in cells
    )


if __name__ == "__main__":
    from ganad_jax.bench_cli import main

    raise SystemExit(main())
