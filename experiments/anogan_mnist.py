"""AnoGAN on MNIST digits, one-class-anomalous (one digit is the anomaly, the nine others normal).

Command (writes experiments/results/anogan_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/anogan_mnist.py

Shortened for the 2-core CPU: the 5,000 real digits of `mnist-embedded` (train 3,233 normals,
validation 359, test 1,408) instead of full MNIST, whose 21,331 validation and test images would
each need their own latent search; 32x32 images, 32 base features instead of 64, batch 64,
20 epochs (about 1,000 DCGAN steps), and 100 search steps per scored image instead of the paper's
500. Paper defaults otherwise (lambda 0.1, latent 100). Thresholds at the 0.95 quantile of
validation normals.
Results: see experiments/results/anogan_mnist.md (written by the command above).
"""

from run import Experiment, Run

DIGITS = (0, 3)
SETTINGS = (
    "image_size=32",
    "features=32",
    "batch_size=64",
    "epochs=20",
    "search_steps=100",
)


def get_config() -> Experiment:
    """Two anomaly digits, seed 0."""
    return Experiment(
        name="anogan_mnist",
        runs=tuple(
            Run("anogan", "mnist-embedded", (f"anomaly_class={d}", *SETTINGS), seed=0)
            for d in DIGITS
        ),
    )
