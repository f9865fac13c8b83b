"""AnoGAN on MNIST digits, one-class-anomalous (one digit is the anomaly, the nine others normal).

Command (writes experiments/results/anogan_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/anogan_mnist.py

Shortened for the 2-core CPU: the 5,000 real digits of `mnist-embedded` (train 3,233 normals,
validation 359, test 1,408) instead of full MNIST, whose 21,331 validation and test images would
each need their own latent search; 32x32 images, 32 base features instead of 64, batch 64,
20 epochs (about 1,000 DCGAN steps; `min_updates=0` keeps them, AnoGAN's minimum of updates
would make 2,000), and 100 search steps per scored image instead of the paper's 500. Paper
defaults otherwise (lambda 0.1, latent 100). Thresholds at the 0.95 quantile of validation
normals.
Results (experiments/results/anogan_mnist.md; seed 0, 2-core CPU shared with other jobs, load 4-8):
digit 0 anomalous AUROC 0.8458, AUPRC 0.7519, F1 0.6221 (71 s training; heads: residual 0.8540,
discrimination 0.8191); digit 3 AUROC 0.8333, AUPRC 0.6825, F1 0.4774 (106 s); mean AUROC 0.8396.
Each run took 2.5-4 min in all, most of it the 1,767 searches of validation and test.
"""

from run import Experiment, Run

DIGITS = (0, 3)
SETTINGS = (
    "image_size=32",
    "features=32",
    "batch_size=64",
    "epochs=20",
    "search_steps=100",
    "min_updates=0",
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
