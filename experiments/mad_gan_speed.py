"""MAD-GAN windows per second for training and for scoring (inversion included), paper sizes.

Command (writes experiments/results/mad_gan_speed.{md,json}):

    python experiments/mad_gan_speed.py [--inversion-steps 100] [--repeats 3]

Random windows (batch 500, window 30, 8 features as SKAB) through the jitted train step and score
function; compile time is excluded, the best of `repeats` timed calls is reported (the machine is
shared). Result (load average about 7 on 2 cores, 100 inversion steps): 704 training windows/s,
63 scoring windows/s; see experiments/results/mad_gan_speed.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax import detectors
from ganad_jax.evaluate import make_scorer
from ganad_jax.train import make_train_step


def best_seconds(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls of fn (after one warm-up call, which compiles)."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    """Time one training step and one scoring batch; write the result table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inversion-steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--features", type=int, default=8)
    args = parser.parse_args()
    detector = detectors.get("mad-gan")
    config = detector.config_cls(inversion_steps=args.inversion_steps)
    n = config.batch_size
    x = jnp.asarray(
        np.random.default_rng(0).uniform(-1, 1, (n, config.window, args.features)), jnp.float32
    )
    state = detector.init(config, jax.random.key(0), x)
    step = make_train_step(detector, config)
    perm = jnp.arange(n)
    holder = {"state": state}

    def train_once():
        holder["state"], metrics = step(holder["state"], x, perm, jnp.int32(0), jax.random.key(1))
        return metrics

    train_s = best_seconds(train_once, args.repeats)
    scorer = make_scorer(detector, config)
    score_s = best_seconds(lambda: scorer(holder["state"], x).value, args.repeats)
    row = {
        "batch": n,
        "window": config.window,
        "features": args.features,
        "inversion_steps": args.inversion_steps,
        "train_windows_per_s": n / train_s,
        "score_windows_per_s": n / score_s,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "machine": platform.machine(),
    }
    out = Path("experiments/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "mad_gan_speed.json").write_text(json.dumps(row, indent=2) + "\n")
    (out / "mad_gan_speed.md").write_text(
        "# mad_gan_speed\n\n"
        f"jax {row['jax']} on {row['backend']} ({row['machine']}), shared 2-core machine.\n\n"
        "| batch | window | features | inversion steps | train windows/s | score windows/s |\n"
        "|---|---|---|---|---|---|\n"
        f"| {n} | {config.window} | {args.features} | {args.inversion_steps} | "
        f"{row['train_windows_per_s']:.0f} | {row['score_windows_per_s']:.1f} |\n"
    )
    print(json.dumps(row))


if __name__ == "__main__":
    main()
