"""Skip-GANomaly on KolektorSDD at 128x128, at the paper's 15 epochs, with training curves, 3
seeds (DED-GAN's rows: experiments/kolektorsdd_128_ded_gan.py).

Command (writes experiments/results/kolektorsdd_128.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/kolektorsdd_128.py

Protocol `mvtec` on the shared KolektorSDD subset (136 good training images, 15 good
validation, 117 test images of which 52 defective; masks from the YOLO polygons), stretched to
128x128 grayscale. Skip-GANomaly at its defaults (64 filters, batch 64, Adam 2e-4 with beta1
0.5, weights 1/40/1, lambda 0.9) for its paper's 15 epochs, 2 full batches each here: 30 updates
(`min_updates=0`; the family's floor of 600 updates would make it 300 epochs). That floor did
not fit the CPU: Skip-GANomaly at 128 px trained 3.7 samples/s on the shared 2-core CPU, 17 s an
update, so 600 updates would take about three hours per run (a run of that setting was stopped
after 20 updates; nothing of it is in the table). Anomaly maps are smoothed with a Gaussian of 2
pixels (the 64 px table's 1 pixel at twice the size). Seeds 0, 1, 2, trained as one `--seeds`
program. Thresholds at the 0.95 quantile of the validation normals.

DED-GAN's rows are in a table of their own, experiments/kolektorsdd_128_ded_gan.py (same split,
size, budget and curves), trained in a later session, one seed after another for memory.

Each run logs its curve every 5 steps (`curve_every=5`): the mean score of the validation
normals (no labels) and, as a diagnostic that selects nothing, the test AUROC; the figure is
`plots/training_curve.png` in the run's folder and the points are in its `metrics.jsonl`. The
reported metrics are those of the last step.

Results (experiments/results/kolektorsdd_128.md; mean +- std over seeds 0, 1, 2): image AUROC
0.561 +- 0.019, AUPRC 0.478 +- 0.009, pixel AUROC 0.653 +- 0.086, PRO 0.145 +- 0.086; the
program took 2,156 s on the 2-core CPU shared with another experiment. The curves
(experiments/results/kolektorsdd_128_curves.png) have not flattened: the validation normals'
mean score falls from 0.21-0.22 at step 5 to 0.042-0.055 at step 30, still falling, and the
diagnostic test AUROC rises from 0.50 to 0.55-0.58 over the last ten steps. At 64 px and 120
updates (experiments/kolektorsdd_encoder_decoder.py) it scored 0.515 +- 0.046; PCA and the
nearest training normal at 64 px score 0.617 and 0.596 (experiments/image_baselines.py). The
paper budget is far too short on a 136-image set to show what the model can do.
"""

from run import Experiment, Run

COMMON = ("image_size=128", "min_updates=0", "map_sigma=2", "curve_every=5")
SEEDS = (0, 1, 2)


def get_config() -> Experiment:
    """Skip-GANomaly, seeds 0-2, 15 epochs (30 updates), with training curves."""
    return Experiment(
        name="kolektorsdd_128",
        runs=tuple(Run("skip-ganomaly", "kolektorsdd", COMMON, seed=s) for s in SEEDS),
        metrics=("auroc", "auprc", "pixel_auroc", "pro"),
    )
