"""Training throughput of GAN ensembles with 1, 3 and 5 members (cost per member).

Commands run (write experiments/results/ensemble_throughput.{md,json}, keeping other models' rows):

    python experiments/ensemble_throughput.py --models egbad --steps 100
    python experiments/ensemble_throughput.py --models ganomaly --steps 3

An n-member ensemble here is n generators x n discriminators in the independent mode (n pair
updates per step, one vmapped step) and in the paper's pair mode (one pair update per step); the
base detector alone is the reference. Each configuration is compiled, warmed up for 2 steps, then
timed over `--steps` steps (best of 3 repeats); inputs are random arrays of the real shapes
(throughput does not depend on the values): EGBAD on KDD Cup 99 rows (120 features, batch 50) and
GANomaly on 32x32x1 images (batch 64), paper network sizes.

Results (shared 2-core CPU, load average 11-19 from other developers' jobs while measured, so
the numbers are noisy: e.g. the 1x1 pair mode timed faster than the base alone for GANomaly), in
seconds per step and cost per pair update relative to the base alone:

    EGBAD     alone 0.0015 s; independent 1/3/5 members 0.0016/0.0089/0.0092 s (1.13/2.04/1.27x);
              pair mode 1x1/3x3/5x5 0.0036/0.0033/0.0021 s (2.50/2.29/1.41x: state gather/scatter)
    GANomaly  alone 2.39 s; independent 1/3/5 members 2.48/13.4/27.5 s (1.04/1.88/2.31x);
              pair mode 1x1/3x3/5x5 1.59/2.10/1.85 s (0.66/0.88/0.77x)

So on this CPU a vmapped member costs about 1-2.3x a lone model (no speed-up from batching the
members' convolutions), and the paper's pair mode costs about one base step whatever the size.
Full table: experiments/results/ensemble_throughput.md.
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
from ganad_jax.ensemble import ensemble
from ganad_jax.train import make_train_step

CASES = (("egbad", (120,)), ("ganomaly", (32, 32, 1)))


def time_steps(detector, config, x: np.ndarray, steps: int) -> float:
    """Seconds per training step (best of 3 timed runs of `steps` steps, after compiling)."""
    data = jax.device_put(jnp.asarray(x))
    state = detector.init(config, jax.random.key(0), data[: config.batch_size])
    step = make_train_step(detector, config)
    perm = jnp.arange(len(x))
    key = jax.random.key(1)
    for i in range(2):
        state, metrics = step(state, data, perm, jnp.int32(i), jax.random.fold_in(key, i))
    jax.block_until_ready(state)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(steps):
            index = jnp.int32(i % (len(x) // config.batch_size))
            state, metrics = step(state, data, perm, index, jax.random.fold_in(key, i))
        jax.block_until_ready(state)
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def main() -> None:
    """Measure and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--models", nargs="+", default=[name for name, _ in CASES])
    args = parser.parse_args()
    rows = []
    for name, shape in (case for case in CASES if case[0] in args.models):
        base = detectors.get(name)
        config = base.config_cls()
        x = np.random.default_rng(0).uniform(-1, 1, (4 * config.batch_size, *shape))
        x = x.astype(np.float32)
        alone = time_steps(base, config, x, args.steps)
        rows.append({"model": name, "ensemble": "none", "pair_updates": 1, "s_per_step": alone})
        print(rows[-1], flush=True)
        for n in args.members:
            for mode in ("independent", "pair"):
                seconds = time_steps(ensemble(base, n, n, mode), config, x, args.steps)
                updates = n if mode == "independent" else 1
                rows.append(
                    {
                        "model": name,
                        "ensemble": f"{n}x{n}:{mode}",
                        "pair_updates": updates,
                        "s_per_step": seconds,
                    }
                )
                print(rows[-1], flush=True)
    for row in rows:
        batch = detectors.get(row["model"]).config_cls().batch_size
        row["samples_per_s"] = batch / row["s_per_step"]
        base_seconds = next(
            r["s_per_step"] for r in rows if r["model"] == row["model"] and r["ensemble"] == "none"
        )
        row["cost_per_pair_update"] = row["s_per_step"] / row["pair_updates"] / base_seconds
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    env = f"jax {jax.__version__} on {jax.default_backend()} ({platform.machine()})"
    previous = out / "ensemble_throughput.json"
    if previous.exists():  # keep the rows of models measured by an earlier command
        kept = json.loads(previous.read_text())["rows"]
        rows = [r for r in kept if r["model"] not in args.models] + rows
    (out / "ensemble_throughput.json").write_text(json.dumps({"env": env, "rows": rows}, indent=2))
    lines = [
        "# ensemble_throughput",
        "",
        f"`python experiments/ensemble_throughput.py --steps STEPS --models MODEL` "
        f"(this table: {' '.join(args.models)} with {args.steps} steps, others kept from earlier "
        f"commands); {env}, shared 2-core "
        "machine under heavy load from other jobs. Cost per pair update is relative to one step "
        "of the base detector alone.",
        "",
        "| model | ensemble | pair updates/step | s/step | samples/s | cost per pair update |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['ensemble']} | {r['pair_updates']} | {r['s_per_step']:.4f} | "
        f"{r['samples_per_s']:.0f} | {r['cost_per_pair_update']:.2f}x |"
        for r in rows
    ]
    (out / "ensemble_throughput.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
