"""Data parallelism on a device mesh: 4 simulated CPU devices train like 1, to float tolerance."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from helpers import replace, sample_inputs, tiny_config

from ganad_jax import detectors
from ganad_jax.detectors.ensemble import ensemble
from ganad_jax.train import TrainOptions, fit, make_mesh

QUIET = TrainOptions(progress=False, log_every=1, max_steps=3)


def assert_trees_close(a, b):
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-4, atol=1e-5),
        a,
        b,
    )


@pytest.fixture(scope="module")
def setup():
    config = tiny_config("ganomaly")
    # Not a multiple of the 4 data shards: the row padding must never be drawn.
    x = sample_inputs("ganomaly", config, 4 * config.batch_size + 3)
    return detectors.get("ganomaly"), config, x


def test_four_devices_train_like_one(setup):
    detector, config, x = setup
    assert jax.device_count() >= 4
    one, history_one = fit(detector, config, x, seed=0, options=QUIET)
    four, history_four = fit(detector, config, x, seed=0, options=replace(QUIET, devices=4))
    leaf = jax.tree.leaves(four.params)[0]
    assert len(leaf.sharding.device_set) == 4 and leaf.sharding.is_fully_replicated
    assert_trees_close(one, four)
    np.testing.assert_allclose(history_one[-1]["g_loss"], history_four[-1]["g_loss"], rtol=1e-5)


@pytest.mark.slow
def test_sharded_ensemble_members_train_like_one_device(setup, tmp_path):
    detector, config, x = setup
    members = ensemble(detector, 2, 2, "independent")
    one, _ = fit(members, config, x, seed=0, options=QUIET)
    sharded = replace(QUIET, devices=4, ensemble_shards=2)
    # Two steps, a checkpoint, then resumed to the third: sharded states save and restore.
    fit(members, config, x, seed=0, run_dir=tmp_path, options=replace(sharded, max_steps=2))
    four, _ = fit(members, config, x, seed=0, run_dir=tmp_path, options=sharded, resume=True)
    leaf = jax.tree.leaves(four.params)[0]
    assert leaf.sharding.spec == jax.sharding.PartitionSpec("ensemble")
    assert len(leaf.addressable_shards) == 4 and leaf.addressable_shards[0].data.shape[0] == 1
    assert_trees_close(one, four)


def test_mesh_and_sharding_errors(setup):
    detector, config, x = setup
    with pytest.raises(ValueError, match="devices requested"):
        make_mesh(jax.device_count() + 1)
    with pytest.raises(ValueError, match="must divide"):
        make_mesh(4, ensemble_shards=3)
    with pytest.raises(ValueError, match="multiple of the 3 data shards"):
        fit(detector, config, x, seed=0, options=replace(QUIET, devices=3))
    with pytest.raises(ValueError, match="needs an ensemble"):
        fit(detector, config, x, seed=0, options=replace(QUIET, devices=2, ensemble_shards=2))
