"""Losses return one value per example and compose by name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganad_jax import losses


def test_per_example_shapes():
    x = jnp.ones((3, 4, 4, 2))
    y = jnp.zeros((3, 4, 4, 2))
    assert losses.l1_mean(x, y).shape == (3,)
    np.testing.assert_allclose(losses.l2_mean(2 * x, y), 4.0)
    logits = jnp.array([0.0, 1.0, -1.0])
    assert losses.discriminator_cross_entropy(logits, logits).shape == (3,)
    np.testing.assert_allclose(
        losses.discriminator_cross_entropy(jnp.zeros(1), jnp.zeros(1)), np.log(2), rtol=1e-6
    )


def test_weighted_sum_reports_all_terms_and_rejects_unknown_weights():
    terms = {"a": jnp.array([1.0, 3.0]), "b": jnp.array([2.0, 2.0])}
    total, means = losses.weighted_sum(terms, {"a": 2.0})
    assert float(total) == 4.0
    assert set(means) == {"a", "b"}
    with pytest.raises(KeyError, match="unknown terms"):
        losses.weighted_sum(terms, {"c": 1.0})


def test_gradient_penalty_of_a_linear_critic():
    # critic(x) = <w, x>: the gradient is w everywhere, so the penalty is (||w|| - 1)^2 exactly.
    w = jnp.arange(1.0, 5.0).reshape(1, 4)
    real = jnp.zeros((2, 4))
    fake = jnp.ones((2, 4))
    penalty = losses.gradient_penalty(lambda x: (x * w).sum(axis=1), real, fake, jax.random.key(0))
    np.testing.assert_allclose(penalty, (np.sqrt(30.0) - 1.0) ** 2, rtol=1e-5)
