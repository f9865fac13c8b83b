"""GANomaly on full MNIST, one-class-anomalous (one digit is the anomaly; GANomaly paper, Fig. 4).

Command (writes experiments/results/ganomaly_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ganomaly_mnist.py

Shortened training on the 2-core CPU: 1 epoch (about 750 steps at batch 64) instead of the
paper's 15; paper defaults otherwise. Thresholds at the 0.95 quantile of validation normals.
Results: see experiments/results/ganomaly_mnist.md (written by the command above).
"""

from run import Experiment, Run

DIGITS = (0, 3, 9)


def get_config() -> Experiment:
    """Three anomaly digits, seed 0, one epoch each."""
    return Experiment(
        name="ganomaly_mnist",
        runs=tuple(
            Run("ganomaly", "mnist", (f"anomaly_class={d}", "epochs=1"), seed=0) for d in DIGITS
        ),
    )
