"""The fast Conv/ConvTranspose formulations equal flax's plain ones: forward, gradients with respect
to input and kernel, parameter trees and initial values."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganad_jax.nn import layers

# (transposed, kernel, stride, padding, input side, in channels, out channels): DCGAN's four
# layer kinds at several sizes and widths, then other kernel/stride combinations.
CASES = [
    (False, 4, 2, 1, 16, 3, 8),
    (False, 4, 2, 1, 8, 16, 32),
    (False, 4, 1, 0, 4, 32, 10),
    (True, 4, 1, 0, 1, 10, 32),
    (True, 4, 2, 1, 4, 32, 16),
    (True, 4, 2, 1, 16, 8, 1),
    (True, 3, 1, 1, 5, 4, 6),
    (True, 6, 3, 2, 3, 4, 5),
    (True, 3, 2, 1, 4, 4, 6),  # kernel not a multiple of the stride: plain formulation
]


def _flax_reference(transposed: bool, features: int, k: int, s: int, p: int) -> nn.Module:
    """The plain flax layer with PyTorch's (kernel, stride, padding) semantics."""
    if transposed:
        q = k - 1 - p
        return nn.ConvTranspose(
            features, (k, k), (s, s), ((q, q), (q, q)), use_bias=False, kernel_init=layers.INIT
        )
    return nn.Conv(
        features, (k, k), (s, s), ((p, p), (p, p)), use_bias=False, kernel_init=layers.INIT
    )


class _Wrapped(nn.Module):
    """The reference inside a parent, so that its parameter path matches our layer's."""

    transposed: bool
    features: int
    k: int
    s: int
    p: int

    @nn.compact
    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return _flax_reference(self.transposed, self.features, self.k, self.s, self.p)(x)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "T{}k{}s{}p{}n{}c{}-{}".format(*c))
def test_fast_layer_equals_flax(case):
    transposed, k, s, p, n, cin, cout = case
    layer = (layers.ConvTranspose if transposed else layers.Conv)(cout, k, s, p)
    reference = _Wrapped(transposed, cout, k, s, p)
    x = jax.random.normal(jax.random.key(0), (3, n, n + 1 if k == 3 else n, cin))
    variables = layer.init(jax.random.key(1), x)
    reference_variables = reference.init(jax.random.key(1), x)
    assert jax.tree.structure(variables) == jax.tree.structure(reference_variables)
    for ours, theirs in zip(
        jax.tree.leaves(variables), jax.tree.leaves(reference_variables), strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)
    variables = jax.tree.map(lambda v: v * 25.0, variables)  # O(1) weights, not N(0, 0.02)

    def outputs(module):
        # One compiled function per formulation: eager op-by-op dispatch compiles far more.
        def loss(params, x):
            y = module.apply(params, x)
            return jnp.sum(jnp.sin(y)), y

        return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(variables, x)

    (_, y), grads = outputs(layer)
    (_, y_ref), grads_ref = outputs(reference)
    assert y.shape == y_ref.shape
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_ref), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def _primitives(module: nn.Module, x: jnp.ndarray) -> set[str]:
    variables = module.init(jax.random.key(0), x)
    jaxpr = jax.make_jaxpr(lambda v, x: module.apply(v, x))(variables, x)
    return {eqn.primitive.name for eqn in jaxpr.jaxpr.eqns}


def test_layers_select_the_formulation():
    x = jnp.ones((2, 4, 4, 8))
    assert "dot_general" in _primitives(layers.ConvTranspose(4), x)
    assert "dot_general" in _primitives(layers.Conv(4, stride=1, padding=0), x)
    assert "conv_general_dilated" in _primitives(layers.ConvTranspose(4, fast=False), x)
    with layers.plain_formulation():
        assert "conv_general_dilated" in _primitives(layers.ConvTranspose(4), x)
        assert "dot_general" not in _primitives(layers.Conv(4, stride=1, padding=0), x)
