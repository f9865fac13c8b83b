"""DED-GAN on KolektorSDD at 128x128, at the paper's 15 epochs, with training curves, 3 seeds:
the DED-GAN rows of experiments/kolektorsdd_128.py (Skip-GANomaly), in a table of their own.

Command (writes experiments/results/kolektorsdd_128_ded_gan.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/kolektorsdd_128_ded_gan.py

The split, size, budget and curves are kolektorsdd_128.py's (`COMMON`: protocol `mvtec`, 136
good training images, 15 good validation, 117 test images of which 52 defective, 128x128
grayscale, 15 epochs of 2 full batches of 64 = 30 updates with `min_updates=0`, maps smoothed
with a Gaussian of 2 pixels, a curve point every 5 steps). DED-GAN at its defaults otherwise
(GANomaly's optimiser, latent 100, 64 filters) but for two settings:

- `adversarial_ramp_steps=10`: the ramp of the adversarial weight, w(t) = 1 - exp(-t / T), is a
  third of the run, as its default T = 1000 is a third of 15 epochs on a 13,000-image set
  (`ganad_jax/detectors/ded_gan.py`); with the default, w would stay below 0.03 for all 30 steps;
- `seed_mapping=sequential`: the three seeds are trained one after another in one program, each
  by its own compiled step, because the three unrolled in one step needed more than the 24 GiB of
  the 2-core CPU machine (killed for memory); sequential runs hold about 14.5 GiB. It changes no
  number (each member is the run of `--seed s`).

Thresholds at the 0.95 quantile of the validation normals; the reported metrics are those of the
last step; the curves' test AUROC is a diagnostic that selects nothing.

Results: not yet run to the end.
"""

from kolektorsdd_128 import COMMON, SEEDS
from run import Experiment, Run

SETTINGS = (*COMMON, "adversarial_ramp_steps=10", "seed_mapping=sequential")


def get_config() -> Experiment:
    """DED-GAN, seeds 0-2, 15 epochs (30 updates), with training curves."""
    return Experiment(
        name="kolektorsdd_128_ded_gan",
        runs=tuple(Run("ded-gan", "kolektorsdd", SETTINGS, seed=s) for s in SEEDS),
        metrics=("auroc", "auprc", "pixel_auroc", "pro"),
    )
