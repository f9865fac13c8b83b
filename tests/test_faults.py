"""Nothing lost: a training run killed at any moment (a random step, inside a checkpoint's write,
before the checkpoint is sealed) or interrupted with Ctrl-C resumes to exactly the parameters
and the metrics log of a run that went straight through."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import sample_inputs, tiny_config, trees_equal

from ganad_jax import checkpoint, detectors, train
from ganad_jax.checkpoint import Checkpoints
from ganad_jax.train import TrainOptions, fit

OPTIONS = TrainOptions(progress=False, log_every=1, checkpoint_every=2, max_steps=10)
CONFIG = tiny_config("egbad", epochs=3)  # 4 steps an epoch: the kills land in several epochs
DETECTOR = detectors.get("egbad")
X = sample_inputs("egbad", CONFIG, 4 * CONFIG.batch_size, modality="tabular")

# Runs `fit` on the case above in run_dir (argv[1]) and SIGKILLs itself at a fault (argv[2]):
# "orbax:N" once checkpoint N's files are written but before orbax renames its folder into
# place, "step:N" as step N+1 starts; "none" runs to the end. argv[3] == "1" resumes. (A kill
# between orbax's write and the seal is `test_checkpoint_integrity`'s and the Ctrl-C test's.)
WORKER = """
import os, signal, sys
from pathlib import Path
from orbax.checkpoint._src.path import async_path
from ganad_jax import train
from test_faults import CONFIG, DETECTOR, OPTIONS, X

run_dir, fault, resume = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
kind, _, at = fault.partition(":")
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
if kind == "orbax":
    rename = async_path.rename
    async def renaming(src, dst):
        if Path(dst).name == at:
            die()
        return await rename(src, dst)
    async_path.rename = renaming
elif kind == "step":
    make_train_step = train.make_train_step
    def making(detector, config, batch_size=None):
        step_fn = make_train_step(detector, config, batch_size)
        def stepping(state, *args):
            if int(state.step) == int(at):
                die()
            return step_fn(state, *args)
        return stepping
    train.make_train_step = making
train.fit(DETECTOR, CONFIG, X, seed=0, run_dir=run_dir, options=OPTIONS, resume=resume)
"""


def _run(run_dir: Path, fault: str, resume: bool) -> int:
    """The worker's exit status (0, or -SIGKILL where it killed itself)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
        # The workers compile the same step: the first one's executables serve the others.
        "JAX_COMPILATION_CACHE_DIR": str(run_dir.parent / "xla-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    args = [sys.executable, "-c", WORKER, str(run_dir), fault, "1" if resume else "0"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, -signal.SIGKILL), done.stderr[-3000:]
    return done.returncode


def _rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the throughput, which depends on the machine's load."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "samples_per_s"} for line in lines]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The run that nothing interrupts: its final state and metrics rows."""
    run_dir = tmp_path_factory.mktemp("straight")
    state, _ = fit(DETECTOR, CONFIG, X, seed=0, run_dir=run_dir, options=OPTIONS)
    return state, _rows(run_dir)


def _restored(run_dir: Path):
    return train.restore(DETECTOR, CONFIG, run_dir, X[: CONFIG.batch_size])


@pytest.mark.slow
def test_killed_runs_resume_to_the_straight_run(straight, tmp_path):
    state, rows = straight
    run_dir = tmp_path / "run"  # the workers' compile cache goes next to it
    assert [row["step"] for row in rows] == list(range(1, 11))

    assert _run(run_dir, "orbax:4", resume=False) == -signal.SIGKILL
    checkpoints = run_dir / "checkpoints"
    assert checkpoint.steps_on_disk(checkpoints) == [2]
    assert any(".orbax-checkpoint-tmp" in p.name for p in checkpoints.iterdir())

    kill_at = random.Random(0).randrange(5, 10)
    assert _run(run_dir, f"step:{kill_at}", resume=True) == -signal.SIGKILL
    assert max(row["step"] for row in _rows(run_dir)) == kill_at
    assert checkpoint.newest_intact(checkpoints)[0] == kill_at - kill_at % 2

    assert _run(run_dir, "none", resume=True) == 0
    assert _rows(run_dir) == rows
    assert trees_equal(_restored(run_dir), state)


def test_interrupted_runs_keep_their_checkpoint_and_resume(straight, tmp_path, monkeypatch, capsys):
    state, rows = straight
    closed = []
    close = Checkpoints.close
    monkeypatch.setattr(Checkpoints, "close", lambda self: (closed.append(self), close(self)))

    def interrupt(*args):
        raise KeyboardInterrupt

    # Ctrl-C while the first checkpoint is sealed: nothing complete to resume from.
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "write_manifest", interrupt)
        with pytest.raises(KeyboardInterrupt):
            fit(DETECTOR, CONFIG, X, seed=0, run_dir=tmp_path, options=OPTIONS)
    assert len(closed) == 1
    assert [row["step"] for row in _rows(tmp_path)] == [1, 2]

    # Resumed from nothing, then Ctrl-C during step 8.
    make_train_step = train.make_train_step

    def making(detector, config, batch_size=None):
        step_fn = make_train_step(detector, config, batch_size)

        def stepping(state, *args):
            if int(state.step) == 7:
                raise KeyboardInterrupt
            return step_fn(state, *args)

        return stepping

    with monkeypatch.context() as patch:
        patch.setattr(train, "make_train_step", making)
        with pytest.raises(KeyboardInterrupt):
            fit(DETECTOR, CONFIG, X, seed=0, run_dir=tmp_path, options=OPTIONS, resume=True)
    assert "no complete checkpoint" in capsys.readouterr().err
    assert len(closed) == 2
    assert Checkpoints(tmp_path / "checkpoints").latest_step() == 6

    resumed, _ = fit(DETECTOR, CONFIG, X, seed=0, run_dir=tmp_path, options=OPTIONS, resume=True)
    assert trees_equal(resumed, state)
    assert _rows(tmp_path) == rows
