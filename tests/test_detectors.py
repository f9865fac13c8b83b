"""Registry-wide tests: every registered detector meets the contract."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import case_params, replace, sample_inputs, tiny_config, trees_equal

from ganad_jax import detectors
from ganad_jax.scoring import make_scorer, score_dataset
from ganad_jax.train import TrainOptions, fit

QUIET = TrainOptions(progress=False, log_every=1)


@pytest.fixture(scope="module", params=case_params())
def case(request):
    """Detector, tiny config, a small training set of one modality, a state trained a few steps."""
    name, modality = request.param
    detector = detectors.get(name)
    config = tiny_config(name)
    x = sample_inputs(name, config, 4 * config.batch_size, modality=modality)
    state, history = fit(detector, config, x, seed=0, options=replace(QUIET, max_steps=3))
    return name, detector, config, x, state, history


def test_shapes(case):
    _, detector, config, x, state, _ = case
    out = make_scorer(detector, config)(state, jnp.asarray(x[: config.batch_size]))
    assert out.default in out.heads
    for value in out.heads.values():
        assert value.shape == (config.batch_size,)
    if out.anomaly_map is not None:
        assert out.anomaly_map.shape == x[: config.batch_size].shape[:3]


def test_one_step(case):
    _, detector, config, x, _, _ = case
    state = detector.init(config, jax.random.key(0), jnp.asarray(x[: config.batch_size]))
    before = jax.tree.map(np.asarray, state.params)
    # jitted: one compile costs less than dispatching a GAN step op by op
    step = jax.jit(lambda s, b, k: detector.train_step(config, s, b, k))
    new, metrics = step(state, jnp.asarray(x[: config.batch_size]), jax.random.key(1))
    assert int(new.step) == 1
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert not trees_equal(before, new.params)
    assert jax.tree.structure(new) == jax.tree.structure(state)


def test_determinism(case):
    _, detector, config, x, state, history = case
    again, history2 = fit(detector, config, x, seed=0, options=replace(QUIET, max_steps=3))
    assert trees_equal(state, again)

    def losses(h):
        return [{k: v for k, v in row.items() if k != "samples_per_s"} for row in h]

    assert losses(history) == losses(history2)
    scorer = make_scorer(detector, config)
    a = score_dataset(scorer, state, x, config.batch_size)
    b = score_dataset(scorer, again, x, config.batch_size)
    for name in a.heads:
        np.testing.assert_array_equal(a.heads[name], b.heads[name])
    other, _ = fit(detector, config, x, seed=1, options=replace(QUIET, max_steps=3))
    assert not trees_equal(state.params, other.params)


def test_resume_equality(case, tmp_path):
    _, detector, config, x, state, _ = case
    first, _ = fit(
        detector, config, x, seed=0, run_dir=tmp_path, options=replace(QUIET, max_steps=2)
    )
    resumed, _ = fit(
        detector,
        config,
        x,
        seed=0,
        run_dir=tmp_path,
        options=replace(QUIET, max_steps=3),
        resume=True,
    )
    assert int(resumed.step) == 3
    assert trees_equal(state, resumed)


def test_batch_invariance(case):
    _, detector, config, x, state, _ = case
    scorer = make_scorer(detector, config)
    full = score_dataset(scorer, state, x, config.batch_size)
    n = 5  # a partial batch: padded and masked
    partial = score_dataset(scorer, state, x[:n], config.batch_size)
    order = np.random.default_rng(0).permutation(len(x))
    shuffled = score_dataset(scorer, state, x[order], config.batch_size)
    for name in full.heads:
        np.testing.assert_allclose(partial.heads[name], full.heads[name][:n], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            shuffled.heads[name], full.heads[name][order], rtol=1e-5, atol=1e-6
        )


def test_no_retracing(case):
    _, detector, config, x, _, _ = case
    step = detector.train_step  # a function, or a callable such as bigan.AdversarialStep

    def train_step(config, state, batch, key):
        return step(config, state, batch, key)

    counted = replace(detector, train_step=chex.assert_max_traces(train_step, n=1))
    chex.clear_trace_counter()
    two_epochs = replace(config, epochs=2)  # crosses an epoch boundary: a new permutation
    state, _ = fit(counted, two_epochs, x, seed=0, options=replace(QUIET, max_steps=6))
    assert int(state.step) == 6
    score = chex.assert_max_traces(detector.score, n=1)
    scorer = jax.jit(lambda s, b: score(config, s, b))
    score_dataset(scorer, state, x[: 3 * config.batch_size - 1], config.batch_size)
