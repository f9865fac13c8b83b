"""Checkpoints carry checksums: any changed byte is caught on restore, which falls back to the
newest intact checkpoint; a write cut short never costs the previous one; the manifest also
carries the training seconds, summed over resumed runs."""

from __future__ import annotations

import re
import time

import jax.numpy as jnp
import optax
import pytest
from helpers import sample_inputs, tiny_config, trees_equal

from ganad_jax import checkpoint, detectors
from ganad_jax.checkpoint import MANIFEST, CheckpointError, Checkpoints
from ganad_jax.train import TrainOptions, elapsed_seconds, fit


def _state():
    """A small state shaped like a detector's: a step, params and an Adam state."""
    params = {"dense": {"kernel": jnp.linspace(-1.0, 1.0, 24).reshape(4, 6), "bias": jnp.ones(6)}}
    return {"step": jnp.int32(3), "params": params, "opt_state": optax.adam(1e-3).init(params)}


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_changed_byte_in_any_file_is_caught_and_restore_falls_back(tmp_path, capsys):
    state = _state()
    checkpoints = Checkpoints(tmp_path, keep=3)
    checkpoints.save(1, state)
    checkpoints.save(2, state)
    folder = tmp_path / "2"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert folder / MANIFEST in files and len(files) > 5
    for path in files:
        name = path.relative_to(folder).as_posix()
        _flip(path, path.stat().st_size // 2)
        with pytest.raises(CheckpointError, match=rf"checkpoint 2 .* \(file {re.escape(name)} "):
            checkpoints.restore(state, step=2)
        assert trees_equal(checkpoints.restore(state), state)
        assert checkpoints.restored_step == 1
        assert len(checkpoints.skipped) == 1 and name in checkpoints.skipped[0]
        line = capsys.readouterr().err.strip()
        assert line.startswith("checkpoint 2 in ") and line.endswith("; restored step 1")
        _flip(path, path.stat().st_size // 2)
    checkpoints.restore(state)
    assert checkpoints.restored_step == 2 and checkpoints.skipped == []

    (folder / "stray").write_text("x")
    with pytest.raises(CheckpointError, match=r"file stray is not in the manifest"):
        checkpoints.restore(state, step=2)
    (folder / "stray").unlink()
    next(p for p in files if p.name != MANIFEST).unlink()
    with pytest.raises(CheckpointError, match=r"checkpoint 2 .* is missing\)"):
        checkpoints.restore(state, step=2)
    _flip(tmp_path / "1" / MANIFEST, 10)
    with pytest.raises(CheckpointError, match=r"no intact checkpoint left: checkpoint 2 .*; "):
        checkpoints.restore(state)
    checkpoints.close()


def test_a_write_cut_short_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    state = _state()
    checkpoints = Checkpoints(tmp_path, keep=1)
    checkpoints.save(1, state, {"train_seconds": 1.5})

    def interrupted(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "write_manifest", interrupted)
        with pytest.raises(KeyboardInterrupt):
            checkpoints.save(2, state)
    assert checkpoints.steps() == [1, 2] and checkpoints.latest_step() == 1
    checkpoints.restore(state)
    assert checkpoints.restored_step == 1
    assert checkpoints.restored_metadata == {"train_seconds": 1.5}
    assert f"file {MANIFEST} is missing" in checkpoints.skipped[0]
    checkpoints.save(3, state)
    assert checkpoints.steps() == [3]
    checkpoints.close()


@pytest.mark.slow
def test_train_seconds_add_up_over_resumed_runs(tmp_path):
    config = tiny_config("egbad", epochs=2)
    x = sample_inputs("egbad", config, 2 * config.batch_size, modality="tabular")
    options = TrainOptions(progress=False, checkpoint_every=2, max_steps=2)
    assert elapsed_seconds(tmp_path) is None
    fit(detectors.get("egbad"), config, x, seed=0, run_dir=tmp_path, options=options)
    first = elapsed_seconds(tmp_path)
    assert first > 0
    started = time.perf_counter()
    more = TrainOptions(progress=False, checkpoint_every=2, max_steps=4)
    fit(detectors.get("egbad"), config, x, seed=0, run_dir=tmp_path, options=more, resume=True)
    second_run = time.perf_counter() - started
    # More than the second run took: the first run's seconds are carried over.
    assert elapsed_seconds(tmp_path) > second_run
    assert elapsed_seconds(tmp_path) > first
