"""Latent search: find z* = argmin_z objective(z, target) for every target independently.

AnoGAN scores an image by searching the generator's latent space for the code that best
reproduces it (MAD-GAN does the same for windows). Here the search is one jitted computation:
a fixed number of optimizer steps (`lax.fori_loop`), `vmap`ped over the batch, so each target has
its own trajectory and its own optimizer state. Because `vmap` keeps the examples apart, any optax
transformation is safe, even one that couples parameters (a global-norm clip would otherwise mix a
batch's gradients), and a target's z* does not depend on its neighbours.

`search_speed` measures what this buys over the usual per-image, per-step loop (for `ganad bench`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ganad_jax import optim
from ganad_jax.nn.flops import count_macs


def latent_search(
    objective: Callable[[jnp.ndarray, Any], jnp.ndarray],
    z0: jnp.ndarray,
    targets: Any,
    optimizer: optax.GradientTransformation,
    steps: int,
) -> jnp.ndarray:
    """Minimise `objective(z, target) -> scalar` over z by `steps` optimizer steps from `z0`,
    independently for every target (a pytree with a leading batch axis, e.g. an image and its
    features); returns z* stacked over the batch, shape (N, *z0.shape)."""

    def one(target: Any) -> jnp.ndarray:
        def step(_, carry):
            z, opt_state = carry
            return optim.step(optimizer, z, opt_state, jax.grad(objective)(z, target))

        z, _ = jax.lax.fori_loop(0, steps, step, (z0, optimizer.init(z0)))
        return z

    return jax.vmap(one)(targets)


def keep_in_box(low: float, high: float) -> optax.GradientTransformation:
    """An optax transformation, chained after a search's optimizer, that changes its updates so
    the updated parameters stay in [low, high] (projected gradient descent: every step ends by
    clipping z into the box, as `z = clip(z + update)`)."""

    def update_fn(updates: Any, state: Any, params: Any) -> tuple[Any, Any]:
        return jax.tree.map(lambda u, p: jnp.clip(p + u, low, high) - p, updates, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def search_speed(
    objective: Callable[[jnp.ndarray, Any], jnp.ndarray],
    z0: jnp.ndarray,
    targets: Any,
    optimizer: optax.GradientTransformation,
    steps: int,
    repeats: int = 3,
) -> dict[str, float]:
    """Targets per second of the same search (`latent_search`'s arguments) run three ways, each
    compiled beforehand, best of `repeats`:

    - "search_per_s": the whole batch at once, vmapped (what scoring does);
    - "search_loop_per_s": one target at a time, one jitted optimizer step per call, as reference
      implementations (PyOD, the AnoGAN ports) loop over images and steps;
    - "search_image_loop_per_s": one target at a time, each a compiled `latent_search` of one.

    Also "speedup" (search_per_s / search_loop_per_s), "batch" (the number of targets),
    "gflop_per_item" (model GFLOPs of one target's `steps` gradient evaluations, counted as
    `ganad_jax.nn.flops` does), and each rate per second of this process's CPU time
    ("*_per_cpu_s"), which a shared machine distorts less than wall time.
    """
    n = jax.tree.leaves(targets)[0].shape[0]
    first = jax.tree.map(lambda a: a[0], targets)
    macs_per_step = count_macs(jax.grad(objective), z0, first)
    singles = [jax.tree.map(lambda a, i=i: a[i : i + 1], targets) for i in range(n)]
    batched = jax.jit(lambda t: latent_search(objective, z0, t, optimizer, steps))

    @jax.jit
    def step(z, opt_state, target):
        return optim.step(optimizer, z, opt_state, jax.grad(objective)(z, target))

    def stepwise(single):
        z, opt_state, target = z0, optimizer.init(z0), jax.tree.map(lambda a: a[0], single)
        for _ in range(steps):
            z, opt_state = step(z, opt_state, target)
        return z

    def best(run: Callable[[], Any]) -> tuple[float, float]:
        jax.block_until_ready(run())
        wall, cpu = [], []
        for _ in range(repeats):
            started, started_cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(run())
            wall.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
        return min(wall), min(cpu)

    timings = {
        "search": best(lambda: batched(targets)),
        "search_loop": best(lambda: [stepwise(single) for single in singles]),
        "search_image_loop": best(lambda: [batched(single) for single in singles]),
    }
    result = {"batch": float(n), "gflop_per_item": 2 * steps * macs_per_step / 1e9}
    for name, (wall, cpu) in timings.items():
        result[f"{name}_per_s"] = n / wall
        result[f"{name}_per_cpu_s"] = n / cpu
    result["speedup"] = result["search_per_s"] / result["search_loop_per_s"]
    return result
