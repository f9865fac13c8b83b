"""GAN ensemble (Han et al., AAAI 2021) vs the single base model: EGBAD on KDD Cup 99.

Command (writes experiments/results/ensemble_kdd99.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/ensemble_kdd99.py

Protocol kdd99-dagmm (the `normal.` traffic is the anomaly). EGBAD alone, a 3x3 ensemble in the
paper's pair mode (one random generator-discriminator pair per step) and a 3x3 ensemble in the
all-pairs mode (every pair every step), seeds 0-2. Training shortened on the 2-core CPU to 2000
steps of batch 50 (the paper: 50 epochs, about 200k steps); paper defaults otherwise. GANomaly takes
images only, so it is not run here. Thresholds at the 0.95 quantile of validation normals.
Results (experiments/results/ensemble_kdd99.md; mean +- std over seeds 0-2, shared 2-core CPU):

    EGBAD alone         AUROC 0.134 +- 0.130  AUPRC 0.129 +- 0.019  F1 0.030 +- 0.032
    3x3 ensemble, pair  AUROC 0.047 +- 0.020  AUPRC 0.114 +- 0.004  F1 0.020 +- 0.011
    3x3 ensemble, all   AUROC 0.019 +- 0.016  AUPRC 0.107 +- 0.000  F1 0.000 +- 0.000

These do not reproduce the paper: at 2000 steps the base EGBAD's default score ranks the anomalies
(`normal.` traffic) *below* the normal class (AUROC far under 0.5, for the single model as for the
ensembles), so the base model, not the ensemble, is what needs fixing or longer training before
an ensemble comparison means anything; the ensembles do not improve on it here.
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
VARIANTS = ((), ("ensemble=3x3:pair",), ("ensemble=3x3:all",))


def get_config() -> Experiment:
    """EGBAD alone and as two 3x3 ensembles, three seeds each."""
    return Experiment(
        name="ensemble_kdd99",
        runs=tuple(
            Run("egbad", "kddcup99", (*variant, "max_steps=2000"), seed=seed)
            for seed in SEEDS
            for variant in VARIANTS
        ),
        metrics=("auroc", "auprc", "f1"),
    )
