"""AnoGAN on KolektorSDD surface defects: image AUROC and pixel AUROC of |x - G(z*)| vs the masks.

Command (writes experiments/results/anogan_kolektorsdd.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/anogan_kolektorsdd.py

The shared KolektorSDD subset (216 good, 52 defective) stretched to 64x64 grayscale (the paper's
size): 136 good images train, 15 validate, the test set holds 65 good and 52 defective images.
Shortened for the 2-core CPU: 32 base features instead of 64 and 300 epochs of 2 DCGAN steps
(batch 64; 600 steps; `min_updates=0` keeps them, AnoGAN's minimum of updates would make 2,000);
the latent search uses the paper's 500 steps and lambda 0.1. Thresholds at the 0.95 quantile of
validation normals.
Results (experiments/results/anogan_kolektorsdd.md; seed 0, 2-core CPU shared with other jobs):
image AUROC 0.5683, AUPRC 0.5331, F1 0.1053; pixel AUROC 0.8354, PRO 0.5850 (295 s of training,
9 min in all with the 132 searches of 500 steps). Close to chance at image level: 136 training
images and 600 DCGAN steps are not enough for a generator of this texture.
"""

from run import Experiment, Run


def get_config() -> Experiment:
    """One run, seed 0."""
    settings = ("image_size=64", "features=32", "batch_size=64", "epochs=300", "min_updates=0")
    return Experiment(
        name="anogan_kolektorsdd",
        runs=(Run("anogan", "kolektorsdd", settings, seed=0),),
        metrics=("auroc", "auprc", "f1", "pixel_auroc"),
    )
