"""Convolution layers in the formulations the detectors use, in PyTorch's (kernel, stride, padding)
terms so that architectures read as in the papers.

Each layer is flax's `nn.Conv` (same parameter tree, names and initial values as flax's
`nn.Conv` / `nn.ConvTranspose`) with the convolution itself swapped for a formulation that XLA
compiles well, where one applies:

- a transposed convolution whose kernel is a multiple of its stride (DCGAN's k4 s2 p1 and the
  k4 s1 p0 that maps a 1x1 code to 4x4) is one matmul of each input pixel to all k*k output taps
  followed by an overlap-add of the taps (col2im). XLA:CPU runs the plain input-dilated
  convolution's kernel gradient on a slow path (the layer's forward and backward took about 10x
  as long at batch 64), and the matmul form multiplies no inserted zeros;
- a convolution whose window covers its whole unpadded input (DCGAN's last 4x4 -> 1x1 layer) is
  one matmul.

Both are the plain formulation's sums in another order (equal to float32 rounding, see
tests/test_layers.py). Strided convolutions stay plain: XLA:CPU compiles them well (space-to-depth
and im2col forms measured slower). `fast=False` on a layer, or `plain_formulation()` around
tracing, selects the plain `lax.conv_general_dilated` formulation (used to check FLOP counts
against XLA).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jax import lax

INIT = nn.initializers.normal(0.02)
"""DCGAN weight initialisation, N(0, 0.02), as in the papers' code."""

_NHWC = lax.ConvDimensionNumbers(
    lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2)
)
_FORCE_PLAIN = contextvars.ContextVar("force_plain_formulation", default=False)

Padding = Sequence[tuple[int, int]]


@contextlib.contextmanager
def plain_formulation() -> Iterator[None]:
    """Make every Conv/ConvTranspose traced inside use the plain lax formulation.

    JAX caches traces per function object and does not see this context: trace a function object
    created inside it (a new lambda or functools.partial), not one already traced outside.
    """
    token = _FORCE_PLAIN.set(True)
    try:
        yield
    finally:
        _FORCE_PLAIN.reset(token)


def _is_simple_2d(
    lhs: jnp.ndarray,
    rhs_dilation: Sequence[int] | None,
    dimension_numbers: Any,
    feature_group_count: int,
) -> bool:
    """Whether a convolution is an ungrouped, undilated-kernel NHWC/HWIO 2-D convolution."""
    return (
        lhs.ndim == 4
        and dimension_numbers == _NHWC
        and feature_group_count == 1
        and tuple(rhs_dilation or (1, 1)) == (1, 1)
    )


def conv_fast(
    lhs: jnp.ndarray,
    rhs: jnp.ndarray,
    window_strides: Sequence[int],
    padding: Padding,
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    precision: Any = None,
) -> jnp.ndarray:
    """`lax.conv_general_dilated` with a full-window convolution computed as one matmul."""
    kh, kw = rhs.shape[:2]
    full_window = (
        not isinstance(padding, str)
        and _is_simple_2d(lhs, rhs_dilation, dimension_numbers, feature_group_count)
        and tuple(lhs_dilation or (1, 1)) == (1, 1)
        and tuple(map(tuple, padding)) == ((0, 0), (0, 0))
        and lhs.shape[1:3] == (kh, kw)
    )
    if not full_window:
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
            precision=precision,
        )
    y = jnp.matmul(
        lhs.reshape(lhs.shape[0], -1), rhs.reshape(-1, rhs.shape[-1]), precision=precision
    )
    return y.reshape(lhs.shape[0], 1, 1, rhs.shape[-1])


def conv_transpose_fast(
    lhs: jnp.ndarray,
    rhs: jnp.ndarray,
    window_strides: Sequence[int],
    padding: Padding,
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    precision: Any = None,
) -> jnp.ndarray:
    """`lax.conv_general_dilated` with an input-dilated (transposed) convolution computed as a
    matmul to all kernel taps and an overlap-add, where the kernel is a multiple of the stride."""
    strides = tuple(lhs_dilation or (1, 1))
    kernel = rhs.shape[:2]
    applies = (
        not isinstance(padding, str)
        and _is_simple_2d(lhs, rhs_dilation, dimension_numbers, feature_group_count)
        and tuple(window_strides) == (1, 1)
        and all(k % s == 0 for k, s in zip(kernel, strides, strict=True))
        and all(0 <= p <= k - 1 for pair, k in zip(padding, kernel, strict=True) for p in pair)
    )
    if not applies:
        return lax.conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
            precision=precision,
        )
    return _col2im_transpose(lhs, rhs, strides, padding, precision)


def _col2im_transpose(
    x: jnp.ndarray, kernel: jnp.ndarray, strides: tuple[int, int], padding: Padding, precision: Any
) -> jnp.ndarray:
    """Input-dilated convolution as matmul + overlap-add.

    In the plain formulation output o sums kernel[t] * x[i] over s*i = o + t - P (P the low
    padding). With the flipped tap t' = k-1-t this is the scatter o = s*i + t' - (k-1-P): each
    input pixel i contributes x[i] @ kernel_flipped[t'] to output s*i + t'. Writing t' = s*a + r,
    the uncropped output at s*j + r sums the taps (a, r) of the inputs i = j - a.
    """
    n, h, w, cin = x.shape
    (kh, kw), cout = kernel.shape[:2], kernel.shape[3]
    (sh, sw), (qh, qw) = strides, (kh // strides[0], kw // strides[1])
    flipped = kernel[::-1, ::-1].reshape(qh, sh, qw, sw, cin, cout)
    # Columns ordered (a_h, a_w, r_h, r_w, out) so that each tap offset (a_h, a_w) is one block.
    weights = flipped.transpose(4, 0, 2, 1, 3, 5).reshape(cin, kh * kw * cout)
    cols = jnp.matmul(x.reshape(-1, cin), weights, precision=precision)
    cols = cols.reshape(n, h, w, qh, qw, sh * sw * cout)
    full_h, full_w = h + qh - 1, w + qw - 1
    acc = jnp.zeros((n, full_h, full_w, sh * sw * cout), cols.dtype)
    for a_h in range(qh):
        for a_w in range(qw):
            block = cols[:, :, :, a_h, a_w]
            acc = acc + jnp.pad(
                block, ((0, 0), (a_h, full_h - h - a_h), (a_w, full_w - w - a_w), (0, 0))
            )
    full = acc.reshape(n, full_h, full_w, sh, sw, cout).transpose(0, 1, 3, 2, 4, 5)
    full = full.reshape(n, full_h * sh, full_w * sw, cout)
    (lo_h, hi_h), (lo_w, hi_w) = padding
    crop_h, crop_w = kh - 1 - lo_h, kw - 1 - lo_w
    out_h = (h - 1) * sh + lo_h + hi_h - kh + 2
    out_w = (w - 1) * sw + lo_w + hi_w - kw + 2
    return full[:, crop_h : crop_h + out_h, crop_w : crop_w + out_w]


def _use_fast(fast: bool) -> bool:
    return fast and not _FORCE_PLAIN.get()


class Conv(nn.Module):
    """Conv2d(kernel, stride, padding) on NHWC input, PyTorch semantics, no bias by default."""

    features: int
    kernel: int = 4
    stride: int = 2
    padding: int = 1
    use_bias: bool = False
    fast: bool = True

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Apply the convolution."""
        pad = ((self.padding, self.padding), (self.padding, self.padding))
        return nn.Conv(
            self.features,
            (self.kernel, self.kernel),
            strides=(self.stride, self.stride),
            padding=pad,
            use_bias=self.use_bias,
            kernel_init=INIT,
            conv_general_dilated=conv_fast if _use_fast(self.fast) else None,
            name="Conv_0",
        )(x)


class ConvTranspose(nn.Module):
    """ConvTranspose2d(kernel, stride, padding) on NHWC input, PyTorch semantics (output size
    (in - 1) * stride - 2 * padding + kernel), no bias by default."""

    features: int
    kernel: int = 4
    stride: int = 2
    padding: int = 1
    use_bias: bool = False
    fast: bool = True

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        """Apply the transposed convolution."""
        p = self.kernel - 1 - self.padding
        # flax's nn.ConvTranspose (transpose_kernel=False) is exactly this input-dilated nn.Conv;
        # the name keeps nn.ConvTranspose's parameter path, so trees and initial values match.
        return nn.Conv(
            self.features,
            (self.kernel, self.kernel),
            padding=((p, p), (p, p)),
            input_dilation=(self.stride, self.stride),
            use_bias=self.use_bias,
            kernel_init=INIT,
            conv_general_dilated=conv_transpose_fast if _use_fast(self.fast) else None,
            name="ConvTranspose_0",
        )(x)
