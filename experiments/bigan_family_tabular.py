"""EGBAD, ALAD and CE-BiGAN on KDD Cup 99 (kdd99-dagmm) and Arrhythmia (ODDS), three seeds each.

Command (writes experiments/results/bigan_family_tabular.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/bigan_family_tabular.py

Protocols: kdd99-dagmm (the `normal.` traffic is the anomaly, test anomaly ratio 0.2) and the ODDS
Arrhythmia split (66 outliers, test ratio 0.15). Networks are the papers' (the EGBAD/ALAD code's
KDD and Arrhythmia MLPs; EGBAD and CE-BiGAN take ALAD's Arrhythmia sizes, the EGBAD code has none).

Threshold (no test labels): the 0.99 quantile of the validation normals' scores, chosen from the
protocol's anomaly ratio r so that the expected false positives stay under 5 % of the expected
anomalies, (1 - q)(1 - r) <= 0.05 r: q >= 0.9875 for KDD (r = 0.2), q >= 0.991 for Arrhythmia
(r = 0.146), 0.99 for both. The papers' rule (flag the top 20 % / 15 % of test scores, which uses
the test set's anomaly count) is the separately labelled column `oracle.oracle_top_k_f1`.

Training shortened on the 2-core CPU (shared with other jobs): KDD 4 epochs (14.3k steps of batch
50; the released code takes the epoch count on its command line, our default is 50), Arrhythmia
800 epochs (4k steps of batch 32); to make up for the shorter training the learning rate is 1e-4
instead of the papers' 1e-5, chosen on the validation normals' reconstruction and ALAD score
(lower after 12k KDD steps at 1e-4), never on test. ALAD keeps its best state on the validation
normals' mean score (early stopping, evaluated
every half epoch on KDD, every 40 epochs on Arrhythmia, patience 10 evaluations).

Results (experiments/results/bigan_family_tabular.md; mean +- sample std over seeds 0-2; training
15-90 s per run on the shared CPU, about 13 min for all 15 runs with data loading and scoring):

    data        model     AUROC          AUPRC          F1 (q=0.99)    oracle top-k F1
    KDD Cup 99  EGBAD     0.862 +- 0.085  0.519 +- 0.177  0.079 +- 0.136  0.489 +- 0.347
    KDD Cup 99  ALAD      0.988 +- 0.002  0.898 +- 0.026  0.622 +- 0.102  0.906 +- 0.007
    Arrhythmia  EGBAD     0.814 +- 0.026  0.546 +- 0.029  0.315 +- 0.113  0.505 +- 0.035
    Arrhythmia  ALAD      0.796 +- 0.016  0.498 +- 0.024  0.271 +- 0.051  0.485 +- 0.030
    Arrhythmia  CE-BiGAN  0.819 +- 0.005  0.494 +- 0.005  0.200 +- 0.000  0.485 +- 0.000

Not reached: the issue's F1 >= 0.93 on KDD Cup 99 (the EGBAD paper: 0.9372 with the top-20 %
rule, on the features unscaled as its released code leaves them; here min-max scaled, the
kdd99-dagmm protocol's default). ALAD's precision at the threshold is 0.92 but its recall 0.47:
85 % of the top 1 % of its validation scores (seed 0) are rare attack types (back, warezclient,
portsweep, satan, ...; about 2 % of the training rows) that 4 epochs do not yet model, so the
0.99 quantile lies above half of the `normal.` traffic. ALAD's validation loss was still falling
at the last evaluation (8.9 -> 2.4 over 8 evaluations, seed 0), so longer training (the papers'
tens of epochs) is the next thing to try. EGBAD's reconstructions after 4 epochs are worse than
predicting the training mean (validation L1 9.4 against 6.7, seed 0), which is why its scores do
not separate at a validation threshold.
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
THRESHOLD = ("threshold_quantile=0.99", "oracle=true")
KDD = ("epochs=4", "lr=1e-4", "scaling=none", *THRESHOLD)
ARRHYTHMIA = (
    "epochs=800",
    "lr=1e-4",
    "batch_size=32",
    "latent=64",
    "encoder_widths=256,128",
    "generator_widths=128,256",
    *THRESHOLD,
)
ALAD_ARRHYTHMIA = ("xx_widths=256,128", "zz_widths=64,32", "validate_every=200", "patience=10")
SETTINGS = (
    ("egbad", "kddcup99", KDD),
    ("alad", "kddcup99", (*KDD, "validate_every=1786", "patience=10")),
    ("egbad", "arrhythmia", ARRHYTHMIA),
    ("alad", "arrhythmia", (*ARRHYTHMIA, *ALAD_ARRHYTHMIA)),
    ("ce-bigan", "arrhythmia", ARRHYTHMIA),
)


def get_config() -> Experiment:
    """Five (detector, data) settings, three seeds each."""
    return Experiment(
        name="bigan_family_tabular",
        runs=tuple(
            Run(model, data, settings, seed) for model, data, settings in SETTINGS for seed in SEEDS
        ),
        metrics=("auroc", "auprc", "precision", "recall", "f1", "oracle.oracle_top_k_f1"),
    )
