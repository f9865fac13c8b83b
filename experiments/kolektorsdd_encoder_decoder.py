"""GANomaly, Skip-GANomaly and DED-GAN on KolektorSDD: image AUROC and pixel metrics, 3 seeds.

Command (writes experiments/results/kolektorsdd_encoder_decoder.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/kolektorsdd_encoder_decoder.py

Protocol `mvtec` on the shared KolektorSDD subset (268 images: 136 good train, 15 good
validation, 65 good + 52 defective test; masks from the YOLO polygons), images stretched to 64x64
grayscale. Shortened for the 2-core CPU: features 32 (paper: 64), batch 16, 15 epochs (the
papers' count; 8 steps each, 120 steps); maps smoothed with a Gaussian of sigma 1 pixel for all
three; DED-GAN's adversarial ramp 40 steps (a third of the run); `min_updates=0` keeps the 120
steps the table was made with (the family's minimum of updates would raise them to 600).
Thresholds: 0.95 quantile of the validation normals. Image AUROC uses each detector's default head (GANomaly and DED-GAN: latent
code distance; Skip-GANomaly: 0.9 reconstruction + 0.1 D-feature distance).

Measured with Skip-GANomaly's networks before issue 16's fixes (the DCGAN discriminator with 4x4
features, the U-Net without pix2pix's ReLU on its concatenations; the GANomaly and DED-GAN rows'
networks are unchanged); commit 0e24fc8. The current defaults differ, so these numbers are not what
the command gives today; rerunning it replaces them.

Results (experiments/results/kolektorsdd_encoder_decoder.md; mean +- std over seeds 0, 1, 2):

| model | image AUROC | AUPRC | pixel AUROC | PRO (FPR <= 0.3) |
|---|---|---|---|---|
| ganomaly | 0.562 +- 0.031 | 0.517 +- 0.035 | 0.833 +- 0.007 | 0.512 +- 0.016 |
| skip-ganomaly | 0.562 +- 0.020 | 0.550 +- 0.043 | 0.758 +- 0.040 | 0.416 +- 0.042 |
| ded-gan | 0.546 +- 0.035 | 0.493 +- 0.022 | 0.785 +- 0.019 | 0.432 +- 0.033 |

Training took 54-278 s wall per run (1,574 s for all nine) on the shared 2-core CPU at a load
average of 13-17 (other developers' jobs), so wall times overstate the CPU time several-fold.
After 120 steps no detector separates defective from good images well (image AUROC 0.55-0.56,
near chance with 117 test images); the residual maps localise better than chance. The U-Net's
skips let Skip-GANomaly reconstruct the cracks themselves (visible in its runs'
plots/examples.png), which lowers its pixel metrics. No paper number is reached or claimed: the
papers train far longer at larger sizes, and the DED-GAN paper was not available to compare with.
"""

from run import Experiment, Run

COMMON = (
    "image_size=64",
    "features=32",
    "batch_size=16",
    "epochs=15",
    "map_sigma=1",
    "min_updates=0",
)
MODELS = {
    "ganomaly": COMMON,
    "skip-ganomaly": COMMON,
    "ded-gan": (*COMMON, "adversarial_ramp_steps=40"),
}
SEEDS = (0, 1, 2)


def get_config() -> Experiment:
    """Three detectors x three seeds."""
    return Experiment(
        name="kolektorsdd_encoder_decoder",
        runs=tuple(
            Run(model, "kolektorsdd", settings, seed=seed)
            for model, settings in MODELS.items()
            for seed in SEEDS
        ),
        metrics=("auroc", "auprc", "pixel_auroc", "pro"),
    )
