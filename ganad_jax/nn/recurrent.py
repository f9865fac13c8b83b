"""LSTM building blocks for sequence detectors (MAD-GAN): stacked LSTMs scanned over time.

`flax.linen.RNN` runs its cell with `nn.scan` (a `jax.lax.scan`), so one compiled step serves any
sequence length and the parameters do not depend on it.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

OUTPUT_ACTIVATIONS = ("tanh", "linear")


class LSTMStack(nn.Module):
    """`layers` LSTM layers of `hidden` units: (N, T, D) -> (N, T, hidden), zero initial state."""

    hidden: int
    layers: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Return the last layer's output at every time step."""
        for i in range(self.layers):
            x = nn.RNN(nn.OptimizedLSTMCell(self.hidden), name=f"lstm{i}")(x)
        return x


class SequenceGenerator(nn.Module):
    """Latent sequence (N, T, latent) -> series (N, T, features): LSTMs, then a per-step dense layer.

    `output_activation` "tanh" bounds outputs to [-1, 1] (the released MAD-GAN code; data must be
    scaled into that range), "linear" leaves them unbounded (for standardised data).
    """

    features: int
    hidden: int
    layers: int = 1
    output_activation: str = "tanh"

    @nn.compact
    def __call__(self, z: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Generate one value per feature and time step (`train` changes nothing: no layer here
        differs in training; it is taken so that `ganad_jax.nn.apply` runs every module alike)."""
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"output_activation must be one of {OUTPUT_ACTIVATIONS}, "
                f"got {self.output_activation!r}"
            )
        out = nn.Dense(self.features, name="out")(LSTMStack(self.hidden, self.layers)(z))
        return jnp.tanh(out) if self.output_activation == "tanh" else out


class SequenceDiscriminator(nn.Module):
    """Series (N, T, D) -> one real/fake logit per time step (N, T), as in MAD-GAN."""

    hidden: int
    layers: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Return per-step logits (`train` changes nothing, as in `SequenceGenerator`)."""
        return nn.Dense(1, name="out")(LSTMStack(self.hidden, self.layers)(x))[..., 0]
