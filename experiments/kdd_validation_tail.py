"""Which training classes fill the top of the validation scores of finished KDD Cup 99 runs.

Command (after `experiments/run.py experiments/kdd99.py`; any kddcup99 run folders):

    GANAD_DATA_DIR=../shared/data python experiments/kdd_validation_tail.py RUN_DIR [RUN_DIR ...]

For each run it restores the saved state, scores the validation normals and the test half, and
prints the threshold quantile's value, the classes (attack types) of the validation rows above it,
the classes of the test false positives and how many `normal.` test rows (the anomalies) fall at
or below it. The run's threshold quantile is read from its config.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ganad_jax import runs
from ganad_jax.evaluation.metrics import fit_threshold
from ganad_jax.scoring import make_scorer, score_dataset


def tail(out: Path) -> None:
    """Print the validation tail of one run folder."""
    spec, _ = runs.load_spec(out)
    ds = runs.load_data(spec)
    batch = spec.config.batch_size
    state = runs.restore_state(spec, out, ds.train.x[:batch])
    scorer = make_scorer(spec.detector, spec.config)
    validation = score_dataset(scorer, state, ds.validation.x, batch).value
    test = score_dataset(scorer, state, ds.test.x, batch).value
    threshold = fit_threshold(validation, spec.evaluation.threshold_quantile, "validation normals")

    def classes(split, mask) -> list[tuple[str, int]]:
        return Counter(ds.class_names[c] for c in split.classes[mask]).most_common(6)

    missed = (ds.test.y == 1) & (test <= threshold.value)
    false_positive = (ds.test.y == 0) & (test > threshold.value)
    print(out.name)
    print(f"  threshold {threshold.value:.1f} ({threshold.source})")
    print(f"  validation rows above it: {classes(ds.validation, validation > threshold.value)}")
    print(f"  all validation rows: {classes(ds.validation, np.ones_like(validation, bool))}")
    print(f"  test false positives: {classes(ds.test, false_positive)}")
    print(f"  test anomalies at or below it: {int(missed.sum())} of {int(ds.test.y.sum())}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        tail(Path(arg))
