"""The one training loop for every detector: jit with a donated state, keys by fold_in, data order
from keys, progress bar, metrics log (JSON lines and TensorBoard), orbax checkpoints sealed with
checksums, bit-identical resume (also after a kill at any moment), a guard against non-finite
losses and optional early stopping on validation normals."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from ganad_jax.checkpoint import (
    CheckpointError,
    Checkpoints,
    is_sealed,
    newest_intact,
    steps_on_disk,
)
from ganad_jax.detectors import (
    COUNT,
    NON_NEGATIVE_COUNT,
    ConfigError,
    Detector,
    State,
    check_fields,
    tree_is_finite,
)
from ganad_jax.detectors.ensemble import MAPPINGS
from ganad_jax.errors import GanadError
from ganad_jax.runfolder import write_text
from ganad_jax.scoring import make_scorer, score_dataset


class TrainingDiverged(GanadError, RuntimeError):
    """A loss or a parameter became NaN/inf; the last good checkpoint is kept."""


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How the loop runs (not what it learns): logging, checkpoints, an optional step limit, and
    the device mesh.

    `devices` > 1 (0: every device of every process, as a multi-process run needs) trains data
    parallel on a mesh of that many devices: each batch is sharded over the mesh's "data" axis and
    the parameters are replicated; `ensemble_shards` of those devices instead shard the stacked
    members of an ensemble over an "ensemble" axis. `devices=1` is the plain single-device loop.

    Early stopping (optional, for every detector): with `validate_every` N and validation normals
    given to `fit`, the mean default score head over them (the validation loss: normals should
    score low) is computed every N steps and at the end, and the state with the lowest one is
    returned (and kept in run_dir/best, which `restore` prefers); `patience` P also stops training
    after P evaluations in a row without improvement. `validation_statistic` is how the scores of
    the validation normals become that loss: "mean" (the released ALAD code's criterion),
    "median" or "trimmed_mean" (the mean of the middle 80 %), which a handful of extreme rows
    cannot decide (on KDD Cup 99 about 2 % of the validation normals score far above the rest).
    The threshold is fitted on the same validation normals; the report says so.

    `curve_every` N calls the `curve` given to `fit` every N steps and at the end and logs what it
    returns (a run's training curves: the mean score of the validation normals and, labelled as
    a diagnostic that selects nothing, the test AUROC; see `runs`).

    `seed_mapping` is how the runs of several seeds in one program (`ganad_jax.seeds`) are mapped
    over the seed axis: "auto" (vmapped, but unrolled for images on CPU, as the GAN ensemble),
    "vmap", "unrolled" (each seed's step written out in one program: equal to its single-seed
    run to float rounding, as XLA may fuse the larger program differently) or "sequential"
    (each seed's step the single-seed run's own compiled step, one seed after another: its
    parameters equal that run's bit for bit, however long it trains). A single run ignores it.
    """

    log_every: int = 20
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    max_steps: int | None = None
    progress: bool = True
    devices: int = 1
    ensemble_shards: int = 1
    validate_every: int | None = None
    patience: int | None = None
    validation_statistic: str = "mean"
    seed_mapping: str = "auto"
    curve_every: int | None = None

    def __post_init__(self) -> None:
        check_fields(self, TRAIN_OPTION_RANGES)
        if self.seed_mapping not in SEED_MAPPINGS:
            raise ConfigError(
                f"seed_mapping must be one of {', '.join(SEED_MAPPINGS)}, got {self.seed_mapping!r}"
            )
        if self.validation_statistic not in VALIDATION_STATISTICS:
            raise ConfigError(
                f"validation_statistic must be one of {', '.join(VALIDATION_STATISTICS)}, "
                f"got {self.validation_statistic!r}"
            )


def _trimmed_mean(values: np.ndarray) -> float:
    """The mean of the middle 80 % of `values` (10 % cut from each end)."""
    ordered = np.sort(values)
    cut = int(0.1 * len(ordered))
    return float(ordered[cut : len(ordered) - cut].mean())


SEED_MAPPINGS = (*MAPPINGS, "sequential")
"""The values of `TrainOptions.seed_mapping`: the GAN ensemble's member mappings and
"sequential" (each seed's own compiled single-run step in turn, `seeds.sequential_step`)."""

VALIDATION_STATISTICS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": lambda values: float(np.mean(values)),
    "median": lambda values: float(np.median(values)),
    "trimmed_mean": _trimmed_mean,
}
"""How early stopping reduces the validation normals' scores to one loss (`TrainOptions`)."""


TRAIN_OPTION_RANGES = {
    **dict.fromkeys(
        (
            "log_every", "checkpoint_every", "keep_checkpoints", "max_steps", "ensemble_shards",
            "validate_every", "patience", "curve_every",
        ),
        COUNT,
    ),
    "devices": NON_NEGATIVE_COUNT,  # 0: every device
}  # fmt: skip
"""The range of every numeric training option."""


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


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """What a run of `n` training samples makes of its config: the batch each step takes and the
    epochs it trains (see `plan_training`). `notes` and `shortfall` are the sentences the
    terminal and the report show; the config itself is never changed."""

    model: str
    n: int
    batch_size: int
    batch_size_used: int
    batch_multiple: int
    steps_per_epoch: int
    epochs: int
    epochs_used: int
    min_updates: int
    max_steps: int | None

    @property
    def total_steps(self) -> int:
        """The steps the run makes: its epochs (raised to the minimum), capped by max_steps."""
        total = self.steps_per_epoch * self.epochs_used
        return total if self.max_steps is None else min(total, self.max_steps)

    def notes(self) -> list[str]:
        """Where the run departs from its config: a clamped batch, epochs raised to the
        detector's minimum of updates (empty when neither happened)."""
        notes = []
        if self.batch_size_used != self.batch_size:
            fitted = f"each step takes {self.batch_size_used}"
            if self.batch_size_used != self.n:
                fitted += f" (the largest multiple of {self.batch_multiple} that fits)"
            notes.append(
                f"the training set has {self.n} samples, fewer than batch_size "
                f"{self.batch_size}: {fitted}"
            )
        if self.epochs_used != self.epochs:
            per_epoch = self.steps_per_epoch
            notes.append(
                f"{_count(self.epochs, 'epoch')} of {_count(per_epoch, 'step')} "
                f"{'makes' if self.epochs == 1 else 'make'} "
                f"{_count(self.epochs * per_epoch, 'update')}, fewer than {self.model}'s "
                f"minimum of {self.min_updates} (min_updates): training "
                f"{_count(self.epochs_used, 'epoch')} = "
                f"{_count(self.epochs_used * per_epoch, 'update')}"
            )
        return notes

    def shortfall(self, steps: int) -> str | None:
        """The warning for a model trained `steps` updates, fewer than the minimum (None when
        it has the minimum, or min_updates is 0)."""
        if steps >= self.min_updates:
            return None
        if self.max_steps is not None and self.max_steps < self.min_updates:
            why = f"max_steps={self.max_steps} stopped it"
        else:
            why = "early stopping ended the run or kept an earlier state, or it is unfinished"
        return (
            f"the model was trained for {_count(steps, 'update')}, below {self.model}'s minimum of "
            f"{self.min_updates} (min_updates): {why}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def plan_training(
    detector: Detector, config: Any, n: int, options: TrainOptions = TrainOptions(), shards: int = 1
) -> TrainingPlan:
    """The batch and epochs of a run on `n` training samples split over `shards` data shards.

    A training set smaller than `config.batch_size` is one batch: the batch used is `n`, rounded
    down to a multiple of the shard count and of the config's `batch_multiple` (n_critic for the
    GANs that split a step's batch over critic updates); ValueError where that leaves nothing.
    Where the config's epochs make fewer than its `min_updates` steps, the run trains the fewest
    whole epochs that make them (whole epochs keep data order and resume as they are); a run
    whose epochs make enough is planned exactly as its config says.
    """
    if n == 0:
        raise ValueError("the training set is empty")
    batch = config.batch_size
    multiple = math.lcm(shards, getattr(config, "batch_multiple", 1))
    used = batch if n >= batch else n - n % multiple
    if used == 0:
        raise ValueError(
            f"the training set ({n}) is smaller than one batch: a batch of {detector.name} here "
            f"is a multiple of {multiple} (its batch_multiple and the data shards)"
        )
    per_epoch = steps_per_epoch(n, used)
    minimum = getattr(config, "min_updates", 0)
    epochs = config.epochs
    if per_epoch * epochs < minimum:
        epochs = -(-minimum // per_epoch)
    return TrainingPlan(
        model=detector.name,
        n=n,
        batch_size=batch,
        batch_size_used=used,
        batch_multiple=multiple,
        steps_per_epoch=per_epoch,
        epochs=config.epochs,
        epochs_used=epochs,
        min_updates=minimum,
        max_steps=options.max_steps,
    )


def data_shards(options: TrainOptions) -> int:
    """How many data shards a run with `options` splits each batch over (1 on one device)."""
    if options.devices == 1 and jax.process_count() == 1:
        return 1
    return make_mesh(options.devices, options.ensemble_shards).shape["data"]


def print_notes(lines: list[str | None], kind: str = "note") -> None:
    """Print the plan's notes (or a shortfall warning) on stderr, from the primary process."""
    if jax.process_index() == 0:
        for line in lines:
            if line:
                print(f"ganad: {kind}: {line}", file=sys.stderr)


_STEPS: dict[tuple[int, int, int], tuple[Detector, Any, Callable]] = {}
_MAX_STEPS = 32


def make_train_step(
    detector: Detector, config: Any, batch_size: int | None = None
) -> Callable[..., tuple[State, dict]]:
    """`step(state, data, perm, index, key)`: gathers batch `index` (of `batch_size`, default the
    config's) of the epoch permutation from the device-resident data and runs the detector's
    step; compiled once, state donated.

    The jitted step is kept per (detector, config) object and batch size, so fits that share them
    (the folds of a per-file protocol, repeated fits in one process) compile it once. Configs are
    immutable."""
    batch_size = config.batch_size if batch_size is None else batch_size
    key = (id(detector), id(config), batch_size)
    if key not in _STEPS:
        if len(_STEPS) >= _MAX_STEPS:
            _STEPS.pop(next(iter(_STEPS)))
        # the detector and config stay referenced, so their ids are not reused while cached
        _STEPS[key] = (detector, config, _jit_train_step(detector, config, batch_size))
    return _STEPS[key][2]


def gathered_step(
    detector: Detector, config: Any, batch_size: int
) -> Callable[..., tuple[State, dict]]:
    """`step(state, data, perm, index, key)` (not jitted): the detector's step on batch `index`
    (of `batch_size`) of the epoch permutation `perm` of `data`."""

    def step(state, data, perm, index, key):
        idx = jax.lax.dynamic_slice_in_dim(perm, index * batch_size, batch_size)
        return detector.train_step(config, state, jnp.take(data, idx, axis=0), key)

    return step


def _jit_train_step(
    detector: Detector, config: Any, batch_size: int
) -> Callable[..., tuple[State, dict]]:
    return jax.jit(gathered_step(detector, config, batch_size), donate_argnums=0)


def make_mesh(devices: int, ensemble_shards: int = 1) -> Mesh:
    """A ("data", "ensemble") mesh over the first `devices` devices (0: all of them)."""
    available = jax.devices()
    count = len(available) if devices == 0 else devices
    if count > len(available):
        raise ValueError(f"{count} devices requested, {len(available)} available")
    if jax.process_count() > 1 and count != len(available):
        raise ValueError(
            f"a multi-process run must use all {len(available)} devices (devices=0), got {count}"
        )
    if ensemble_shards < 1 or count % ensemble_shards:
        raise ValueError(f"ensemble_shards={ensemble_shards} must divide the {count} devices")
    grid = np.asarray(available[:count]).reshape(count // ensemble_shards, ensemble_shards)
    return Mesh(grid, ("data", "ensemble"))


def state_shardings(detector: Detector, state: State, mesh: Mesh) -> State:
    """Where each leaf of `state` lives: replicated, except an ensemble's stacked members, which
    are split over the mesh's "ensemble" axis when it has more than one device."""
    replicated = NamedSharding(mesh, P())
    shards = mesh.shape["ensemble"]
    if shards == 1:
        return jax.tree.map(lambda _: replicated, state)
    detector.check_member_shards(shards)
    members = NamedSharding(mesh, P("ensemble"))
    return State(
        step=replicated,
        params=jax.tree.map(lambda _: members, state.params),
        batch_stats=jax.tree.map(lambda _: members, state.batch_stats),
        opt_state=jax.tree.map(lambda _: members, state.opt_state),
    )


def place(tree: Any, shardings: Any) -> Any:
    """Host values of `tree` as global arrays with `shardings`; each process builds (and reads)
    only the pieces its own devices hold."""

    def one(leaf, sharding):
        host = np.asarray(leaf)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(one, tree, shardings)


def shard_rows(x: np.ndarray, mesh: Mesh) -> jax.Array:
    """The training set as one global array whose rows are split over the "data" axis (padded with
    zero rows to a multiple of its size; the epoch permutations never draw the padding)."""
    parts = mesh.shape["data"]
    pad = -len(x) % parts
    if pad:
        x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
    sharding = NamedSharding(mesh, P("data"))
    return jax.make_array_from_callback(x.shape, sharding, lambda index: np.asarray(x[index]))


def make_sharded_train_step(
    detector: Detector,
    config: Any,
    mesh: Mesh,
    state_sharding: State,
    batch_size: int | None = None,
) -> Callable[..., tuple[State, dict]]:
    """`make_train_step` on a mesh: `step(state, data, perm, index, key_data)` gathers the batch
    from the row-sharded data, shards it over "data" and keeps the state's sharding; the key comes
    as raw key data so that every argument is a global array."""
    batch_size = config.batch_size if batch_size is None else batch_size
    if batch_size % mesh.shape["data"]:
        raise ValueError(
            f"batch_size {batch_size} must be a multiple of the {mesh.shape['data']} data shards"
        )
    batch_sharding = NamedSharding(mesh, P("data"))

    def step(state, data, perm, index, key_data):
        idx = jax.lax.dynamic_slice_in_dim(perm, index * batch_size, batch_size)
        batch = jax.lax.with_sharding_constraint(jnp.take(data, idx, axis=0), batch_sharding)
        return detector.train_step(config, state, batch, jax.random.wrap_key_data(key_data))

    replicated = NamedSharding(mesh, P())
    return jax.jit(step, donate_argnums=0, out_shardings=(state_sharding, replicated))


@jax.jit
def _epoch_permutation(
    data_key: jax.Array, epoch: jnp.ndarray, n_dummy: jnp.ndarray
) -> jnp.ndarray:
    return jax.random.permutation(jax.random.fold_in(data_key, epoch), n_dummy.shape[0])


def epoch_permutation(data_key: jax.Array, epoch: int, n: int) -> jnp.ndarray:
    """The order of the training set in `epoch`, drawn from fold_in(data_key, epoch)."""
    return _epoch_permutation(data_key, jnp.int32(epoch), jnp.zeros((n,), jnp.int8))


class MetricsLog:
    """metrics.jsonl and TensorBoard event files in the run folder, from step `start` on: what
    an earlier run logged after `start` is dropped, so that a resumed run logs like one that ran
    through."""

    def __init__(self, run_dir: Path | None, start: int) -> None:
        self.run_dir = run_dir
        self._writer = None
        if run_dir is not None:
            from tensorboardX import SummaryWriter

            _truncate_metrics(run_dir / "metrics.jsonl", start)
            # TensorBoard drops the events at and after purge_step from earlier event files.
            self._writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start + 1)

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


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Keep the rows of metrics.jsonl up to `last_step`, replacing the file atomically; a line
    that does not parse (the half-written last line of a killed run) goes too."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= last_step:
                kept.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            continue
    write_text(path, "".join(kept))


class BestState:
    """Early stopping's bookkeeping: the lowest validation loss so far, its step and a host copy of
    its state (also saved to run_dir/best, so that a resumed run continues from the same best)."""

    def __init__(
        self,
        detector: Detector,
        config: Any,
        x: np.ndarray,
        options: TrainOptions,
        run_dir: Path | None,
        template: State,
    ) -> None:
        self.x, self.batch_size = x, config.batch_size
        self.every, self.patience = options.validate_every, options.patience
        self.statistic = VALIDATION_STATISTICS[options.validation_statistic]
        self.scorer = make_scorer(detector, config)
        self.state, self.step, self.loss = None, None, float("inf")
        self.saved = Checkpoints(run_dir / "best", keep=1) if run_dir else None
        if self.saved is not None and self.saved.latest_step() is not None:
            self.state = jax.device_get(self.saved.restore(template))
            self.step = self.saved.restored_step
            self.loss = self.validation_loss(self.state)

    def validation_loss(self, state: State) -> float:
        """The default score over the validation normals, reduced by the validation statistic."""
        return self.statistic(score_dataset(self.scorer, state, self.x, self.batch_size).value)

    def update(self, step: int, state: State) -> float:
        """Evaluate `state` at `step`; keep it if it is the best so far; return its loss."""
        loss = self.validation_loss(state)
        if loss < self.loss:
            self.state, self.step, self.loss = jax.device_get(state), step, loss
            if self.saved is not None:
                self.saved.save(step, state)
        return loss

    def should_stop(self, step: int) -> bool:
        """Whether `patience` evaluations in a row up to `step` brought no improvement."""
        if self.patience is None or self.step is None or step % self.every:
            return False
        return step - self.step >= self.patience * self.every

    def close(self) -> None:
        """Release the checkpoint manager."""
        if self.saved is not None:
            self.saved.close()


def curve_due(options: TrainOptions, done: int, total: int, curve: Callable | None) -> bool:
    """Whether a run's training curve gets a point after step `done` of `total`."""
    every = options.curve_every
    return curve is not None and every is not None and (done % every == 0 or done == total)


def fit(
    detector: Detector,
    config: Any,
    train_x: np.ndarray,
    *,
    seed: int,
    run_dir: Path | None = None,
    options: TrainOptions = TrainOptions(),
    resume: bool = False,
    validation_x: np.ndarray | None = None,
    announce: bool = True,
    curve: Callable[[State], dict[str, float]] | None = None,
) -> tuple[State, list[dict[str, float]]]:
    """Train `detector` on `train_x` (normal samples only) and return (state, logged metrics).

    With `run_dir`, checkpoints go to run_dir/checkpoints and metrics to run_dir/metrics.jsonl;
    `resume` continues from the newest intact checkpoint (from step 0 where none was completed)
    and draws exactly the keys and batches an uninterrupted run would, dropping what the earlier
    run logged or saved after that step. Each checkpoint records the training seconds so far,
    summed over resumed runs (`elapsed_seconds`). `validation_x` (held-back normals) enables
    early stopping when `options.validate_every` is set (see `TrainOptions`); `curve(state)` is
    logged every `options.curve_every` steps.

    The batch and the number of epochs follow `plan_training`: a training set smaller than one
    batch is one batch, and epochs that make fewer than the config's `min_updates` steps are
    raised to make them; `announce` prints where that happened (and, after training, a warning
    when the returned state has fewer updates than the minimum) on stderr.
    """
    started = time.perf_counter()
    if resume and run_dir is None:
        raise ValueError("resume needs the run_dir to resume from")
    n = len(train_x)
    mesh = None
    if options.devices != 1 or jax.process_count() > 1:
        mesh = make_mesh(options.devices, options.ensemble_shards)
    plan = plan_training(detector, config, n, options, 1 if mesh is None else mesh.shape["data"])
    per_epoch, total, batch_size = plan.steps_per_epoch, plan.total_steps, plan.batch_size_used
    if announce:
        print_notes(plan.notes())

    key = jax.random.key(seed)
    step_key, data_key = named_key(key, "step"), named_key(key, "data")
    if mesh is None:
        data = jax.device_put(jnp.asarray(train_x))
        state = detector.init(config, named_key(key, "init"), data[:batch_size])
    else:
        sample = jnp.asarray(train_x[:batch_size])
        state = detector.init(config, named_key(key, "init"), sample)
        sharding = state_shardings(detector, state, mesh)
        state, data = place(state, sharding), shard_rows(np.asarray(train_x), mesh)

    primary = jax.process_index() == 0  # the one process that logs
    checkpoints = (
        Checkpoints(run_dir / "checkpoints", options.keep_checkpoints) if run_dir else None
    )
    seconds_before = 0.0  # training time of the runs this one resumes
    try:
        if checkpoints is not None and not resume and checkpoints.steps():
            raise CheckpointError(
                f"{checkpoints.directory} already holds checkpoints: resume, or train into a new "
                "folder"
            )
        if resume and checkpoints.latest_step() is not None:
            state = checkpoints.restore(state)
            seconds_before = float(checkpoints.restored_metadata.get("train_seconds", 0.0))
        elif resume and primary:
            print(f"no complete checkpoint in {run_dir}: training from step 0", file=sys.stderr)
        if resume:
            checkpoints.discard_after(int(state.step))
        best = None
        if options.validate_every is not None and validation_x is not None and len(validation_x):
            best = BestState(detector, config, validation_x, options, run_dir, state)
    except BaseException:
        if checkpoints is not None:
            checkpoints.close()
        raise
    start = int(state.step)

    if mesh is None:
        step_fn = make_train_step(detector, config, batch_size)
    else:
        step_fn = make_sharded_train_step(detector, config, mesh, sharding, batch_size)
    show = options.progress and primary
    log = MetricsLog(run_dir if primary else None, start)
    history: list[dict[str, float]] = []
    bar = tqdm(total=total, initial=start, unit="step", disable=not show, leave=False)
    perm, perm_epoch = None, -1
    last_good = checkpoints.latest_step() if checkpoints else None
    tick, tick_step = time.perf_counter(), start
    try:
        for step in range(start, total):
            if best is not None and best.should_stop(step):
                break
            epoch, index = divmod(step, per_epoch)
            if epoch != perm_epoch:
                perm, perm_epoch = epoch_permutation(data_key, epoch, n), epoch
                if mesh is not None:
                    perm = _replicate(mesh, perm)
            index_arg, key_arg = jnp.int32(index), jax.random.fold_in(step_key, step)
            if mesh is not None:
                index_arg = _replicate(mesh, index_arg)
                key_arg = _replicate(mesh, jax.random.key_data(key_arg))
            state, metrics = step_fn(state, data, perm, index_arg, key_arg)
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
                values["samples_per_s"] = (done - tick_step) * batch_size / (now - tick)
                tick, tick_step = now, done
                history.append({"step": done, **values})
                log.write(done, values)
                bar.set_postfix({k: f"{v:.3g}" for k, v in values.items()}, refresh=False)
            if best is not None and (done % options.validate_every == 0 or done == total):
                loss = best.update(done, state)
                history.append({"step": done, "validation_loss": loss})
                log.write(done, {"validation_loss": loss})
                if best.should_stop(done) and checkpoints is not None and not is_checkpoint:
                    is_checkpoint = True  # so that a resumed run stops here too
            if curve_due(options, done, total, curve):
                values = curve(state)
                history.append({"step": done, **values})
                log.write(done, values)
            if is_checkpoint:
                seconds = seconds_before + time.perf_counter() - started
                checkpoints.save(done, state, {"train_seconds": seconds})
                last_good = done
    finally:
        bar.close()
        log.close()
        if checkpoints is not None:
            checkpoints.close()
        if best is not None:
            best.close()
    if best is not None and best.state is not None:
        state = jax.tree.map(jnp.asarray, best.state)
    if announce:
        print_notes([plan.shortfall(int(state.step))], "warning")
    if jax.process_count() > 1:
        # Every process gets the whole state on its own device, for local scoring.
        from jax.experimental import multihost_utils

        state = jax.tree.map(jnp.asarray, multihost_utils.process_allgather(state, tiled=True))
    return state, history


def _replicate(mesh: Mesh, value: Any) -> jax.Array:
    return place(value, NamedSharding(mesh, P()))


def elapsed_seconds(run_dir: Path) -> float | None:
    """Wall seconds spent training the run in `run_dir` up to its newest intact checkpoint,
    summed over resumed runs; None without one."""
    found = newest_intact(Path(run_dir) / "checkpoints")
    return None if found is None else found[1].get("train_seconds")


def restore(detector: Detector, config: Any, run_dir: Path, sample_batch: np.ndarray) -> State:
    """The newest intact checkpoint of a run (its best-by-validation state where early stopping
    kept one), restored into the detector's state structure."""
    if not (run_dir / "checkpoints").is_dir():
        raise CheckpointError(f"no checkpoint in {run_dir}: was it trained with --out {run_dir}?")
    template = detector.init(config, jax.random.key(0), jnp.asarray(sample_batch))
    best = run_dir / "best"
    kept_best = any(is_sealed(best, step) for step in steps_on_disk(best))
    folder = best if kept_best else run_dir / "checkpoints"
    checkpoints = Checkpoints(folder)
    try:
        return checkpoints.restore(template)
    finally:
        checkpoints.close()
