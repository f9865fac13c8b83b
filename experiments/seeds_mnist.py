"""The single-model MNIST rows of experiments/ensemble_mnist.py trained as one `--seeds` program
per model, compared with the one-by-one runs they would replace.

Command (writes experiments/results/seeds_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/seeds_mnist.py

That is `ganad train ganomaly --data mnist --seeds 0,1,2 --set anomaly_class=3 --set
max_steps=400 --set seed_mapping=M`, and the same for EGBAD with ensemble_mnist.py's short image
settings: the "alone" rows of that table, once with the seeds unrolled in one program (M =
unrolled) and once with each seed's own compiled single-run step in turn (M = sequential). The
check, fixed before the run: every seed's AUROC, AUPRC and F1 equal that seed's row of
experiments/results/ensemble_mnist.json (trained one by one) to float rounding.

Results (experiments/results/seeds_mnist.md; test AUROC per seed 0 / 1 / 2; jax 0.10.2 on the
2-core CPU, shared with a paper-budget run throughout):

                          --seeds program            one by one (ensemble_mnist.json)
    GANomaly, unrolled    0.7920 / 0.8249 / 0.8313   0.8004 / 0.8267 / 0.8284
    EGBAD, unrolled       0.4767 / 0.5372 / 0.3573   0.4082 / 0.5943 / 0.4801
    GANomaly, sequential  0.8004 / 0.8267 / 0.8284   equal, AUROC, AUPRC and F1 as floats
    EGBAD, sequential     0.4082 / 0.5943 / 0.4801   equal, AUROC, AUPRC and F1 as floats

Unrolled, the check fails: GANomaly's losses differ from the single run's at the first logged
step (step 20, in the sixth digit; XLA fuses the larger program differently) and the runs drift
apart, to 0.008 AUROC for GANomaly and 0.12 for EGBAD, which at this budget sits near chance
and swings most. Sequential, the check holds exactly for all six runs. (EGBAD's KDD Cup 99
runs unrolled did stay exactly equal, experiments/seeds_kdd99.py.) Time for the three seeds:
GANomaly 840 s unrolled, 668 s sequential; EGBAD 496 s and 330 s, on a CPU shared with other
work, so not a speed comparison (experiments/bench.md has those).
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
