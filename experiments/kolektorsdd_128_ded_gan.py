"""DED-GAN on KolektorSDD at 128x128, at the paper's 15 epochs, with training curves, seed 0:
the DED-GAN row of experiments/kolektorsdd_128.py (Skip-GANomaly), in a table of its own.

Command (writes experiments/results/kolektorsdd_128_ded_gan.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/kolektorsdd_128_ded_gan.py

The split, size, budget and curves are kolektorsdd_128.py's (`COMMON`: protocol `mvtec`, 136
good training images, 15 good validation, 117 test images of which 52 defective, 128x128
grayscale, 15 epochs of 2 full batches of 64 = 30 updates with `min_updates=0`, maps smoothed
with a Gaussian of 2 pixels, a curve point every 5 steps). DED-GAN at its defaults otherwise
(GANomaly's optimiser, latent 100, 64 filters) but for `adversarial_ramp_steps=10`: the ramp
of the adversarial weight, w(t) = 1 - exp(-t / T), is a third of the run, as its default
T = 1000 is a third of 15 epochs on a 13,000-image set (`ganad_jax/detectors/ded_gan.py`);
with the default, w would stay below 0.03 for all 30 steps.

One seed: the three seeds in one program did not fit the machine's 24 GiB unrolled (killed for
memory), and one after another (`seed_mapping=sequential`, about 14.5 GiB, as each step then copied
every member's state) they took over an hour; twice they were stopped unfinished, once by the
end of a session, once killed for memory beside another experiment at step 10 of 30. A single
run holds only its own state.

Thresholds at the 0.95 quantile of the validation normals; the reported metrics are those of the
last step; the curves' test AUROC is a diagnostic that selects nothing.

Results (experiments/results/kolektorsdd_128_ded_gan.md; seed 0; the run trained 1,123 s on the
2-core CPU, shared with another experiment): image AUROC 0.486, AUPRC 0.501, pixel AUROC 0.693,
PRO 0.197; the reconstruction head (reported, not selected) 0.511. Its curve
(experiments/results/kolektorsdd_128_ded_gan_curves.png) has not flattened: as the adversarial
weight ramps up, the validation normals' mean score (the distance of the two codes) climbs from
0.19 at step 5 to 1.91 at step 25 and 1.95 at step 30, and the diagnostic test AUROC goes 0.49,
0.55, 0.56, 0.53, 0.52, 0.49. Its first curve point equals the step-5 point of the interrupted
sequential run of the same seed to every digit (0.19038847, 0.48905), as a member must equal
its single run. Thirty updates are far too few for this model on a 136-image set: at 64 px and
features 32 with 120 updates (experiments/kolektorsdd_encoder_decoder.py) DED-GAN scored 0.572
+- 0.028 over three seeds; PCA and the nearest training normal at 64 px score 0.617 and 0.596
(experiments/image_baselines.py).
"""

from kolektorsdd_128 import COMMON
from run import Experiment, Run

SETTINGS = (*COMMON, "adversarial_ramp_steps=10")


def get_config() -> Experiment:
    """DED-GAN, seed 0, 15 epochs (30 updates), with training curves."""
    return Experiment(
        name="kolektorsdd_128_ded_gan",
        runs=(Run("ded-gan", "kolektorsdd", SETTINGS, seed=0),),
        metrics=("auroc", "auprc", "pixel_auroc", "pro"),
    )
