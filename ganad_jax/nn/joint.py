"""Networks of the BiGAN family (BiGAN, EGBAD, ALAD, consistency-ensured BiGAN).

An encoder E (x -> z) and a generator G (z -> x) that pick their architecture from the input's
rank (4: DCGAN convolutions from `nn/dcgan.py`; 2: the tabular `nn/mlp.py` MLPs, as the
EGBAD/ALAD code's), and discriminators on pairs, each returning (logit (N,), features (N, F)):

- `JointDiscriminator`: D(x, z) of BiGAN/ALI, x and z features concatenated, one joint layer;
- `PairDiscriminator`: D(a, b) on two inputs of one space, ALAD's D_xx (x, x') and D_zz (z, z');
- `ProjectionDiscriminator`: D(x, z) = psi(phi(x)) + <V z, phi(x)> (Miyato and Koyama, ICLR 2018,
  with the latent code as a continuous condition).

The discriminators' dense layers (`DenseStack`) add to `nn/mlp.py` what the BiGAN-family code
puts in its discriminators: dropout, BatchNorm, any LeakyReLU slope, Glorot initialisation, and
optional spectral normalisation of every dense or convolutional layer (`nn.SpectralNorm`; its
power-iteration vectors live in the "batch_stats" collection, so they are part of the state and
are only updated in training mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from ganad_jax.nn.dcgan import Decoder, Encoder, batch_norm, check_image_size
from ganad_jax.nn.layers import Conv
from ganad_jax.nn.mlp import MLP

GLOROT = nn.initializers.xavier_uniform()
"""TF's `xavier_initializer`, the EGBAD/ALAD code's initialisation of the tabular networks."""


def maybe_spectral(
    layer: nn.Module, x: jnp.ndarray, spectral_norm: bool, train: bool
) -> jnp.ndarray:
    """`layer(x)`, with the layer's weights spectrally normalised when asked."""
    if spectral_norm:
        return nn.SpectralNorm(layer)(x, update_stats=train)
    return layer(x)


class DenseStack(nn.Module):
    """Dense layers on flattened input, each followed by optional BatchNorm, LeakyReLU(`slope`;
    0 is ReLU) and dropout; returns the last hidden layer."""

    widths: Sequence[int]
    slope: float = 0.2
    dropout: float = 0.0
    batch_norm: bool = False
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the last hidden activation (N, widths[-1])."""
        h = x.reshape(x.shape[0], -1)
        for width in self.widths:
            h = maybe_spectral(nn.Dense(width, kernel_init=GLOROT), h, self.spectral_norm, train)
            if self.batch_norm:
                h = batch_norm(train)(h)
            h = nn.Dropout(self.dropout, deterministic=not train)(nn.leaky_relu(h, self.slope))
        return h


class ConvStack(nn.Module):
    """DCGAN image features: 4x4 stride-2 convolutions (widths features, 2*features, ...) down to
    4x4, BatchNorm after all but the first, LeakyReLU 0.2 and dropout; returns them flattened."""

    features: int = 64
    dropout: float = 0.0
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the flattened 4x4 feature map (N, 16 * features * 2**(stages - 1))."""
        h = x
        for stage in range(check_image_size(x.shape[1])):
            h = maybe_spectral(Conv(self.features * 2**stage), h, self.spectral_norm, train)
            if stage > 0:
                h = batch_norm(train)(h)
            h = nn.Dropout(self.dropout, deterministic=not train)(nn.leaky_relu(h, 0.2))
        return h.reshape(h.shape[0], -1)


class BidirectionalEncoder(nn.Module):
    """E: x -> z; the DCGAN encoder for images (N, S, S, C), an MLP with LeakyReLU for rows."""

    latent: int
    features: int = 64
    widths: tuple[int, ...] = (64,)

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the latent code (N, latent)."""
        if x.ndim == 4:
            return Encoder(self.latent, self.features)(x, train)[0]
        return MLP(self.widths, self.latent, "leaky_relu")(x, train)


class BidirectionalGenerator(nn.Module):
    """G: z -> x of one sample shape; the DCGAN decoder (tanh) for images, an MLP with ReLU and a
    linear output for rows (as the EGBAD/ALAD code)."""

    shape: tuple[int, ...]
    features: int = 64
    widths: tuple[int, ...] = (64, 128)

    @nn.compact
    def __call__(self, z: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return generated samples (N, *shape)."""
        if len(self.shape) == 3:
            return Decoder(self.shape[0], self.shape[-1], self.features)(z, train)
        return MLP(self.widths, self.shape[0], "relu")(z, train)


class JointDiscriminator(nn.Module):
    """D(x, z): `x_body(x)` and a `DenseStack` of z, concatenated, one joint hidden layer of
    `width` (the features), a linear logit."""

    x_body: nn.Module
    z_widths: Sequence[int]
    width: int
    slope: float = 0.2
    dropout: float = 0.0
    spectral_norm: bool = False

    @nn.compact
    def __call__(
        self, x: jnp.ndarray, z: jnp.ndarray, train: bool
    ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (logit (N,), joint features (N, width))."""
        stack = dict(slope=self.slope, dropout=self.dropout, spectral_norm=self.spectral_norm)
        hz = DenseStack(self.z_widths, **stack)(z, train)
        h = jnp.concatenate([self.x_body(x, train), hz], axis=-1)
        features = DenseStack((self.width,), **stack)(h, train)
        return nn.Dense(1, kernel_init=GLOROT)(features)[:, 0], features


class PairDiscriminator(nn.Module):
    """D(a, b) for two inputs of one space: `body` of their concatenation along the last axis
    (channels for images), a linear logit."""

    body: nn.Module

    @nn.compact
    def __call__(
        self, a: jnp.ndarray, b: jnp.ndarray, train: bool
    ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (logit (N,), features (N, F))."""
        features = self.body(jnp.concatenate([a, b], axis=-1), train)
        return nn.Dense(1, kernel_init=GLOROT)(features)[:, 0], features


class ProjectionDiscriminator(nn.Module):
    """D(x, z) = psi(phi(x)) + <V z, phi(x)>: phi is `x_body` followed by a hidden layer of
    `width` (the features), psi a linear logit and V a linear map of z."""

    x_body: nn.Module
    width: int
    slope: float = 0.2
    dropout: float = 0.0
    spectral_norm: bool = False

    @nn.compact
    def __call__(
        self, x: jnp.ndarray, z: jnp.ndarray, train: bool
    ) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (logit (N,), features phi(x) (N, width))."""
        phi = DenseStack((self.width,), self.slope, self.dropout, spectral_norm=self.spectral_norm)(
            self.x_body(x, train), train
        )
        projection = maybe_spectral(
            nn.Dense(self.width, use_bias=False, kernel_init=GLOROT), z, self.spectral_norm, train
        )
        logit = nn.Dense(1, kernel_init=GLOROT)(phi)[:, 0] + jnp.sum(projection * phi, axis=-1)
        return logit, phi
