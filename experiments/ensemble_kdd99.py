"""GAN ensemble (Han et al., AAAI 2021) vs the single base model: EGBAD on KDD Cup 99.

Command (writes experiments/results/ensemble_kdd99.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ensemble_kdd99.py

Protocol kdd99-dagmm (the `normal.` traffic is the anomaly), features unscaled as the released
EGBAD/ALAD code leaves them. EGBAD alone and as a 3x3 ensemble in the paper's pair mode (one random
generator-discriminator pair per step), seeds 0-2, with the KDD setting of
experiments/bigan_family_tabular.py: 4 epochs (14.3k steps of batch 50) at Adam 1e-4, so each
ensemble pair gets about a ninth of the base model's updates. GANomaly takes images only, so it
is compared on MNIST (experiments/ensemble_mnist.py). Thresholds at the 0.99 quantile of
validation normals (the reasoning is in experiments/bigan_family_tabular.py); the papers' top-20 %
rule is the separately labelled oracle column.

Results: see experiments/results/ensemble_kdd99.md.
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
VARIANTS = ((), ("ensemble=3x3:pair",))
KDD = ("epochs=4", "lr=1e-4", "scaling=none", "threshold_quantile=0.99", "oracle=true")


def get_config() -> Experiment:
    """EGBAD alone and as a 3x3 pair-mode ensemble, three seeds each."""
    return Experiment(
        name="ensemble_kdd99",
        runs=tuple(
            Run("egbad", "kddcup99", (*variant, *KDD), seed=seed)
            for variant in VARIANTS
            for seed in SEEDS
        ),
        metrics=("auroc", "auprc", "precision", "recall", "f1", "oracle.oracle_top_k_f1"),
    )
