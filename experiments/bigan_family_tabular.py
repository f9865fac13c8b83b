"""EGBAD, ALAD and CE-BiGAN on KDD Cup 99 (kdd99-dagmm) and Arrhythmia (ODDS), three seeds each.

Command (writes experiments/results/bigan_family_tabular.{md,json}):

    GANAD_DATA_DIR=../shared/data python experiments/run.py experiments/bigan_family_tabular.py

Protocols: kdd99-dagmm (the `normal.` traffic is the anomaly, test anomaly ratio 0.2; features
unscaled, as the released EGBAD/ALAD code leaves them: it fits a MinMaxScaler and discards the
result) and the ODDS Arrhythmia split (66 outliers, test ratio 0.15). Networks are the papers'
(the EGBAD/ALAD code's KDD and Arrhythmia MLPs; EGBAD and CE-BiGAN take ALAD's Arrhythmia sizes,
the EGBAD code has none).

Threshold (no test labels): the 0.99 quantile of the validation normals' scores, chosen from the
protocol's anomaly ratio r so that the expected false positives stay under 5 % of the expected
anomalies, (1 - q)(1 - r) <= 0.05 r: q >= 0.9875 for KDD (r = 0.2), q >= 0.991 for Arrhythmia
(r = 0.146), 0.99 for both (kddcup99's default quantile). The papers' rule (flag the top 20 % /
15 % of test scores, which uses the test set's anomaly count) is the separately labelled column
`oracle.oracle_top_k_f1`.

KDD settings (each 3 seeds):
- EGBAD, the paper's: Adam 1e-5, batch 50, 50 epochs (178k steps; the code takes epochs on its
  command line), 286-431 s of training per run on the shared 2-core CPU. Seed 0's run was made
  with the same command before the experiment and copied in.
- EGBAD and ALAD shortened: 4 epochs at Adam 1e-4 (ALAD keeping its best state on the validation
  normals' mean score, every half epoch, patience 10), 36-90 s per run.
- ALAD at the code's Adam 1e-5 for 11 epochs, about 140 s per run. (This setting was once
  thought to be the code's effective schedule; on a second reading its early stopping does improve
  after the first epoch, and its KDD loader has no validation split, so its KDD epochs are simply
  a command-line argument.)
- With the released code's moving average of the weights at test time (`ema_decay`, 0.9999 for
  EGBAD, 0.999 for ALAD): EGBAD at the paper's settings (317-476 s per run); ALAD at 4 epochs as
  above; ALAD for up to 20 epochs at 1e-4 with the same early stopping (221-353 s per run; seed 0
  stopped after 11 epochs and kept its state after 6, seeds 1 and 2 ran all 20 and kept their
  states after 17 and 15.5) on unscaled features and, separately, on min-max scaled ones; and
  the same 20 epochs on unscaled features without the average (127-203 s per run).
Arrhythmia: 800 epochs (4k steps of batch 32) at Adam 1e-4 instead of 1e-5, ALAD with early
stopping every 40 epochs, patience 10 evaluations.

Results (experiments/results/bigan_family_tabular.md; mean +- sample std over seeds 0-2):

    data        model, setting         AUROC           AUPRC           F1 (q=0.99)     oracle top-k F1
    KDD Cup 99  EGBAD, paper           0.980 +- 0.005  0.893 +- 0.015  0.929 +- 0.004  0.931 +- 0.021
    KDD Cup 99  EGBAD, 4 epochs 1e-4   0.912 +- 0.113  0.813 +- 0.118  0.879 +- 0.072  0.847 +- 0.138
    KDD Cup 99  ALAD, 11 epochs 1e-5   0.820 +- 0.116  0.677 +- 0.116  0.717 +- 0.098  0.590 +- 0.108
    KDD Cup 99  ALAD, 4 epochs 1e-4    0.879 +- 0.099  0.790 +- 0.089  0.830 +- 0.068  0.797 +- 0.119
    KDD Cup 99  ALAD, 20 epochs 1e-4   0.959 +- 0.012  0.888 +- 0.009  0.842 +- 0.069  0.922 +- 0.012
    with the code's moving average of the weights:
    KDD Cup 99  EGBAD, paper           0.981 +- 0.005  0.894 +- 0.015  0.929 +- 0.005  0.933 +- 0.021
    KDD Cup 99  ALAD, 4 epochs 1e-4    0.897 +- 0.071  0.790 +- 0.101  0.766 +- 0.081  0.792 +- 0.165
    KDD Cup 99  ALAD, 20 epochs 1e-4   0.970 +- 0.004  0.900 +- 0.011  0.833 +- 0.057  0.931 +- 0.004
    KDD Cup 99  ALAD, 20 ep., min-max  0.802 +- 0.322  0.693 +- 0.385  0.437 +- 0.306  0.703 +- 0.353
    Arrhythmia  EGBAD                  0.814 +- 0.026  0.546 +- 0.029  0.315 +- 0.113  0.505 +- 0.035
    Arrhythmia  ALAD                   0.796 +- 0.016  0.498 +- 0.024  0.271 +- 0.051  0.485 +- 0.030
    Arrhythmia  CE-BiGAN               0.819 +- 0.005  0.494 +- 0.005  0.200 +- 0.000  0.485 +- 0.000

EGBAD with the paper's settings: precision 0.958, recall 0.901, F1 0.929 +- 0.004 (seeds: 0.926,
0.933, 0.927) against the paper's 0.9200 / 0.9582 / 0.9372 -- just under the issue's 0.93. The
code's moving average of the weights changes nothing (F1 0.925, 0.935, 0.927).

ALAD does not get there. In its short settings the seeds vary widely (AUROC 0.69-0.96), and 100
epochs at 1e-5 (seed 0, early stopping on the validation loss, which kept falling) gave F1 0.61.
Up to 20 epochs at 1e-4 with the moving average steadies it: AUROC 0.967-0.974 and oracle
top-20 % F1 0.931 +- 0.004 (the paper's F1, which uses that rule, is 0.9501). At the validation
threshold its recall is 0.67-0.84 at precision 0.95, so F1 is 0.833 +- 0.057: the 0.99 quantile
of the validation normals lies above many `normal.` test rows. Most of the gain comes from the
longer training: without the average the same 20 epochs give AUROC 0.959 +- 0.012 and oracle F1
0.922 +- 0.012 (F1 0.842 +- 0.069); the average narrows the spread over seeds, and alone (4
epochs) it did not help. The threshold rule was fixed before these runs and is not tuned to them.

Where the validation tail comes from (ALAD seed 1 with the average for 20 epochs and EGBAD seed 0
with the paper's settings, rescored from their run folders by
`GANAD_DATA_DIR=../shared/data python experiments/kdd_validation_tail.py RUN_DIR ...`): all 129 validation rows of the `back` attack (0.65 % of the validation normals) lie
in the top 1 %, with ipsweep and warezclient, so the 0.99 quantile is set by attack types the
models never learn to reconstruct. In the test half those types are the false positives (`back`:
1111 rows each), and ALAD's threshold lies above a third of the `normal.` rows (16267 of 48738
missed), EGBAD's above a tenth (5079).

How much room the target leaves: the best F1 over every test threshold (column
`oracle.oracle_best_f1`, an oracle, added to the table after these runs from their reports) is
0.943 +- 0.010 for EGBAD with the paper's settings (0.945 +- 0.011 with the average) and
0.939 +- 0.006 for ALAD's 20 epochs with the average (0.936 +- 0.009 without). F1 >= 0.93 thus
sits 0.006-0.015 under what a threshold read off the test labels reaches; EGBAD's validation
threshold gives up 0.014 of that, ALAD's 0.106.

With min-max scaled features (this experiment's earlier setting, 4 epochs at 1e-4) EGBAD reached
F1 0.079 +- 0.136 and ALAD 0.622 +- 0.102 at the same threshold: 85 % of the top 1 % of ALAD's
validation scores were rare attack types that the scaled model had not yet learned, which put the
0.99 quantile above half of the `normal.` traffic. Twenty epochs with the moving average do not
cure that (ALAD F1 0.568 and 0.656 at AUROC 0.987 and 0.990), and seed 1 collapsed (AUROC 0.43)
after its first validation.
"""

from run import Experiment, Run

SEEDS = (0, 1, 2)
THRESHOLD = ("threshold_quantile=0.99", "oracle=true")
KDD = ("scaling=none", *THRESHOLD)
SHORT = ("epochs=4", "lr=1e-4")
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
LONG_ALAD = ("epochs=20", "lr=1e-4", "validate_every=1786", "patience=10", "ema_decay=0.999")
SETTINGS = (
    ("egbad", "kddcup99", KDD),
    ("egbad", "kddcup99", (*SHORT, *KDD)),
    ("alad", "kddcup99", ("epochs=11", *KDD)),
    ("alad", "kddcup99", (*SHORT, *KDD, "validate_every=1786", "patience=10")),
    ("egbad", "kddcup99", (*KDD, "ema_decay=0.9999")),
    ("alad", "kddcup99", (*SHORT, *KDD, "validate_every=1786", "patience=10", "ema_decay=0.999")),
    ("alad", "kddcup99", (*LONG_ALAD, *KDD)),
    ("alad", "kddcup99", (*LONG_ALAD[:-1], *KDD)),
    ("alad", "kddcup99", (*LONG_ALAD, "scaling=minmax", *THRESHOLD)),
    ("egbad", "arrhythmia", ARRHYTHMIA),
    ("alad", "arrhythmia", (*ARRHYTHMIA, *ALAD_ARRHYTHMIA)),
    ("ce-bigan", "arrhythmia", ARRHYTHMIA),
)


def get_config() -> Experiment:
    """Every (detector, data, setting) of SETTINGS, three seeds each."""
    return Experiment(
        name="bigan_family_tabular",
        runs=tuple(
            Run(model, data, settings, seed) for model, data, settings in SETTINGS for seed in SEEDS
        ),
        metrics=(
            "auroc",
            "auprc",
            "precision",
            "recall",
            "f1",
            "oracle.oracle_top_k_f1",
            "oracle.oracle_best_f1",
        ),
    )
