"""Two real processes on localhost (jax.distributed, gloo CPU collectives) train like one, save
and resume checkpoints like an uninterrupted pair, and stop together when one of them dies."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import checkpoint, detectors
from ganad_jax.train import TrainOptions, fit

STEPS = 4
CONFIG = tiny_config("egbad", epochs=2)

# argv: port, process id, output .npz ("-": none), run_dir ("-": none), resume (1/0), heartbeat
# timeout in seconds, the step at which process 1 SIGKILLs itself (-1: never).
WORKER = """
import os, signal, sys
from pathlib import Path
import numpy as np
from ganad_jax import distributed
port, process, out, run_dir, resume, heartbeat, die_at = sys.argv[1:]
distributed.initialize(
    f"127.0.0.1:{port}", num_processes=2, process_id=int(process),
    heartbeat_timeout_s=int(heartbeat),
)
import jax
from helpers import sample_inputs
from ganad_jax import detectors, train
from ganad_jax.train import TrainOptions, fit
from test_distributed import CONFIG, STEPS
if process == "1" and die_at != "-1":
    make = train.make_sharded_train_step
    def making(*args):
        step_fn = make(*args)
        def stepping(state, *rest):
            if int(state.step) == int(die_at):
                os.kill(os.getpid(), signal.SIGKILL)
            return step_fn(state, *rest)
        return stepping
    train.make_sharded_train_step = making
assert jax.device_count() == 2 and jax.local_device_count() == 1
x = sample_inputs("egbad", CONFIG, 4 * CONFIG.batch_size + 1, modality="tabular")
options = TrainOptions(
    progress=False, log_every=1, checkpoint_every=2, max_steps=STEPS, devices=0
)
state, _ = fit(
    detectors.get("egbad"), CONFIG, x, seed=0, options=options,
    run_dir=None if run_dir == "-" else Path(run_dir), resume=resume == "1",
)
if out != "-":
    np.savez(out, *[np.asarray(leaf) for leaf in jax.tree.leaves(state)])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_pair(
    tmp: Path,
    outputs: list[str],
    run_dir: Path | None,
    resume: bool = False,
    heartbeat: int = 60,
    die_at: int = -1,
) -> list[tuple[subprocess.Popen, Path]]:
    """Two worker processes of one run, each with the file its output goes to."""
    tests = Path(__file__).parent
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]),
        # Every pair compiles the same programs: the first pair's executables serve the others.
        "JAX_COMPILATION_CACHE_DIR": str(tmp / "xla-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    port = _free_port()
    where = "-" if run_dir is None else str(run_dir)
    flags = [where, "1" if resume else "0", str(heartbeat), str(die_at)]
    workers = []
    for i in range(2):
        # A file, not a pipe: a pipe nobody reads while waiting for the other process fills up.
        path = tmp / f"{port}-{i}.log"
        with open(path, "wb") as log:
            command = [sys.executable, "-c", WORKER, str(port), str(i), outputs[i], *flags]
            workers.append((subprocess.Popen(command, env=env, stdout=log, stderr=log), path))
    return workers


def _wait(workers: list[tuple[subprocess.Popen, Path]], timeout: float) -> None:
    """Wait for both workers to end (killing them past `timeout` seconds)."""
    try:
        for worker, _ in workers:
            worker.wait(timeout=timeout)
    finally:
        for worker, _ in workers:
            worker.kill()


def _finish(workers: list[tuple[subprocess.Popen, Path]], outputs: list[str]) -> list[list]:
    """Wait for a pair to succeed; the state leaves each process returned."""
    _wait(workers, timeout=600)
    for worker, log in workers:
        assert worker.returncode == 0, log.read_text()[-3000:]
    return [[got[f"arr_{i}"] for i in range(len(got.files))] for got in map(np.load, outputs)]


def _losses(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "samples_per_s"} for line in lines]


@pytest.fixture(scope="module")
def pair_run(tmp_path_factory):
    """An uninterrupted two-process run of STEPS steps with a run folder: (the folder the pairs
    share, the run's folder, each process's state leaves)."""
    tmp = tmp_path_factory.mktemp("pairs")
    outputs = [str(tmp / f"straight{i}.npz") for i in range(2)]
    return tmp, tmp / "straight", _finish(_start_pair(tmp, outputs, tmp / "straight"), outputs)


@pytest.mark.slow
def test_two_processes_train_like_one(pair_run):
    _, _, processes = pair_run
    x = sample_inputs("egbad", CONFIG, 4 * CONFIG.batch_size + 1, modality="tabular")
    options = TrainOptions(progress=False, log_every=1, max_steps=STEPS)
    alone, _ = fit(detectors.get("egbad"), CONFIG, x, seed=0, options=options)
    expected = [np.asarray(leaf) for leaf in jax.tree.leaves(alone)]
    for got in processes:
        assert len(got) == len(expected)
        for value, want in zip(got, expected, strict=True):
            np.testing.assert_allclose(value, want, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_dead_process_stops_the_other_and_the_pair_resumes(pair_run):
    tmp, straight, processes = pair_run
    run_dir = tmp / "killed"
    heartbeat = 10
    # Process 1 dies as step 4 starts, after both sealed checkpoint 2.
    (survivor, log), (victim, _) = workers = _start_pair(
        tmp, ["-", "-"], run_dir, heartbeat=heartbeat, die_at=STEPS - 1
    )
    try:
        assert victim.wait(timeout=600) == -signal.SIGKILL
        died = time.monotonic()
        survivor.wait(timeout=6 * heartbeat)
        took = time.monotonic() - died
    finally:
        for worker, _ in workers:
            worker.kill()
    assert survivor.returncode != 0 and took < 6 * heartbeat, log.read_text()[-3000:]
    assert checkpoint.newest_intact(run_dir / "checkpoints")[0] == 2

    outputs = [str(tmp / f"resumed{i}.npz") for i in range(2)]
    for got in _finish(_start_pair(tmp, outputs, run_dir, resume=True), outputs):
        for value, want in zip(got, processes[0], strict=True):
            np.testing.assert_array_equal(value, want)
    assert checkpoint.newest_intact(run_dir / "checkpoints")[0] == STEPS
    assert _losses(run_dir) == _losses(straight)
    assert [row["step"] for row in _losses(run_dir)] == list(range(1, STEPS + 1))
