"""MAD-GAN under SKAB's own leaderboard protocol (`ganad train mad-gan --data skab`), three seeds,
with and without PCA of the sensors, beside the two baselines every such run reports (PCA residual,
the Q statistic, and the distance to the nearest training window).

Command (writes experiments/results/mad_gan_skab_leaderboard.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/mad_gan_skab_leaderboard.py

Protocol (SKAB's leaderboard): for each of the 34 labelled files, one model fitted on its first
400 rows (standard scaling fitted there), tested on the rest; each file's threshold is the 0.99
quantile of the scores of its own training points (no test data); F1, false-alarm rate (FAR) and
missed-alarm rate (MAR) over all test points of all files, AUROC/AUPRC of the pooled scores. A
point's score is the mean, over the test windows covering it (every 10 points), of the DR map at
that time step. `oracle.oracle_point_adjusted_f1` looks at test labels and is never used for
choices.

Shortened for the 2-core CPU: batch 64 instead of 500 (a 400-row file gives 371 windows of 30),
EPOCHS epochs (5 steps each) instead of 100, INVERSION RMSProp inversion steps; paper sizes
otherwise (latent 15, one LSTM layer of 100 units in G and D, window 30, lambda 0.8).

Rows: each seed without and with `pca_components=5` (PCA_COMPONENTS: the released code's count
for SWaT; scaled sensors projected onto 5 principal axes of each file's 400 training rows). Both
baselines are in every report, on the model's input features (so, in the PCA rows, on the 5
components): PCA Q (residual off the axes keeping 90 % of the training variance) and window NN
(a window's distance to the nearest training window; its threshold reference, the file's own
training windows, uses leave-one-out distances to the training windows not overlapping them).

Results (mean +- sample std over seeds 0-2; rerun 2026-12-03 on the code of issue 18, training
683-752 s per seed without PCA and 928-1514 s with it, for all 34 files, on the 2-core CPU shared
with other experiments; experiments/results/mad_gan_skab_leaderboard.md holds every row):

    method                          F1              FAR             MAR             AUROC
    MAD-GAN (DR-score)              0.759 +- 0.004  0.331 +- 0.009  0.213 +- 0.004  0.791 +- 0.001
    MAD-GAN, pca_components=5       0.708 +- 0.010  0.206 +- 0.011  0.355 +- 0.015  0.774 +- 0.004
    PCA Q (same protocol)           0.594           0.317           0.461           0.650
    PCA Q, on the 5 components      0.606           0.171           0.501           0.722
    window NN (same)                0.766           0.584           0.066           0.806
    window NN, on the 5 components  0.764           0.429           0.152           0.804
    published: Conv-AE and MSET 0.78, T-squared+Q (PCA) 0.76, LSTM-AE 0.74 (F1; SKAB leaderboard,
    outlier detection, as quoted in issue 8)

With the released code's PCA (5 components, here fitted on each file's 400 training rows) MAD-GAN
raises fewer false alarms (FAR 0.206 against 0.331) and misses more (MAR 0.355 against 0.213):
F1 0.708 and AUROC 0.774, both below the run on all 8 sensors, though its oracle point-adjusted F1
is higher (0.906 +- 0.008 against 0.875 +- 0.003; an oracle, selects nothing). The projection
helps the PCA Q baseline (AUROC 0.722 against 0.650) and leaves the window NN baseline as it was.
PCA was specified in advance as the released code's choice for SWaT, not tuned here.

On all 8 sensors MAD-GAN lands between LSTM-AE and T-squared+Q and does not beat the leaderboard's best 0.78; it
adds 0.16 F1 over our PCA Q baseline (Q only, not SKAB's T-squared+Q), but the nearest training
window, with no model at all, scores a higher F1 (0.766, at a false-alarm rate of 0.584) and
AUROC (0.806): at this training budget MAD-GAN does not beat a distance to the training windows.
The oracle point-adjusted F1 is 0.875 +- 0.003. The record before this rerun (commit b4f2c7e,
F1 0.752 +- 0.004, FAR 0.344, MAR 0.219, AUROC 0.789) was made with older MAD-GAN and training
code; the data are bit-identical (checked against the loader before the PCA option), the PCA Q
numbers equal, and the MAD-GAN difference comes from the code changed since. Tried before, 30
training steps per file with min-max scaling and 20 inversion steps: F1 0.681 +- 0.020 (FAR 0.223,
MAR 0.384). Not tried for lack of CPU time: the paper's 100 epochs at batch 500 (a file has only
371 windows), more inversion steps, other quantiles (the threshold rule was fixed beforehand and
never tuned on test).
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
EPOCHS = 40
INVERSION = 50
PCA_COMPONENTS = 5
"""The released code's count for SWaT ("the best PC dimension is chosen pc=5"), of 8 sensors."""
SETTINGS = (
    "window=30",
    "step=10",
    "batch_size=64",
    f"epochs={EPOCHS}",
    f"inversion_steps={INVERSION}",
    "threshold_quantile=0.99",
    "oracle=true",
)


def get_config() -> Experiment:
    """MAD-GAN on the SKAB leaderboard, three seeds, without and with PCA of the sensors."""
    return Experiment(
        name="mad_gan_skab_leaderboard",
        runs=tuple(
            Run("mad-gan", "skab", settings, seed)
            for settings in (SETTINGS, (*SETTINGS, f"pca_components={PCA_COMPONENTS}"))
            for seed in SEEDS
        ),
        metrics=(
            "f1",
            "far",
            "mar",
            "auroc",
            "auprc",
            "baseline.pca_q.f1",
            "baseline.pca_q.far",
            "baseline.pca_q.mar",
            "baseline.pca_q.auroc",
            "baseline.window_nn.f1",
            "baseline.window_nn.far",
            "baseline.window_nn.mar",
            "baseline.window_nn.auroc",
            "oracle.oracle_point_adjusted_f1",
        ),
    )
