"""U-Net generator (Ronneberger et al. 2015) in the pix2pix form Skip-GANomaly's code uses, and the
convolution block shared by the encoder-decoder generators.

For a power-of-two image of size S the U-Net has log2(S) stride-2 stages down to a 1x1 bottleneck;
widths are features * (1, 2, 4, 8, 8, ...). The layer order is pix2pix's `UnetSkipConnectionBlock`
(the copy in Skip-GANomaly's released `lib/models/networks.py`, built by `define_G` with
BatchNorm and `use_dropout=False`), block by block from the outside in:

- outermost: Conv down (no activation before it, no BatchNorm); up: ReLU, ConvTranspose *with a
  bias*, tanh; its output is the image, not concatenated;
- intermediate: LeakyReLU(0.2), Conv, BatchNorm down; up: ReLU, ConvTranspose, BatchNorm; the
  block returns [its input, the up path] concatenated on channels;
- innermost (the 1x1 bottleneck): LeakyReLU(0.2), Conv down (no BatchNorm); up: ReLU,
  ConvTranspose, BatchNorm; concatenated like an intermediate block.

So the ReLU of each up path acts on the concatenation [skip, up] from the block inside it.
pix2pix's LeakyReLU is in place: it overwrites the block's input, so the skip half of that
concatenation is LeakyReLU(e) (lanpa/tensorboardX#215 shows the traced graph), and the ReLU that
follows makes it ReLU(LeakyReLU(e)) = ReLU(e); here the skip is e itself and the ReLU on the
concatenation gives the same values and gradients. Every convolution but the outermost
transposed one has no bias (pix2pix drops it before BatchNorm). pix2pix needs S >= 32 (five
blocks at least); for smaller S (the tests' 16) the same pattern has fewer intermediate blocks.
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
    """LeakyReLU with DCGAN's and pix2pix's slope 0.2."""
    return nn.leaky_relu(x, 0.2)


def down_block(
    x: jnp.ndarray, features: int, train: bool, activation: Activation, norm: bool = True
) -> jnp.ndarray:
    """Conv(4, 2, 1) halving the size, optional BatchNorm, activation (call inside nn.compact)."""
    h = Conv(features)(x)
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
        skips = [Conv(widths[0])(x)]  # the outermost block's down path: a bare convolution
        for width in widths[1:-1]:
            skips.append(batch_norm(train)(Conv(width)(leaky_relu(skips[-1]))))
        h = Conv(widths[-1])(leaky_relu(skips[-1]))  # the 1x1 bottleneck, no BatchNorm
        for skip, width in zip(skips[::-1], widths[-2::-1], strict=True):
            h = batch_norm(train)(ConvTranspose(width)(nn.relu(h)))
            h = jnp.concatenate([skip, h], axis=-1)
        return jnp.tanh(ConvTranspose(self.channels, use_bias=True)(nn.relu(h)))
