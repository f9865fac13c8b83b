"""Flax Linen building blocks shared by the detectors, and `apply`, the one way they are run."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax


def apply(
    module: nn.Module,
    params: Any,
    stats: Any,
    *inputs: Any,
    train: bool,
    key: jax.Array | None = None,
) -> tuple[Any, Any]:
    """`module(*inputs, train=train)` with its params and BatchNorm statistics (`{}` if it has
    none); returns (output, statistics), the statistics updated when training. `key`, in
    training, is the module's dropout key."""
    variables = {"params": params, "batch_stats": stats} if stats else {"params": params}
    if not train:
        return module.apply(variables, *inputs, train=False), stats
    rngs = {"dropout": key} if key is not None else None
    out, new = module.apply(variables, *inputs, train=True, mutable=["batch_stats"], rngs=rngs)
    return out, new.get("batch_stats", {})
