"""GAN ensemble (Han et al., AAAI 2021) vs the single base model: GANomaly and EGBAD on MNIST.

Command (writes experiments/results/ensemble_mnist.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ensemble_mnist.py

MNIST one-class-anomalous with digit 3 as the anomaly. Each base model alone and as a 3x3 ensemble
in the paper's pair mode (one random generator-discriminator pair per step, so about the cost of
one base step), seeds 0-2. Training shortened on the 2-core CPU to STEPS steps of batch 64 for
every model (the paper: 15 epochs for GANomaly, about 12k steps), so each ensemble pair gets about
a ninth of the base model's updates. GANomaly keeps its paper networks; EGBAD takes the short
image setting of experiments/bigan_family_images.py (width 32, latent 200, dropout 0.5, Adam 2e-4).
Thresholds at the 0.95 quantile of validation normals.

Results: see experiments/results/ensemble_mnist.md.
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
STEPS = 400
VARIANTS = ((), ("ensemble=3x3:pair",))
BASES = (
    ("ganomaly", ()),
    ("egbad", ("features=32", "lr=2e-4", "batch_size=64", "latent=200", "dropout=0.5")),
)


def get_config() -> Experiment:
    """GANomaly and EGBAD, alone and as 3x3 pair-mode ensembles, three seeds each."""
    return Experiment(
        name="ensemble_mnist",
        runs=tuple(
            Run(
                model, "mnist", (*variant, *settings, "anomaly_class=3", f"max_steps={STEPS}"), seed
            )
            for model, settings in BASES
            for variant in VARIANTS
            for seed in SEEDS
        ),
    )
