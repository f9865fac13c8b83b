"""Model FLOPs counted analytically from a traced function: the multiply-adds of every convolution
and matmul in its jaxpr (forward and gradient passes alike), at 2 FLOPs each. Elementwise work
(normalisation, activations, optimizer) is not counted.

Traced with the fast layers (the default), the count follows the published convention (papers,
PyTorch counters): a Conv2d costs out_pixels * k * k * in * out multiply-adds and a
ConvTranspose2d in_pixels * k * k * in * out. The fast transposed convolutions are matmuls over
exactly those products, and a convolution's taps on border padding are counted; zeros inserted
between input pixels (input dilation) are never counted. Traced inside
`layers.plain_formulation()` with `count_padding=False`, the count leaves out border padding too
and is what XLA's `cost_analysis()` reports for the plain formulation, which the tests use as a
cross-check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.extend import core


def window_pairs(
    out_size: int,
    window: int,
    stride: int,
    padding_low: int,
    lhs_dilation: int,
    rhs_dilation: int,
    in_size: int,
    count_padding: bool,
) -> int:
    """Number of (output position, window tap) pairs of one spatial dimension that multiply an
    input pixel (or, with `count_padding`, a border-padding position) rather than a dilation hole."""
    taps = np.arange(out_size)[:, None] * stride + np.arange(window)[None, :] * rhs_dilation
    undilated = taps - padding_low
    on_grid = undilated % lhs_dilation == 0
    if not count_padding:
        on_grid &= (undilated >= 0) & (undilated < (in_size - 1) * lhs_dilation + 1)
    return int(on_grid.sum())


def _conv_macs(eqn: core.JaxprEqn, count_padding: bool) -> int:
    lhs, rhs = (v.aval.shape for v in eqn.invars[:2])
    out = eqn.outvars[0].aval.shape
    p = eqn.params
    dn = p["dimension_numbers"]
    spatial = len(dn.lhs_spec) - 2
    lhs_dilation = p["lhs_dilation"] or (1,) * spatial
    rhs_dilation = p["rhs_dilation"] or (1,) * spatial
    pairs = 1
    for d in range(spatial):
        pairs *= window_pairs(
            out[dn.out_spec[2 + d]],
            rhs[dn.rhs_spec[2 + d]],
            p["window_strides"][d],
            p["padding"][d][0],
            lhs_dilation[d],
            rhs_dilation[d],
            lhs[dn.lhs_spec[2 + d]],
            count_padding,
        )
    # Each output element of (batch, feature) sums over the kernel's input features at each pair.
    return out[dn.out_spec[0]] * out[dn.out_spec[1]] * rhs[dn.rhs_spec[1]] * pairs


def _dot_macs(eqn: core.JaxprEqn) -> int:
    (lhs_contract, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    return int(np.prod(eqn.outvars[0].aval.shape)) * int(np.prod([lhs[d] for d in lhs_contract]))


def jaxpr_macs(jaxpr: core.Jaxpr, count_padding: bool = True) -> int:
    """Multiply-adds of the convolutions and matmuls of a jaxpr and its sub-jaxprs.

    A scan body counts `length` times; a while body and each cond branch count once (the
    detectors' steps have no data-dependent loops).
    """
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "conv_general_dilated":
            total += _conv_macs(eqn, count_padding)
        elif name == "dot_general":
            total += _dot_macs(eqn)
        repeat = eqn.params.get("length", 1) if name == "scan" else 1
        branches = [jaxpr_macs(sub, count_padding) for sub in core.jaxprs_in_params(eqn.params)]
        if name == "cond":
            total += max(branches, default=0)
        else:
            total += repeat * sum(branches)
    return total


def count_macs(fn: Callable[..., Any], *args: Any, count_padding: bool = True) -> int:
    """Multiply-adds of one call `fn(*args)`, traced (not run)."""
    return jaxpr_macs(jax.make_jaxpr(fn)(*args).jaxpr, count_padding)
