"""AnoGAN's latent search: images per second batched (vmap) against per-image loops, and FLOP/s.

Command (writes experiments/results/anogan_search_speed.{md,json}):

    python experiments/anogan_search_speed.py [--steps 100] [--batch 64] [--repeats 1]

An AnoGAN with the paper's networks at 32x32x1 (DCGAN, 64 base features, latent 100; untrained:
the cost does not depend on the weights) searches z* for `batch` random images with `steps` Adam
steps each (`anogan.search_speed`), three ways: the whole batch as one jitted, vmapped search
(what scoring does); one image at a time with one jitted optimizer step per call, as reference
implementations loop over images and steps; and one image at a time, each a compiled search of
one. Compile time is excluded; best of `repeats`. FLOPs per image come from XLA's cost analysis
of the score (with one search step minus with none, times the steps, plus the rest); achieved
FLOP/s are compared with the best of five 2048x2048 float32 matmuls on the same machine, measured
in the same run (the practical peak). The machine is shared: the load average is recorded.

Results (experiments/results/anogan_search_speed.md; batch 64, 100 steps, 12.82 GFLOP per image;
quiet machine, load average 0.3-1.3): batched 11.13 images/s (143 GFLOP/s, 28 % of the 503 GFLOP/s
matmul peak of the same run), per-image per-step loop 8.72 images/s (1.28x), per-image compiled
search 7.01 images/s; in process CPU time the batched search and the loop are even (5.69 against
5.80 images per CPU second). Under load (average 9-11, other jobs running) the same command gave
1.87 against 4.56 images/s (0.41x wall, 0.81x CPU). So the issue's target (>= 20x at batch 64,
>= 50 % of peak) is not met on this CPU: XLA:CPU already runs the batch-1 DCGAN passes at about
75 GFLOP per CPU second, so batching can only add the second core, and the search's loop body (a
while loop) runs about 2x slower than the same steps unrolled (2.44 against 1.28 CPU s for 20 steps
at batch 64). The batched form pays off where batch 1 cannot fill the device (GPU/TPU), which this
machine cannot measure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax import detectors
from ganad_jax.detectors import anogan


def matmul_peak(size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` size x size float32 matmuls."""
    a = jnp.ones((size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, a))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(matmul(a, a))
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


def score_flops(detector, config, state, x) -> float:
    """XLA's FLOP count of one compiled score call on `x`."""
    scorer = jax.jit(lambda s, b: detector.score(config, s, b))
    cost = scorer.lower(state, x).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost["flops"])


def main() -> None:
    """Measure and write the result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    detector = detectors.get("anogan")
    config = detector.config_cls(image_size=32, search_steps=args.steps, batch_size=args.batch)
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 32, 32, 1)).astype(np.float32)
    state = detector.init(config, jax.random.key(0), jnp.asarray(x))
    load_before = os.getloadavg()[0]
    speed = anogan.search_speed(config, state, x, repeats=args.repeats)
    one = score_flops(detector, config.__class__(image_size=32, search_steps=1), state, x)
    none = score_flops(detector, config.__class__(image_size=32, search_steps=0), state, x)
    flops_per_image = (none + args.steps * (one - none)) / args.batch
    peak = matmul_peak()
    achieved = flops_per_image * speed["search_per_s"]
    row = {
        **speed,
        "steps": args.steps,
        "flops_per_image": flops_per_image,
        "achieved_flops": achieved,
        "matmul_peak_flops": peak,
        "fraction_of_peak": achieved / peak,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg()[0],
    }
    meta = {"jax": jax.__version__, "backend": jax.default_backend(), "machine": platform.machine()}
    out = Path("experiments/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "anogan_search_speed.json").write_text(
        json.dumps({"meta": meta, "rows": [row]}, indent=2)
    )
    lines = [
        "# anogan_search_speed",
        "",
        f"jax {meta['jax']} on {meta['backend']} ({meta['machine']}), shared 2-core machine "
        f"(1-min load average {row['load_average_before']:.1f} before, "
        f"{row['load_average_after']:.1f} after).",
        "",
        "| clock | batch | steps | batched images/s | per-image, per-step loop images/s | "
        "speed-up | per-image compiled search images/s | GFLOP/image | achieved GFLOP/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for clock, suffix in (("wall", "per_s"), ("process CPU", "per_cpu_s")):
        batched, looped = row[f"search_{suffix}"], row[f"search_loop_{suffix}"]
        lines.append(
            f"| {clock} | {args.batch} | {args.steps} | {batched:.3f} | {looped:.4f} | "
            f"{batched / looped:.2f}x | {row[f'search_image_loop_{suffix}']:.4f} | "
            f"{flops_per_image / 1e9:.2f} | {flops_per_image * batched / 1e9:.1f} |"
        )
    lines += [
        "",
        f"Matmul peak (best of five 2048x2048 float32 matmuls, wall clock): {peak / 1e9:.1f} "
        f"GFLOP/s; the batched search reached {row['fraction_of_peak']:.0%} of it (wall clock).",
    ]
    (out / "anogan_search_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
