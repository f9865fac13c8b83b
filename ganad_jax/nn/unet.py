"""U-Net generator (Ronneberger et al. 2015, in the pix2pix form Skip-GANomaly's code uses) and the
convolution blocks shared by the encoder-decoder generators.

For a power-of-two image of size S the U-Net has log2(S) stride-2 stages down to a 1x1 bottleneck;
widths are features * (1, 2, 4, 8, 8, ...). Encoder blocks are Conv-BatchNorm-LeakyReLU(0.2) (no
BatchNorm on the first and on the 1x1 bottleneck, as pix2pix), decoder blocks mirror them with
ConvTranspose-BatchNorm-ReLU, and every decoder stage sees the encoder features of its scale
concatenated to its input (the skip connections); the output is tanh, in [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import flax.linen as nn
import jax.numpy as jnp

from ganad_jax.nn.dcgan import batch_norm
from ganad_jax.nn.layers import Conv, ConvTranspose

Activation = Callable[[jnp.ndarray], jnp.ndarray]


def leaky_relu(x: jnp.ndarray) -> jnp.ndarray:
    """LeakyReLU with DCGAN's slope 0.2."""
    return nn.leaky_relu(x, 0.2)


def down_block(
    x: jnp.ndarray, features: int, train: bool, activation: Activation, norm: bool = True
) -> jnp.ndarray:
    """Conv(4, 2, 1) halving the size, optional BatchNorm, activation (call inside nn.compact)."""
    h = Conv(features)(x)
    return activation(batch_norm(train)(h) if norm else h)


def up_block(
    x: jnp.ndarray, features: int, train: bool, activation: Activation, norm: bool = True
) -> jnp.ndarray:
    """ConvTranspose(4, 2, 1) doubling the size, optional BatchNorm, activation."""
    h = ConvTranspose(features)(x)
    return activation(batch_norm(train)(h) if norm else h)


def unet_widths(image_size: int, features: int) -> list[int]:
    """Encoder widths per stage, from the first (S/2) to the 1x1 bottleneck."""
    if image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"U-Net image size must be a power of two >= 4, got {image_size}")
    return [features * min(2**i, 8) for i in range(int(math.log2(image_size)))]


class UNet(nn.Module):
    """Image (N, S, S, C) to its reconstruction (N, S, S, channels) with skips at every scale."""

    channels: int
    features: int = 64

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the reconstruction in [-1, 1]."""
        widths = unet_widths(x.shape[1], self.features)
        skips = []
        h = x
        for stage, width in enumerate(widths[:-1]):
            h = down_block(h, width, train, leaky_relu, norm=stage > 0)
            skips.append(h)
        h = down_block(h, widths[-1], train, nn.relu, norm=False)  # the 1x1 bottleneck
        for skip, width in zip(skips[::-1], widths[-2::-1], strict=True):
            h = up_block(h, width, train, nn.relu)
            h = jnp.concatenate([skip, h], axis=-1)
        return jnp.tanh(ConvTranspose(self.channels)(h))
