"""Pure, element-wise losses in optax style: each returns one value per example (the leading axis),
and the caller reduces. Detectors build their objectives as weighted sums of these terms
(`ganad_jax.detectors.objective`). Names say how a difference is reduced over an example's
elements: `l1_mean` and `l2_mean` average absolute and squared differences, `l1_sum` sums absolute
ones, `l2_norm` is the Euclidean norm."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import optax


def _mean_per_example(values: jnp.ndarray) -> jnp.ndarray:
    return values.reshape(values.shape[0], -1).mean(axis=1)


def l1_mean(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Mean absolute difference per example."""
    return _mean_per_example(jnp.abs(x - y))


def l2_mean(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Mean squared difference per example."""
    return _mean_per_example(jnp.square(x - y))


def feature_matching(real_features: jnp.ndarray, fake_features: jnp.ndarray) -> jnp.ndarray:
    """Squared distance between discriminator features of a real input and its reconstruction."""
    return l2_mean(real_features, fake_features)


def latent_consistency(z: jnp.ndarray, z_hat: jnp.ndarray) -> jnp.ndarray:
    """Squared distance between a latent code and the code re-encoded from its reconstruction."""
    return l2_mean(z, z_hat)


def discriminator_cross_entropy(real_logits: jnp.ndarray, fake_logits: jnp.ndarray) -> jnp.ndarray:
    """Standard GAN discriminator loss per example: real -> 1, fake -> 0 (mean of the two)."""
    real = optax.sigmoid_binary_cross_entropy(real_logits, jnp.ones_like(real_logits))
    fake = optax.sigmoid_binary_cross_entropy(fake_logits, jnp.zeros_like(fake_logits))
    return 0.5 * (_mean_per_example(real[:, None]) + _mean_per_example(fake[:, None]))


def generator_non_saturating(fake_logits: jnp.ndarray) -> jnp.ndarray:
    """Non-saturating generator loss per example: -log D(G(z))."""
    return optax.sigmoid_binary_cross_entropy(fake_logits, jnp.ones_like(fake_logits))


def wasserstein_critic(real_scores: jnp.ndarray, fake_scores: jnp.ndarray) -> jnp.ndarray:
    """Wasserstein critic loss per example pair: D(fake) - D(real)."""
    return fake_scores - real_scores


def wasserstein_generator(fake_scores: jnp.ndarray) -> jnp.ndarray:
    """Wasserstein generator loss per example: -D(G(z))."""
    return -fake_scores


def hinge_discriminator(real_logits: jnp.ndarray, fake_logits: jnp.ndarray) -> jnp.ndarray:
    """Hinge discriminator loss per example pair."""
    return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def gradient_penalty(
    critic: Callable[[jnp.ndarray], jnp.ndarray],
    real: jnp.ndarray,
    fake: jnp.ndarray,
    key: jax.Array,
) -> jnp.ndarray:
    """WGAN-GP penalty per example, (||grad_x critic(x_hat)||_2 - 1)^2 at random interpolates.

    `critic` maps one batch to one score per example; the gradient is taken per example with
    jax.grad of the summed scores (examples do not interact in a critic without batch statistics).
    """
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
    interpolates = eps * real + (1.0 - eps) * fake
    grads = jax.grad(lambda x: critic(x).sum())(interpolates)
    norms = jnp.sqrt(jnp.sum(jnp.square(grads.reshape(grads.shape[0], -1)), axis=1) + 1e-12)
    return jnp.square(norms - 1.0)


def weighted_sum(
    terms: Mapping[str, jnp.ndarray], weights: Mapping[str, float]
) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
    """Reduce per-example terms to batch means and sum them with `weights`.

    Returns (total, {name: batch mean}), summed in the order of `terms`; every weighted term
    must be present, unweighted terms are only reported.
    """
    missing = set(weights) - set(terms)
    if missing:
        raise KeyError(f"loss weights name unknown terms {sorted(missing)}; terms: {sorted(terms)}")
    means = {name: value.mean() for name, value in terms.items()}
    total = sum(weights[name] * means[name] for name in terms if name in weights)
    return total, means


def l1_sum(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Summed absolute difference per example (the L1 norm, as the BiGAN-family scores)."""
    return jnp.abs(x - y).reshape(x.shape[0], -1).sum(axis=1)


def l2_norm(x: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """Euclidean norm of the difference per example: the square root of the summed squares."""
    return jnp.sqrt(jnp.square(x - y).reshape(x.shape[0], -1).sum(axis=1))
