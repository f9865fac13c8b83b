"""Fingerprints of every registered detector's tiny training, to show that a restructuring changes
no number.

    python experiments/fingerprint.py > after.jsonl            # one JSON line per case
    python experiments/fingerprint.py --compare before.jsonl after.jsonl

Each case (every registered detector on every kind of data it takes, plus a BiGAN with the moving
average and ensembles in the three modes) trains its tiny config (`Detector.tiny`) for three steps
from seed 0 on the tests' random inputs and prints SHA-256 digests of its parameters, optimizer
states, BatchNorm statistics and scores, the mean score and the last step's losses. `--compare`
says, case by case, whether two such files agree bit for bit (losses: on the keys both have, since
a restructuring may log new terms).

Measured for the restructuring of 2026-12-03 (`DetectorConfig`, objectives, `optim`): all 26 cases
bit-identical between 98386b0 and the restructured tree (run with `GANAD_COMPILATION_CACHE=0` on
the 2-core CPU).

Measured for issue 16's fidelity fixes of 2026-12-03 (109e2de against the working tree that
held them, committed as 2f5ffea and 1711e9d): every case identical except f-anogan (image and tabular: tanh encoder,
TensorFlow's RMSProp, image ResNets), skip-ganomaly (the released discriminator, pix2pix's U-Net)
and wgan (image and tabular: PyTorch's RMSProp), the defaults those fixes change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers import cases, sample_inputs, tiny_config  # noqa: E402

from ganad_jax import detectors  # noqa: E402
from ganad_jax.detectors.ensemble import ensemble  # noqa: E402
from ganad_jax.scoring import make_scorer  # noqa: E402
from ganad_jax.train import TrainOptions, fit  # noqa: E402

EXTRA_CASES = [
    ("bigan", "tabular", {"ema_decay": 0.9}, None),
    ("ganomaly", "image", {}, (2, 2, "all")),
    ("egbad", "tabular", {}, (2, 2, "pair")),
    ("dcgan", "tabular", {}, (2, 2, "independent")),
]
DIGESTS = ("params", "opt", "stats", "scores", "mean")


def digest(tree) -> str:
    """SHA-256 (16 hex digits) of the bytes of every numeric leaf of `tree`, in tree order."""
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        value = np.asarray(leaf)
        if value.dtype.kind in "fiub":
            h.update(value.tobytes())
    return h.hexdigest()[:16]


def fingerprints():
    """One dict per case: its name, digests, mean score and last losses."""
    options = TrainOptions(progress=False, log_every=1, max_steps=3)
    runs = [(n, m, {}, None) for n, m in cases()] + EXTRA_CASES
    for name, modality, extra, members in runs:
        detector = detectors.get(name)
        config = tiny_config(name, **extra)
        if members:
            detector = ensemble(detector, *members)
        x = sample_inputs(name, config, 4 * config.batch_size, modality=modality)
        state, history = fit(detector, config, x, seed=0, options=options)
        out = make_scorer(detector, config)(state, jnp.asarray(x[: config.batch_size]))
        yield {
            "case": f"{name}/{modality}/{extra}/{members}",
            "params": digest(state.params),
            "opt": digest(state.opt_state),
            "stats": digest(state.batch_stats),
            "scores": digest(out.heads),
            "mean": float(np.mean(out.value)),
            "losses": {k: float(v) for k, v in history[-1].items() if k != "samples_per_s"},
        }


def compare(before: Path, after: Path) -> int:
    """Print each case's agreement; 1 when any case differs."""
    old = {r["case"]: r for r in map(json.loads, before.read_text().splitlines())}
    differ = 0
    for row in map(json.loads, after.read_text().splitlines()):
        ref = old[row["case"]]
        common = set(ref["losses"]) & set(row["losses"])
        same = all(ref[k] == row[k] for k in DIGESTS) and all(
            ref["losses"][k] == row["losses"][k] for k in common
        )
        differ += not same
        print(f"{row['case']}: {'identical' if same else 'DIFFERENT'}")
    return int(differ > 0)


def main() -> int:
    """Print the fingerprints, or compare two files of them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return compare(*args.compare)
    for row in fingerprints():
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
