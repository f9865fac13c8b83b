"""The one training loop for every detector: jit with a donated state, keys by fold_in, data order
from keys, progress bar, metrics log (JSON lines and TensorBoard), orbax checkpoints, bit-identical
resume and a guard against non-finite losses."""

from __future__ import annotations

import dataclasses
import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from ganad_jax.checkpoint import CheckpointError, Checkpoints
from ganad_jax.detectors import Detector, State, tree_is_finite


class TrainingDiverged(RuntimeError):
    """A loss or a parameter became NaN/inf; the last good checkpoint is kept."""


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How the loop runs (not what it learns): logging, checkpoints, an optional step limit."""

    log_every: int = 20
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    max_steps: int | None = None
    progress: bool = True


def named_key(key: jax.Array, name: str) -> jax.Array:
    """A subkey for a named purpose ("init", "step", "data"), stable across runs and versions."""
    return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches per epoch (the last partial batch of an epoch is left out of training)."""
    if n == 0:
        raise ValueError("the training set is empty")
    if n < batch_size:
        raise ValueError(f"the training set ({n}) is smaller than one batch ({batch_size})")
    return n // batch_size


def make_train_step(detector: Detector, config: Any) -> Callable[..., tuple[State, dict]]:
    """`step(state, data, perm, index, key)`: gathers batch `index` of the epoch permutation from
    the device-resident data and runs the detector's step; compiled once, state donated."""
    batch_size = config.batch_size

    def step(state, data, perm, index, key):
        idx = jax.lax.dynamic_slice_in_dim(perm, index * batch_size, batch_size)
        return detector.train_step(config, state, jnp.take(data, idx, axis=0), key)

    return jax.jit(step, donate_argnums=0)


@jax.jit
def _epoch_permutation(
    data_key: jax.Array, epoch: jnp.ndarray, n_dummy: jnp.ndarray
) -> jnp.ndarray:
    return jax.random.permutation(jax.random.fold_in(data_key, epoch), n_dummy.shape[0])


def epoch_permutation(data_key: jax.Array, epoch: int, n: int) -> jnp.ndarray:
    """The order of the training set in `epoch`, drawn from fold_in(data_key, epoch)."""
    return _epoch_permutation(data_key, jnp.int32(epoch), jnp.zeros((n,), jnp.int8))


class _Log:
    """metrics.jsonl and TensorBoard event files in the run folder."""

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self._writer = None
        if run_dir is not None:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, step: int, metrics: dict[str, float]) -> None:
        if self.run_dir is None:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        for name, value in metrics.items():
            self._writer.add_scalar(f"train/{name}", value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def fit(
    detector: Detector,
    config: Any,
    train_x: np.ndarray,
    *,
    seed: int,
    run_dir: Path | None = None,
    options: TrainOptions = TrainOptions(),
    resume: bool = False,
) -> tuple[State, list[dict[str, float]]]:
    """Train `detector` on `train_x` (normal samples only) and return (state, logged metrics).

    With `run_dir`, checkpoints go to run_dir/checkpoints and metrics to run_dir/metrics.jsonl;
    `resume` continues from the newest checkpoint and draws exactly the keys and batches an
    uninterrupted run would.
    """
    n = len(train_x)
    per_epoch = steps_per_epoch(n, config.batch_size)
    total = per_epoch * config.epochs
    if options.max_steps is not None:
        total = min(total, options.max_steps)

    key = jax.random.key(seed)
    step_key, data_key = named_key(key, "step"), named_key(key, "data")
    data = jax.device_put(jnp.asarray(train_x))
    state = detector.init(config, named_key(key, "init"), data[: config.batch_size])

    checkpoints = (
        Checkpoints(run_dir / "checkpoints", options.keep_checkpoints) if run_dir else None
    )
    if resume:
        if checkpoints is None or checkpoints.latest_step() is None:
            raise FileNotFoundError(f"nothing to resume: no checkpoint in {run_dir}")
        state = checkpoints.restore(state)
    start = int(state.step)

    step_fn = make_train_step(detector, config)
    log = _Log(run_dir)
    history: list[dict[str, float]] = []
    bar = tqdm(total=total, initial=start, unit="step", disable=not options.progress, leave=False)
    perm, perm_epoch = None, -1
    last_good = checkpoints.latest_step() if checkpoints else None
    tick, tick_step = time.perf_counter(), start
    try:
        for step in range(start, total):
            epoch, index = divmod(step, per_epoch)
            if epoch != perm_epoch:
                perm, perm_epoch = epoch_permutation(data_key, epoch, n), epoch
            state, metrics = step_fn(
                state, data, perm, jnp.int32(index), jax.random.fold_in(step_key, step)
            )
            done = step + 1
            bar.update(1)
            is_checkpoint = checkpoints is not None and (
                done % options.checkpoint_every == 0 or done == total
            )
            if done % options.log_every == 0 or done == total or is_checkpoint:
                values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                bad = [k for k, v in values.items() if not np.isfinite(v)]
                if bad or not bool(tree_is_finite(state.params)):
                    where = f"step {last_good} in {checkpoints.directory}" if last_good else "none"
                    raise TrainingDiverged(
                        f"non-finite {', '.join(bad) or 'parameters'} at step {done}; "
                        f"training stopped; last good checkpoint: {where}"
                    )
                now = time.perf_counter()
                values["samples_per_s"] = (done - tick_step) * config.batch_size / (now - tick)
                tick, tick_step = now, done
                history.append({"step": done, **values})
                log.write(done, values)
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
            if is_checkpoint:
                checkpoints.save(done, state)
                last_good = done
    finally:
        bar.close()
        log.close()
        if checkpoints is not None:
            checkpoints.close()
    return state, history


def restore(detector: Detector, config: Any, run_dir: Path, sample_batch: np.ndarray) -> State:
    """The newest checkpoint of a run, restored into the detector's state structure."""
    if not (run_dir / "checkpoints").is_dir():
        raise CheckpointError(f"no checkpoint in {run_dir}: was it trained with --out {run_dir}?")
    template = detector.init(config, jax.random.key(0), jnp.asarray(sample_batch))
    checkpoints = Checkpoints(run_dir / "checkpoints")
    try:
        return checkpoints.restore(template)
    finally:
        checkpoints.close()
