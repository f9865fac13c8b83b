"""GAN building blocks, AnoGAN's latent search and f-AnoGAN's two phases (beyond the registry-wide
contract tests of tests/test_detectors.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config, trees_equal

from ganad_jax import detectors, losses, search
from ganad_jax.detectors import anogan, fanogan
from ganad_jax.evaluation.reports import plot_samples


def _trained(name: str, steps: int, modality: str = "image", **overrides):
    detector = detectors.get(name)
    config = tiny_config(name, **overrides)
    x = jnp.asarray(sample_inputs(name, config, config.batch_size, modality=modality))
    state = detector.init(config, jax.random.key(0), x)
    step = jax.jit(lambda s, b, k: detector.train_step(config, s, b, k))
    for i in range(steps):
        state, _ = step(state, x, jax.random.key(i))
    return detector, config, x, state


@pytest.mark.slow
def test_anogan_score_is_the_same_searched_alone_or_in_a_batch():
    detector, config, x, state = _trained("anogan", 2, search_steps=25)
    scorer = jax.jit(lambda s, b: detector.score(config, s, b))
    batch = scorer(state, x)
    for i in (0, 5):
        alone = scorer(state, x[i : i + 1])
        for name, values in batch.heads.items():
            np.testing.assert_allclose(alone.heads[name][0], values[i], rtol=1e-5, atol=1e-6)
    # the search moved z: the combined loss at z* is below the one at the shared start z0
    unsearched = detector.score(tiny_config("anogan", search_steps=0), state, x)
    assert np.all(np.asarray(batch.value) < np.asarray(unsearched.value))


def test_gradient_penalty_matches_finite_differences():
    # critic(x) = w2 . tanh(W1 x + b1), written once for JAX and once for float64 numpy
    rng = np.random.default_rng(0)
    w1, b1, w2 = rng.normal(size=(5, 3)), rng.normal(size=5), rng.normal(size=5)
    real, fake = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    key = jax.random.key(7)

    def critic(x):
        hidden = x @ jnp.asarray(w1.T, jnp.float32) + jnp.asarray(b1, jnp.float32)[None]
        return jnp.tanh(hidden) @ jnp.asarray(w2, jnp.float32)

    penalty = losses.gradient_penalty(
        critic,
        jnp.asarray(real, jnp.float32),
        jnp.asarray(fake, jnp.float32),
        jax.random.clone(key),
    )
    eps = np.asarray(jax.random.uniform(key, (4, 1), jnp.float32), np.float64)  # the same draw
    interpolates = eps * real + (1 - eps) * fake

    def critic64(x):
        return np.tanh(x @ w1.T + b1) @ w2

    h = 1e-6
    grads = np.stack(
        [
            (critic64(interpolates + h * e) - critic64(interpolates - h * e)) / (2 * h)
            for e in np.eye(3)
        ],
        axis=1,
    )
    expected = (np.linalg.norm(grads, axis=1) - 1.0) ** 2
    np.testing.assert_allclose(np.asarray(penalty), expected, rtol=1e-4, atol=1e-6)


def test_wgan_clips_the_critic_weights():
    _, config, _, state = _trained("wgan", 1, modality="tabular", clip=0.005)
    assert max(float(jnp.abs(p).max()) for p in jax.tree.leaves(state.params["d"])) <= 0.005


def test_gradient_penalty_refuses_a_batchnorm_critic():
    with pytest.raises(ValueError, match="BatchNorm"):
        tiny_config("wgan-gp", critic_norm="batch")
    with pytest.raises(ValueError, match="multiple of n_critic"):
        tiny_config("wgan", batch_size=9, n_critic=2)


@pytest.mark.parametrize("scheme", fanogan.SCHEMES)
def test_fanogan_trains_the_gan_then_only_the_encoder(scheme):
    detector, config, x, state = _trained("f-anogan", 0, modality="tabular", scheme=scheme)
    step = jax.jit(lambda s, b, k: detector.train_step(config, s, b, k))
    history = [jax.tree.map(np.asarray, state.params)]
    for i in range(4):  # gan_steps = 2: two WGAN-GP steps, then two encoder steps
        state, metrics = step(state, x, jax.random.key(i))
        assert float(metrics["phase"]) == (i >= config.gan_steps)
        history.append(jax.tree.map(np.asarray, state.params))
    for before, after in zip(history[:2], history[1:3], strict=True):
        assert trees_equal(before["e"], after["e"])
        assert not trees_equal(before["g"], after["g"])
    for before, after in zip(history[2:4], history[3:5], strict=True):
        assert trees_equal({k: before[k] for k in "gd"}, {k: after[k] for k in "gd"})
        assert not trees_equal(before["e"], after["e"])


def test_samples_have_the_data_shape_and_are_plotted(tmp_path):
    detector, config, x, state = _trained("dcgan", 1)
    generated = detector.samples(config, state, jax.random.key(3), x)
    assert generated.shape == x.shape
    assert np.all(np.abs(np.asarray(generated)) <= 1.0)
    assert plot_samples(tmp_path, np.asarray(generated)) == "samples"
    assert (tmp_path / "samples.png").stat().st_size > 0


def test_search_speed_reports_batched_and_looped_throughput():
    _, config, x, state = _trained("anogan", 0, modality="tabular")
    speed = search.search_speed(*anogan.search_problem(config, state, x[:4]), repeats=1)
    assert speed["batch"] == 4 and speed["gflop_per_item"] > 0
    for name in ("search_per_s", "search_loop_per_s", "search_image_loop_per_s"):
        assert speed[name] > 0
    np.testing.assert_allclose(
        speed["speedup"], speed["search_per_s"] / speed["search_loop_per_s"], rtol=1e-9
    )


def test_keep_in_box_projects_every_search_step_into_the_box():
    # objective t . z: its gradient is t, so SGD(0.4) moves z by -0.4 t a step; written out by
    # hand, z0 = (0.5, -0.2), t = (-1, 2): unclipped (0.9, -1.0), (1.3, -1.8); clipped the
    # second step ends at (1.0, -1.0)
    import optax

    z0, targets = jnp.array([0.5, -0.2]), jnp.array([[-1.0, 2.0]])
    boxed = optax.chain(optax.sgd(0.4), search.keep_in_box(-1.0, 1.0))
    for steps, expected in ((1, [0.9, -1.0]), (2, [1.0, -1.0])):
        z = search.latent_search(lambda z, t: jnp.dot(t, z), z0, targets, boxed, steps)
        np.testing.assert_allclose(z[0], expected, rtol=1e-6)
    free = search.latent_search(lambda z, t: jnp.dot(t, z), z0, targets, optax.sgd(0.4), 2)
    np.testing.assert_allclose(free[0], [1.3, -1.8], rtol=1e-6)


def test_anogan_search_clip_keeps_z_in_the_uniform_prior_and_needs_it():
    _, config, x, state = _trained("anogan", 0, modality="tabular", search_clip=True, search_lr=5.0)
    z_star = search.latent_search(*anogan.search_problem(config, state, x[:4]))
    assert np.all(np.abs(np.asarray(z_star)) <= 1.0)
    free = tiny_config("anogan", search_lr=5.0)
    assert np.any(
        np.abs(np.asarray(search.latent_search(*anogan.search_problem(free, state, x[:4])))) > 1.0
    )
    with pytest.raises(ValueError, match="search_clip needs prior=uniform"):
        tiny_config("anogan", search_clip=True, prior="normal")
