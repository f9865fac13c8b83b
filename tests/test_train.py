"""The training loop: keys, data order, the NaN guard and its checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors
from ganad_jax.checkpoint import Checkpoints
from ganad_jax.train import TrainingDiverged, TrainOptions, epoch_permutation, fit, steps_per_epoch


def test_epoch_permutation_is_a_keyed_permutation():
    key = jax.random.key(0)
    a = np.asarray(epoch_permutation(key, 0, 10))
    assert sorted(a.tolist()) == list(range(10))
    np.testing.assert_array_equal(a, epoch_permutation(key, 0, 10))
    assert not np.array_equal(a, epoch_permutation(key, 1, 10))


def test_steps_per_epoch_rejects_empty_and_tiny_sets():
    assert steps_per_epoch(130, 64) == 2
    with pytest.raises(ValueError, match="empty"):
        steps_per_epoch(0, 64)
    with pytest.raises(ValueError, match="smaller than one batch"):
        steps_per_epoch(10, 64)


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    # The generator's learning rate turns NaN from its 5th update on.
    lr = lambda count: jnp.where(count < 4, 1e-4, jnp.nan)  # noqa: E731
    config = tiny_config("ganomaly", epochs=5, optimizers={"g": optax.sgd(lr)})
    x = sample_inputs("ganomaly", config, 4 * config.batch_size)
    options = TrainOptions(progress=False, log_every=1, checkpoint_every=2, max_steps=10)
    with pytest.raises(
        TrainingDiverged, match="non-finite .* at step 5; .*last good checkpoint: step 4"
    ):
        fit(detectors.get("ganomaly"), config, x, seed=0, run_dir=tmp_path, options=options)
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    assert checkpoints.latest_step() == 4
    checkpoints.close()
    logged = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 4
