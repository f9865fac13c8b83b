"""The single-model MNIST rows of experiments/ensemble_mnist.py trained as one `--seeds` program
per model, compared with the one-by-one runs they would replace.

Command (writes experiments/results/seeds_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/seeds_mnist.py

That is `ganad train ganomaly --data mnist --seeds 0,1,2 --set anomaly_class=3 --set
max_steps=400 --set seed_mapping=unrolled`, and the same for EGBAD with ensemble_mnist.py's short
image settings: the "alone" rows of that table, with the seeds unrolled in the program so that
each seed runs the computation of its single-seed run. The check, fixed before the run: every
seed's AUROC, AUPRC and F1 equal that seed's row of experiments/results/ensemble_mnist.json
(trained one by one) to float rounding.

Results: to be filled in from experiments/results/seeds_mnist.md when the run finishes.
"""

from ensemble_mnist import BASES, SEEDS, STEPS
from run import Experiment, Run

MAPPINGS = ("unrolled", "sequential")


def get_config() -> Experiment:
    """ensemble_mnist.py's single-model rows as one --seeds program per model and mapping."""
    return Experiment(
        name="seeds_mnist",
        runs=tuple(
            Run(
                model,
                "mnist",
                (*settings, "anomaly_class=3", f"max_steps={STEPS}", f"seed_mapping={mapping}"),
                seed,
            )
            for mapping in MAPPINGS
            for model, settings, _ in BASES
            for seed in SEEDS
        ),
    )
