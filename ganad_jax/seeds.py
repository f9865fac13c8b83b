"""Many seeds as one compiled program: the runs of several seeds trained side by side.

`fit_seeds` trains the runs of `seeds` of one detector and config in one jitted step over a
leading seed axis, mapped as the GAN ensemble maps its members (`ensemble.map_members`: vmapped,
or unrolled for images on CPU, where XLA runs vmapped convolutions as slow grouped ones;
`TrainOptions.seed_mapping` forces either). Member s is the run of `--seed s`: it is initialised
with that run's init key, takes that run's epoch permutations and step keys, and so its
parameters and scores equal the single-seed run's to float rounding (tests/test_seeds.py compares
them). In a long GAN training such rounding differences can grow into visibly different runs,
vmapped or unrolled: unrolled, each member's step is written out in the larger program, which
XLA may fuse differently from the single run's. Measured: EGBAD's 121-column KDD Cup 99 runs
unrolled equal their single runs exactly after 178,600 steps (experiments/seeds_kdd99.py), but
GANomaly on MNIST at the paper's shapes differs from step 20 on (losses in the sixth digit) and
ends 400 steps later at test AUROCs up to 0.008 apart, EGBAD's short MNIST setting up to 0.12
apart (experiments/seeds_mnist.py).
`seed_mapping="sequential"` runs each member's own compiled single-run step
(`train.make_train_step`) one member after another instead of one program: each member is its
run bit for bit, BatchNorm statistics included, however long it trains, at the speed of the
runs one by one (on a CPU, about what unrolling gives for images; see experiments/bench.md).

Each seed keeps its own checkpoints, metrics and early stopping in its own run folder, and a
seed whose loss or parameters become non-finite is reported as diverged and left behind while
the others go on (its step is still computed; nothing of it is kept).

What it does not do (a one-line error says so): train on a device mesh (`devices` > 1) or resume;
every seed's folder is a complete single-seed run, so `ganad train --resume` continues one seed's
folder alone, with exactly the keys and batches its member had.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ganad_jax.checkpoint import CheckpointError, Checkpoints
from ganad_jax.detectors import ConfigError, Detector, State, tree_is_finite
from ganad_jax.detectors.ensemble import map_members
from ganad_jax.train import (
    BestState,
    MetricsLog,
    TrainOptions,
    curve_due,
    epoch_permutation,
    gathered_step,
    make_train_step,
    named_key,
    plan_training,
    print_notes,
)


def parse_seeds(text: str) -> tuple[int, ...]:
    """ "0,1,2" or "0-9" (or a mix, "0-3,7") -> the seeds in order; ValueError on anything else,
    on a negative seed and on a repeated one."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(f"seeds must be like 0,1,2 or 0-9, got {text!r}")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"seeds: the range {part} runs backwards")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: {text!r} names a seed twice")
    return tuple(seeds)


@dataclasses.dataclass
class SeedResult:
    """One seed's outcome: its final state (the best by validation where early stopping kept
    one; None where it diverged), its logged metrics and, where it diverged, why."""

    seed: int
    state: State | None
    history: list[dict[str, float]]
    diverged: str | None = None


def stack(trees: Sequence[Any]) -> Any:
    """Trees of equal structure stacked along a new leading axis."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trees)


def member(tree: Any, index: int) -> Any:
    """Member `index` of a tree stacked along its leading axis, or of a list of the members'
    trees (the states `sequential_step` keeps)."""
    if isinstance(tree, list):
        return tree[index]
    return jax.tree.map(lambda leaf: leaf[index], tree)


def seeds_step(detector: Detector, config: Any, batch_size: int, mapping: str = "auto"):
    """`step(states, data, perms, index, keys)`: every seed's train step on batch `index` of its
    own epoch permutation, mapped over the seed axis by `mapping` (`ensemble.MAPPINGS`);
    compiled once, states donated."""

    one = gathered_step(detector, config, batch_size)

    def step(states, data, perms, index, keys):
        def member_step(s, p, k):
            return one(s, data, p, index, k)

        return map_members(member_step, data, states, perms, keys, mapping=mapping)

    return jax.jit(step, donate_argnums=0)


def configs_step(detector: Detector, configs: Sequence[Any], batch_size: int):
    """`seeds_step` for members of different configs (a sweep): each member's step compiled with
    its own config, unrolled in one program; compiled once, states donated."""
    steps = [gathered_step(detector, config, batch_size) for config in configs]

    def step(states, data, perms, index, keys):
        outs = [
            one(member(states, i), data, perms[i], index, keys[i]) for i, one in enumerate(steps)
        ]
        return stack(outs)

    return jax.jit(step, donate_argnums=0)


def sequential_step(steps: Sequence[Callable[..., Any]]):
    """The members' step that runs member i's own compiled single-run step `steps[i]` (from
    `train.make_train_step`: the executable its run alone uses) on its state, one member after
    another: each member is its run bit for bit, however long it trains. The states are a list,
    one per member, each donated to its own step, so a step copies none of them (stacked, every
    step would slice each member out and stack them again: for GANomaly at 128 px, about 0.6 GB
    a member each time); the metrics come back stacked."""

    def step(states, data, perms, index, keys):
        outs = [one(states[i], data, perms[i], index, keys[i]) for i, one in enumerate(steps)]
        return [state for state, _ in outs], stack([metrics for _, metrics in outs])

    return step


def check_options(options: TrainOptions) -> None:
    """ConfigError for the training options many seeds in one program do not take."""
    if options.devices != 1 or jax.process_count() > 1:
        raise ConfigError("seeds train in one program on one device: use devices=1")


def fit_seeds(
    detector: Detector,
    config: Any,
    train_x: np.ndarray,
    *,
    seeds: Sequence[int],
    run_dirs: Sequence[Path] | None = None,
    options: TrainOptions | None = None,
    validation_x: np.ndarray | None = None,
    announce: bool = True,
) -> list[SeedResult]:
    """Train the runs of `seeds` side by side (see the module docstring); `run_dirs` (one per
    seed) get each seed's checkpoints and metrics as `train.fit` writes them for one seed."""
    return fit_members(
        detector, [config] * len(seeds), train_x, seeds=seeds, run_dirs=run_dirs,
        options=options, validation_x=validation_x, announce=announce,
    )  # fmt: skip


def fit_members(
    detector: Detector,
    configs: Sequence[Any],
    train_x: np.ndarray,
    *,
    seeds: Sequence[int],
    run_dirs: Sequence[Path] | None = None,
    options: TrainOptions | None = None,
    validation_x: np.ndarray | None = None,
    announce: bool = True,
    curve: Callable[[int, State], dict[str, float]] | None = None,
) -> list[SeedResult]:
    """Train the runs of (configs[i], seeds[i]) side by side: `fit_seeds` where the members may
    also differ in their config (a sweep of one setting, `ganad train --sweep`). Members of
    different configs run unrolled (or, with `seed_mapping="sequential"`, one after another),
    each step compiled with its own config; their configs must
    make the same training plan (batch, epochs) and the same state structure. `curve(i, state)`
    is member i's training curve (`train.fit`'s `curve`)."""
    options = TrainOptions() if options is None else options
    check_options(options)
    count = len(seeds)
    if len(configs) != count:
        raise ValueError(f"{count} seeds need {count} configs, got {len(configs)}")
    if run_dirs is not None and len(run_dirs) != count:
        raise ValueError(f"{count} members need {count} run folders, got {len(run_dirs)}")
    started = time.perf_counter()
    plans = [plan_training(detector, config, len(train_x), options) for config in configs]
    plan = plans[0]
    if any(p != plan for p in plans):
        raise ConfigError(
            "the members' configs make different training plans (batch size, epochs, minimum "
            "of updates): a sweep cannot change them"
        )
    if announce:
        print_notes(plan.notes())
    keys = [jax.random.key(seed) for seed in seeds]
    step_keys = stack([named_key(key, "step") for key in keys])
    data_keys = [named_key(key, "data") for key in keys]
    data = jax.device_put(jnp.asarray(train_x))
    inits = [
        detector.init(config, named_key(key, "init"), data[: plan.batch_size_used])
        for config, key in zip(configs, keys, strict=True)
    ]
    try:
        stacked = stack(inits) if options.seed_mapping != "sequential" else None
    except ValueError as err:
        raise ConfigError(f"the members' states differ in structure or shape: {err}") from None
    states = inits if stacked is None else stacked  # sequential_step keeps a list
    dirs = list(run_dirs) if run_dirs is not None else [None] * count
    checkpoints = [
        Checkpoints(d / "checkpoints", options.keep_checkpoints) if d else None for d in dirs
    ]
    logs = [MetricsLog(d, 0) for d in dirs]
    bests: list[BestState | None] = [None] * count
    try:
        for c in checkpoints:
            if c is not None and c.steps():
                raise CheckpointError(
                    f"{c.directory} already holds checkpoints: train into a new folder"
                )
        if options.validate_every is not None and validation_x is not None and len(validation_x):
            bests = [
                BestState(detector, config, validation_x, options, d, init)
                for config, d, init in zip(configs, dirs, inits, strict=True)
            ]
        if options.seed_mapping == "sequential":
            step_fn = sequential_step(
                [make_train_step(detector, config, plan.batch_size_used) for config in configs]
            )
        elif all(config == configs[0] for config in configs):
            step_fn = seeds_step(detector, configs[0], plan.batch_size_used, options.seed_mapping)
        else:
            step_fn = configs_step(detector, configs, plan.batch_size_used)
        results = _train(
            step_fn, plan, data, states, step_keys, data_keys, checkpoints, logs, bests, options,
            started, seeds, curve,
        )  # fmt: skip
    finally:
        for closable in (*checkpoints, *logs, *bests):
            if closable is not None:
                closable.close()
    if announce:
        for result in results:
            if result.state is not None:
                print_notes([plan.shortfall(int(result.state.step))], "warning")
    return results


def _train(
    step_fn, plan, data, states, step_keys, data_keys, checkpoints, logs, bests, options, started,
    seeds, curve,
) -> list[SeedResult]:  # fmt: skip
    """The loop of `fit_members`: one step for all members, then each member's bookkeeping."""
    count, n = len(seeds), len(data)
    per_epoch, total, batch_size = plan.steps_per_epoch, plan.total_steps, plan.batch_size_used
    fold = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(0, None)))
    histories: list[list[dict[str, float]]] = [[] for _ in seeds]
    diverged: list[str | None] = [None] * count
    stopped = [False] * count  # early stopping ended the seed's run
    last_good: list[int | None] = [None] * count
    perms, perm_epoch = None, -1
    tick, tick_step = time.perf_counter(), 0
    bar = tqdm(total=total, unit="step", disable=not options.progress, leave=False)
    try:
        for step in range(total):
            for s, best in enumerate(bests):
                if best is not None and best.should_stop(step):
                    stopped[s] = True
            running = [d is None and not t for d, t in zip(diverged, stopped, strict=True)]
            if not any(running):
                break
            epoch, index = divmod(step, per_epoch)
            if epoch != perm_epoch:
                perms = jnp.stack([epoch_permutation(k, epoch, n) for k in data_keys])
                perm_epoch = epoch
            states, metrics = step_fn(states, data, perms, jnp.int32(index), fold(step_keys, step))
            done = step + 1
            bar.update(1)
            logged = done % options.log_every == 0 or done == total
            saving = [
                c is not None and (done % options.checkpoint_every == 0 or done == total)
                for c in checkpoints
            ]
            if logged or any(saving):
                host = jax.device_get(metrics)
                now = time.perf_counter()
                rate = (done - tick_step) * batch_size / (now - tick)
                tick, tick_step = now, done
            for s in range(count):
                if not running[s]:
                    continue
                state = None
                if logged or saving[s]:
                    values = {k: float(v[s]) for k, v in host.items()}
                    state = member(states, s)
                    bad = [k for k, v in values.items() if not np.isfinite(v)]
                    if bad or not bool(tree_is_finite(state.params)):
                        where = f"step {last_good[s]}" if last_good[s] else "none"
                        diverged[s] = (
                            f"non-finite {', '.join(bad) or 'parameters'} at step {done}; "
                            f"seed {seeds[s]} stopped; last good checkpoint: {where}"
                        )
                        continue
                    values["samples_per_s"] = rate
                    histories[s].append({"step": done, **values})
                    logs[s].write(done, values)
                best = bests[s]
                if best is not None and (done % options.validate_every == 0 or done == total):
                    state = member(states, s) if state is None else state
                    loss = best.update(done, state)
                    histories[s].append({"step": done, "validation_loss": loss})
                    logs[s].write(done, {"validation_loss": loss})
                    if best.should_stop(done) and checkpoints[s] is not None:
                        saving[s] = True  # so that a resumed seed stops here too
                if curve_due(options, done, total, curve):
                    state = member(states, s) if state is None else state
                    values = curve(s, state)
                    histories[s].append({"step": done, **values})
                    logs[s].write(done, values)
                if saving[s]:
                    state = member(states, s) if state is None else state
                    seconds = time.perf_counter() - started
                    checkpoints[s].save(done, state, {"train_seconds": seconds})
                    last_good[s] = done
    finally:
        bar.close()
    results = []
    for s, seed in enumerate(seeds):
        if diverged[s] is not None:
            results.append(SeedResult(seed, None, histories[s], diverged[s]))
            continue
        best = bests[s]
        if best is not None and best.state is not None:
            state = jax.tree.map(jnp.asarray, best.state)
        else:
            state = member(states, s)
        results.append(SeedResult(seed, state, histories[s]))
    return results
