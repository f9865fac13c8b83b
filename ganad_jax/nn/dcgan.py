"""DCGAN encoder, decoder and discriminator for any power-of-two image size >= 16 and any channel
count (Radford et al. 2016, in the form GANomaly's code uses): 4x4 stride-2 convolutions halve the
size down to 4x4, a final 4x4 valid convolution maps to the latent vector; the decoder mirrors it.
`CodeDiscriminator` is Skip-GANomaly's variant, which classifies the encoder's code."""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp

from ganad_jax.nn.layers import Conv, ConvTranspose

BN_MOMENTUM = 0.9
"""Running-average momentum of BatchNorm, PyTorch's 0.1 in Flax's convention."""


def check_image_size(size: int) -> int:
    """The number of stride-2 stages for an image size; raises unless size is a power of two >= 16."""
    if size < 16 or size & (size - 1):
        raise ValueError(f"image size must be a power of two >= 16, got {size}")
    return int(math.log2(size)) - 2


def batch_norm(train: bool) -> nn.BatchNorm:
    """BatchNorm with PyTorch's momentum and epsilon; batch statistics only when training."""
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=1e-5)


NORMS = ("batch", "layer", "none")
"""Normalisations of the encoder/discriminator's hidden layers (see `normalization`)."""


def normalization(norm: str, train: bool) -> Callable[[jnp.ndarray], jnp.ndarray]:
    """The normalisation after a hidden convolution: "batch" (BatchNorm, DCGAN's), "layer"
    (LayerNorm over H, W and C with per-channel scale and bias, as WGAN-GP's critic: it keeps
    examples independent, which a per-example gradient penalty needs) or "none"."""
    if norm == "batch":
        return batch_norm(train)
    if norm == "layer":
        return nn.LayerNorm(epsilon=1e-5, reduction_axes=(-3, -2, -1), feature_axes=-1)
    if norm == "none":
        return lambda h: h
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


class Encoder(nn.Module):
    """Image (N, S, S, C) to latent (N, latent) and the last 4x4 feature map (N, 4, 4, F).

    `norm` selects the normalisation of the hidden layers (see `normalization`). `first_padding`
    is the zero padding of the first convolution: 1 in DCGAN and GANomaly's released code
    (`lib/networks.py`), 4 in anomalib's GANomaly (`torch_model.py`, its `input_layers`), whose
    first map is then S / 2 + 3 wide (67 at 128) and the later ones round down to 4x4 all the
    same, for S >= 32."""

    latent: int
    features: int = 64
    norm: str = "batch"
    first_padding: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (latent code, 4x4 features)."""
        stages = check_image_size(x.shape[1])
        h = nn.leaky_relu(Conv(self.features, padding=self.first_padding)(x), 0.2)
        width = self.features
        for _ in range(stages - 1):
            width *= 2
            h = nn.leaky_relu(normalization(self.norm, train)(Conv(width)(h)), 0.2)
        if h.shape[1:3] != (4, 4):
            raise ValueError(
                f"first_padding={self.first_padding} at image size {x.shape[1]} leaves a "
                f"{h.shape[1]}x{h.shape[2]} map where the encoder needs 4x4"
            )
        z = Conv(self.latent, kernel=4, stride=1, padding=0)(h)
        return z.reshape(z.shape[0], self.latent), h


class Decoder(nn.Module):
    """Latent (N, latent) to image (N, S, S, channels) in [-1, 1]."""

    image_size: int
    channels: int
    features: int = 64

    @nn.compact
    def __call__(self, z: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the generated image."""
        stages = check_image_size(self.image_size)
        width = self.features * 2 ** (stages - 1)
        h = z.reshape(z.shape[0], 1, 1, z.shape[-1])
        h = nn.relu(batch_norm(train)(ConvTranspose(width, kernel=4, stride=1, padding=0)(h)))
        for _ in range(stages - 1):
            width //= 2
            h = nn.relu(batch_norm(train)(ConvTranspose(width)(h)))
        return jnp.tanh(ConvTranspose(self.channels)(h))


class Discriminator(nn.Module):
    """DCGAN discriminator: the encoder with one output logit; returns (logit (N,), features).

    With `norm="layer"` or `"none"` it is a WGAN-GP critic (no batch statistics);
    `first_padding` is the encoder's."""

    features: int = 64
    norm: str = "batch"
    first_padding: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (real/fake logit, last 4x4 feature map)."""
        body = Encoder(1, self.features, self.norm, self.first_padding, name="body")
        logit, features = body(x, train)
        return logit[:, 0], features


class CodeDiscriminator(nn.Module):
    """Skip-GANomaly's discriminator (`BasicDiscriminator` in its released
    `lib/models/networks.py`): the encoder down to a `latent`-channel 1x1 code, which is the
    features, then a 3x3 convolution (stride 1, padding 1, no bias) of the code to one logit.

    The released code ends in a sigmoid and BCELoss; here the logit goes to the cross-entropy on
    logits, the same loss without the probability's rounding. On the 1x1 code only the centre tap
    of the 3x3 kernel meets the input (the released layer's shape is kept, with its 9x parameters).
    Returns (logit (N,), features (N, 1, 1, latent)).
    """

    latent: int = 100
    features: int = 64

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, jnp.ndarray]:
        """Return (real/fake logit, the 1x1 code)."""
        code, _ = Encoder(self.latent, self.features, name="body")(x, train)
        features = code.reshape(code.shape[0], 1, 1, self.latent)
        logit = Conv(1, kernel=3, stride=1, padding=1, name="classifier")(features)
        return logit.reshape(logit.shape[0]), features
