"""The waiting around a run: how long `ganad` takes to start, and how long a run takes to reach
its first training step, with the persistent compilation cache cold (first run), warm (a second
identical run) and off. Prints a markdown table; the figures in `experiments/bench.md` come
from it.

    GANAD_DATA_DIR=../shared/data python experiments/startup.py [MODEL ...] [--repeats N]

Each time is the median of `--repeats` runs, from launching the process. "First step" is when
the run's `metrics.jsonl` gets its first line (`--set log_every=1`: written once step 1 has
finished on the device); the process is then stopped. Every run uses a fresh run folder and the
data set's decoded-array cache as it is; the compilation cache is a fresh temporary folder per
model (cold, then warm), or off (`GANAD_COMPILATION_CACHE=0`).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GANAD = [sys.executable, "-c", "from ganad_jax.cli import entry; entry()"]
COMMANDS = (["--help"], ["list"], ["data", "list"], ["bench", "--help"])


def _start(argv: list[str]) -> float:
    """Seconds for `ganad ARGV` to run to its end."""
    began = time.perf_counter()
    subprocess.run([*GANAD, *argv], check=True, capture_output=True)
    return time.perf_counter() - began


def _first_step(model: str, data: str, cache: str, folder: Path) -> float:
    """Seconds from launching `ganad train` until its first step is logged."""
    out = folder / f"run-{time.monotonic_ns()}"
    env = {**os.environ, "GANAD_COMPILATION_CACHE": cache}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    argv = [*GANAD, "train", model, "--data", data, "--out", str(out), "--quiet"]
    began = time.perf_counter()
    process = subprocess.Popen(
        [*argv, "--set", "log_every=1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    metrics = out / "metrics.jsonl"
    try:
        while not (metrics.exists() and metrics.read_text().strip()):
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()[-2000:])
            time.sleep(0.02)
        return time.perf_counter() - began
    finally:
        process.send_signal(signal.SIGINT)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["ganomaly", "egbad:kddcup99"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; load {os.getloadavg()}")
    print("\n| command | start, s (median of", args.repeats, ") |\n|---|---|")
    for argv in COMMANDS:
        times = [_start(argv) for _ in range(args.repeats)]
        print(f"| `ganad {' '.join(argv)}` | {statistics.median(times):.2f} |")
    print("\n| run | cache cold, s | cache warm, s | cache off, s |\n|---|---|---|---|")
    for item in args.models:
        model, _, data = item.partition(":")
        data = data or "mnist-embedded"
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            cold, warm, off = [], [], []
            for i in range(args.repeats):
                cache = str(folder / f"xla-{i}")
                cold.append(_first_step(model, data, cache, folder))
                warm.append(_first_step(model, data, cache, folder))
                off.append(_first_step(model, data, "0", folder))
        row = " | ".join(f"{statistics.median(t):.1f}" for t in (cold, warm, off))
        print(f"| `ganad train {model} --data {data}` to its first step | {row} |")
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
