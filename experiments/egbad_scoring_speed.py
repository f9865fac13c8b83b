"""EGBAD's scoring speed: KDD Cup 99 rows and MNIST images per second (one forward pass through E,
G and D), next to AnoGAN's latent search.

Command (writes experiments/results/egbad_scoring_speed.{md,json}):

    python experiments/egbad_scoring_speed.py [--repeats 5] [--calls 20]

EGBAD with the paper's networks (untrained: the cost does not depend on the weights): the KDD MLPs
on rows of the kdd99-dagmm protocol's 114 features, and the DCGAN networks (width 64, latent 200,
the MNIST setting) on 32x32x1 images; each at the paper's batch (50 rows, 100 images) and a large
batch. Every figure is the best of `repeats` timed blocks of `calls` jitted score calls after one
untimed call (compile excluded), on random inputs. AnoGAN's figure is read from
experiments/results/anogan_search_speed.json (its own script) when present.
Results: see experiments/results/egbad_scoring_speed.md.
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
from ganad_jax.evaluate import make_scorer

CASES = (
    ("KDD Cup 99 rows", (114,), {}, (50, 4096)),
    ("MNIST images", (32, 32, 1), {"latent": 200}, (100, 1024)),
)


def best_rate(scorer, state, x: jnp.ndarray, calls: int, repeats: int) -> float:
    """Samples per second of the best of `repeats` blocks of `calls` score calls."""
    jax.block_until_ready(scorer(state, x))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            out = scorer(state, x)
        jax.block_until_ready(out)
        best = min(best, time.perf_counter() - started)
    return calls * x.shape[0] / best


def main() -> None:
    """Measure and write the result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    detector = detectors.get("egbad")
    load_before = os.getloadavg()[0]
    rows = []
    for data, shape, overrides, batches in CASES:
        for batch in batches:
            config = detector.config_cls(batch_size=batch, **overrides)
            x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (batch, *shape)), jnp.float32)
            state = detector.init(config, jax.random.key(0), x)
            rate = best_rate(make_scorer(detector, config), state, x, args.calls, args.repeats)
            rows.append({"data": data, "batch": batch, "per_s": rate})
            print(f"{data}, batch {batch}: {rate:.0f} per second", flush=True)
    load_after = os.getloadavg()[0]
    anogan_path = Path("experiments/results/anogan_search_speed.json")
    anogan = json.loads(anogan_path.read_text()) if anogan_path.exists() else None
    write(rows, anogan, load_before, load_after)


def write(rows: list[dict], anogan: dict | None, load_before: float, load_after: float) -> None:
    """experiments/results/egbad_scoring_speed.{json,md}."""
    folder = Path("experiments/results")
    folder.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()} {platform.processor() or ''}".strip()
    meta = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "machine": machine,
        "load_before": load_before,
        "load_after": load_after,
    }
    (folder / "egbad_scoring_speed.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "anogan": anogan}, indent=2) + "\n"
    )
    lines = [
        "# egbad_scoring_speed",
        "",
        f"jax {meta['jax']} on {meta['backend']} ({machine}), shared 2-core machine "
        f"(1-min load average {load_before:.1f} before, {load_after:.1f} after).",
        "",
        "| data | batch | EGBAD scored per second |",
        "|---|---|---|",
        *(f"| {r['data']} | {r['batch']} | {r['per_s']:.0f} |" for r in rows),
    ]
    if anogan is not None:
        row = anogan["rows"][0] if "rows" in anogan else anogan
        lines += [
            "",
            f"AnoGAN (experiments/results/anogan_search_speed.md): {row['search_per_s']:.2f} "
            f"images per second batched at {row['steps']} search steps, on the same machine.",
        ]
    (folder / "egbad_scoring_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
