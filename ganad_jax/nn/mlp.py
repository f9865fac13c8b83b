"""Multi-layer perceptrons for tabular rows (N, D), shaped like the DCGAN modules of `nn.dcgan` so a
detector can swap one family for the other by the rank of its input:

- `MLP(hidden, out)(z, train) -> (N, out)`: a generator (like `dcgan.Decoder`), or any plain map;
- `MLPEncoder(latent, hidden)(x, train) -> (z, h)`: a code and the last hidden layer's features
  (like `dcgan.Encoder`);
- `MLPDiscriminator(hidden)(x, train) -> (logit (N,), h)`: one real/fake logit and the features
  used for feature matching (like `dcgan.Discriminator`).

Each hidden layer is Dense -> optional LayerNorm -> activation. There is no BatchNorm and no
dropout, so nothing depends on the batch or needs a key; `train` is accepted (and ignored) only so
that the call signature matches the DCGAN modules. Activations are named ("relu", "leaky_relu"
(slope 0.2, DCGAN's), "tanh", "sigmoid", "elu", "gelu") so configs stay plain data.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable[[jnp.ndarray], jnp.ndarray]] = {
    "relu": nn.relu,
    "leaky_relu": lambda h: nn.leaky_relu(h, 0.2),
    "tanh": jnp.tanh,
    "sigmoid": nn.sigmoid,
    "elu": nn.elu,
    "gelu": nn.gelu,
}


def activation(name: str | None) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """The activation function called `name`; None is the identity (a linear output)."""
    if name is None:
        return lambda h: h
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


class MLPBody(nn.Module):
    """The hidden layers: (N, D) -> (N, hidden[-1]) (the input itself when `hidden` is empty)."""

    hidden: tuple[int, ...]
    activation: str = "leaky_relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Return the last hidden layer's activations."""
        h = x
        for width in self.hidden:
            h = nn.Dense(width)(h)
            if self.layer_norm:
                h = nn.LayerNorm()(h)
            h = activation(self.activation)(h)
        return h


class MLP(nn.Module):
    """(N, D) -> (N, out) through `hidden` layers; `output_activation` None keeps it linear (for
    standardised tabular features), "tanh" bounds it to [-1, 1]."""

    hidden: tuple[int, ...]
    out: int
    activation: str = "leaky_relu"
    output_activation: str | None = None
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        """Return the output (`train` is ignored: nothing here depends on it)."""
        h = MLPBody(self.hidden, self.activation, self.layer_norm, name="body")(x)
        return activation(self.output_activation)(nn.Dense(self.out)(h))


class MLPEncoder(nn.Module):
    """(N, D) -> (code (N, latent), last hidden features (N, hidden[-1]))."""

    latent: int
    hidden: tuple[int, ...]
    activation: str = "leaky_relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (code, features) (`train` is ignored)."""
        h = MLPBody(self.hidden, self.activation, self.layer_norm, name="body")(x)
        return nn.Dense(self.latent)(h), h


class MLPDiscriminator(nn.Module):
    """(N, D) -> (real/fake logit (N,), last hidden features); a WGAN critic as it stands (no
    output sigmoid, no batch statistics)."""

    hidden: tuple[int, ...]
    activation: str = "leaky_relu"
    layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (logit, features) (`train` is ignored)."""
        logit, h = MLPEncoder(1, self.hidden, self.activation, self.layer_norm, name="body")(x)
        return logit[:, 0], h
