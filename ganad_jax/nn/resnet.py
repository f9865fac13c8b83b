"""The ResNet generator, critic and encoder of WGAN-GP's 64x64 experiments, as f-AnoGAN's released
code has them (github.com/tSchlegl/f-AnoGAN: `GoodGenerator`, `GoodDiscriminator` and
`ResidualBlock` of wgangp_64x64.py, the `Encoder` of z_encoding_izif.py), for any power-of-two
image size >= 16 and any channel count, with the DCGAN modules' interfaces (`nn.dcgan`).

At 64x64 the networks are the released ones, `features` being its `DIM` (64):
- critic: 3x3 convolution to `features`, four residual blocks 'down' to features x (2, 4, 8, 8)
  (64 -> 4 pixels), the 4x4x8F map as its hidden features f (the released `out_features`, which
  f-AnoGAN's izif loss and score read), one linear output;
- encoder: the critic's layers with a linear output of `latent` values (z_encoding_izif.py);
- generator: linear from z to a 4x4x8F map, four residual blocks 'up' to features x
  (8, 4, 2, 1), normalisation, ReLU, 3x3 convolution to the channels, tanh.
A block is norm, ReLU, 3x3 conv, norm, ReLU, 3x3 conv plus a 1x1 convolution shortcut; 'down'
mean-pools 2x2 after its second convolution and before its shortcut convolution, 'up' upsamples
(nearest neighbour, the released `UpsampleConv`'s tile and depth_to_space) before its first and
its shortcut convolution. Other sizes take log2(size) - 2 blocks, so the 4x4 map is kept: the
critic's block i (from 1) widens to features x min(2^i, 8) and the generator mirrors it (so 128
adds a block at 8F, 32 drops the released critic's last block and the generator's first).

Normalisation, as the released `my_Normalize`: the critic's is chosen by `norm` ("layer", the
released WGAN-GP critic's layer norm over H, W and C with per-channel scale and offset; see
`dcgan.normalization`), the encoder's and generator's is BatchNorm with TensorFlow's defaults
(`tf.layers.batch_normalization`: momentum 0.99, epsilon 1e-3). Initialisation is tflib's
(tflib/ops/conv2d.py, linear.py): uniform with variance 4 / (fan_in + fan_out) for the
convolutions with `he_init` (the blocks' and the generator's output), 2 / (fan_in + fan_out)
(Glorot) for the input convolution, the shortcuts and the linear layers; zero biases; the blocks'
first convolutions have no bias. The convolutions are flax's own: the fast formulations of
`nn.layers` are for strided and transposed convolutions, which these networks do not have.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp

from ganad_jax.nn.dcgan import NORMS, check_image_size, normalization

HE = nn.initializers.variance_scaling(2.0, "fan_avg", "uniform")
"""tflib's `he_init`: uniform, variance 4 / (fan_in + fan_out)."""
GLOROT = nn.initializers.glorot_uniform()
"""tflib's Glorot init: uniform, variance 2 / (fan_in + fan_out)."""

MAX_WIDTH = 8
"""The widest map, in multiples of `features` (the released 8 * DIM)."""


def norm_layer(norm: str, train: bool) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """The released normalisation: "batch" is TensorFlow's BatchNorm (the generator's and the
    encoder's), "layer" and "none" are `dcgan.normalization`'s (the critic's layer norm)."""
    if norm == "batch":
        return nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3)
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return normalization(norm, train)


def conv(features: int, kernel: int, init: Callable, bias: bool = True) -> nn.Conv:
    """tflib's Conv2D: stride 1, 'SAME' padding."""
    return nn.Conv(features, (kernel, kernel), padding="SAME", use_bias=bias, kernel_init=init)


def mean_pool(x: jnp.ndarray) -> jnp.ndarray:
    """2x2 mean pooling, stride 2 (the released ConvMeanPool / MeanPoolConv)."""
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def upsample(x: jnp.ndarray) -> jnp.ndarray:
    """Nearest-neighbour 2x upsampling (the released UpsampleConv's tile and depth_to_space)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def widths(image_size: int, features: int) -> list[int]:
    """The critic's widths: its input convolution's, then each block's output."""
    stages = check_image_size(image_size)
    return [features * min(2**i, MAX_WIDTH) for i in range(stages + 1)]


class ResidualBlock(nn.Module):
    """The released ResidualBlock with resample 'down' or 'up' and 3x3 convolutions."""

    features: int
    resample: str
    norm: str

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return shortcut(x) + the residual branch."""
        width_in = x.shape[-1]
        h = nn.relu(norm_layer(self.norm, train)(x))
        if self.resample == "down":
            shortcut = conv(self.features, 1, GLOROT)(mean_pool(x))
            h = conv(width_in, 3, HE, bias=False)(h)
            h = nn.relu(norm_layer(self.norm, train)(h))
            h = mean_pool(conv(self.features, 3, HE)(h))
        elif self.resample == "up":
            shortcut = conv(self.features, 1, GLOROT)(upsample(x))
            h = conv(self.features, 3, HE, bias=False)(upsample(h))
            h = nn.relu(norm_layer(self.norm, train)(h))
            h = conv(self.features, 3, HE)(h)
        else:
            raise ValueError(f"resample must be 'down' or 'up', got {self.resample!r}")
        return shortcut + h


class Encoder(nn.Module):
    """Image (N, S, S, C) to latent (N, latent) and the 4x4 map of the last block (N, 4, 4, F):
    the released encoder (norm "batch") or, with one output, its critic (see `Discriminator`)."""

    latent: int
    features: int = 64
    norm: str = "batch"

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (latent code, 4x4 features)."""
        first, *blocks = widths(x.shape[1], self.features)
        h = conv(first, 3, GLOROT)(x)
        for width in blocks:
            h = ResidualBlock(width, "down", self.norm)(h, train)
        z = nn.Dense(self.latent, kernel_init=GLOROT)(h.reshape(h.shape[0], -1))
        return z, h


class Decoder(nn.Module):
    """Latent (N, latent) to image (N, S, S, channels) in [-1, 1]: the released generator."""

    image_size: int
    channels: int
    features: int = 64

    @nn.compact
    def __call__(self, z: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the generated image."""
        first, *blocks = reversed(widths(self.image_size, self.features))
        h = nn.Dense(4 * 4 * first, kernel_init=GLOROT)(z).reshape(z.shape[0], 4, 4, first)
        for width in blocks:
            h = ResidualBlock(width, "up", "batch")(h, train)
        h = nn.relu(norm_layer("batch", train)(h))
        return jnp.tanh(conv(self.channels, 3, HE)(h))


class Discriminator(nn.Module):
    """The released critic: the encoder's layers with one output; returns (score (N,), the 4x4
    map of its last block). `norm` "layer" is the released WGAN-GP critic's."""

    features: int = 64
    norm: str = "layer"

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (critic score, last 4x4 feature map)."""
        score, features = Encoder(1, self.features, self.norm, name="body")(x, train)
        return score[:, 0], features
