"""EGBAD: efficient GAN-based anomaly detection with a BiGAN.

Zenati, Foo, Lecouat, Manek and Chandrasekhar, ICLR workshop 2018, arXiv:1802.06222.

Trained as a BiGAN (see `bigan.py`: E, G and D(x, z), the adversarial loss with swapped labels for
E and G), so a test sample needs one pass through E, G and D instead of AnoGAN's latent search:

    A(x) = (1 - alpha) * ||x - G(E(x))||_1 + alpha * L_D(x),   alpha = `score_weight` = 0.1
    L_D(x) = ||f_D(x, E(x)) - f_D(G(E(x)), E(x))||_1            (head "fm", the default)
    L_D(x) = BCE(D(G(E(x)), E(x)), 1)                           (head "cross_entropy")

f_D is D's last hidden layer. The parts are heads too: "reconstruction", "feature",
"discrimination". The paper writes A = alpha L_G + (1 - alpha) L_D with alpha = 0.9; its code (and
this module) weighs the discrimination term by 0.1, the same thing.

    A_D(x) = BCE(D(x, E(x)), 1) = -log D(x, E(x))               (head "discriminator")

is the score the GAN ensemble's released code gives EGBAD on KDD Cup 99 (Han et al., AAAI 2021,
github.com/tufts-ml/GAN-Ensemble-for-Anomaly-Detection, models/egbad_KDD99.py, `test_epoch`:
`BCELoss(reduction='none')(pred_encoder, 1)`, pred_encoder = D(E(x), x), the sigmoid of D on the
real pair; a pair D takes for a generated one scores high), BiGAN's head of the same name. That
code then min-max scales the mean over the ensemble's pairs by the test set's extremes, which does
not change the ranking and is not done here (it would make the threshold depend on the test set).
Measured on KDD Cup 99 (experiments/ensemble_kdd99.py), this head ranks the anomalies below the
normals (AUROC 0.08-0.24, alone and in ensembles). The orientation is the released code's: there
too the real pair (E(x), x) is labelled 1 in D's loss (`train_epoch`), `normal.` traffic is label
1, the anomaly (dataloader/kdd.py), the features are left unscaled (its MinMaxScaler output is
discarded, as here by default), and its AUROC is sklearn's `roc_curve(labels, scores)` with label
1 positive (models/evaluate.py, `roc`). So the low ranking is not a flipped sign on this side; the
head is reported, never the default.

Defaults are the paper's KDD Cup 99 setting from the released code: latent 32, E 64 units, G 64-128
units, D 128-unit x and z branches and joint layer, LeakyReLU 0.1 in D, dropout 0.2 in D,
Adam(1e-5, beta1 0.5), batch 50. The released code's MNIST setting is latent 200, batch 100,
dropout 0.5 (`--set latent=200 --set batch_size=100 --set dropout=0.5`). Epochs are a
command-line argument of the released code; 50 here (our choice), and at least 2,000 training
steps (`min_updates`, the BiGAN family's minimum, see `bigan.py`; 50 epochs of batch 50 are 100
steps on a table of 100-150 rows).

Deviations, and why:
- images use the DCGAN encoder/decoder/convolution stack (`nn/dcgan.py`, 32x32) instead of the
  paper's 28x28 MNIST networks, so one architecture serves every image data set;
- the tabular E and G are the shared `nn/mlp.py` MLPs: LeakyReLU 0.2 in E (the code: 0.1) and
  Flax's default initialisation (the code: Glorot; D keeps Glorot);
- D and then E/G are updated on one batch (the code draws a second, independently shuffled batch
  for E/G); the data order comes from the trainer's keys;
- scoring uses the trained weights; `--set ema_decay=0.9999` scores with the code's moving average
  of the weights instead (a code-only detail, see `bigan.py`);
- the threshold is a quantile of validation-normal scores, not the top 20 % of test scores (the
  latter is reported only as a labelled oracle metric).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, Scores, State, reconstruction_outputs, register
from ganad_jax.detectors.bigan import (
    TINY,
    BiGANConfig,
    Runner,
    init,
    networks,
    samples,
    train_step,
)


@dataclasses.dataclass(frozen=True)
class EGBADConfig(BiGANConfig):
    """EGBAD hyper-parameters (the paper's KDD Cup 99 defaults); `score_weight` weighs the
    discrimination term of the score (the residual weighs 1 - `score_weight`). See `BiGANConfig`
    for the network fields and the objectives."""

    HEADS: ClassVar[tuple[str, ...]] = (
        "fm",
        "cross_entropy",
        "reconstruction",
        "feature",
        "discrimination",
        "discriminator",
    )

    latent: int = 32
    slope: float = 0.1
    dropout: float = 0.2
    batch_size: int = 50
    epochs: int = 50
    lr: float = 1e-5
    score_weight: float = 0.1
    score_head: str = "fm"


def score(config: EGBADConfig, state: State, x: jnp.ndarray) -> Scores:
    """(1 - w) L1 reconstruction + w feature matching (default) or cross-entropy, w the
    `score_weight`; their parts; D's -log D(x, E(x))."""
    run = Runner.inference(networks(config, x), state)
    z_hat = run("e", x)
    x_hat = run("g", z_hat)
    real_logit, f_real = run("d_xz", x, z_hat)
    fake_logit, f_fake = run("d_xz", x_hat, z_hat)
    reconstruction = losses.l1_sum(x, x_hat)
    feature = losses.l1_sum(f_real, f_fake)
    discrimination = losses.generator_non_saturating(fake_logit)
    a = config.score_weight
    heads = {
        "fm": (1 - a) * reconstruction + a * feature,
        "cross_entropy": (1 - a) * reconstruction + a * discrimination,
        "reconstruction": reconstruction,
        "feature": feature,
        "discrimination": discrimination,
        "discriminator": losses.generator_non_saturating(real_logit),
    }
    return Scores(heads=heads, default=config.score_head, **reconstruction_outputs(x, x_hat))


DETECTOR = register(
    Detector(
        name="egbad",
        config_cls=EGBADConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny=TINY,
        samples=samples,
    )
)
