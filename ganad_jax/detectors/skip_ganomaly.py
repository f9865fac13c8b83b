"""Skip-GANomaly: skip-connected and adversarially trained encoder-decoder anomaly detection.

Akcay, Atapour-Abarghouei and Breckon, IJCNN 2019, arXiv:1901.08954.

Generator G: the pix2pix U-Net of the released code (`UnetGenerator` in `lib/models/networks.py`,
`nn/unet.py`), x' = G(x). Discriminator D: the released `BasicDiscriminator` (same file,
`nn/dcgan.py`'s `CodeDiscriminator`): the DCGAN encoder down to a `latent`-channel (100) 1x1 code
f, the features of the latent loss and of the score, then a 3x3 convolution of f to D's logit.

    L_G = w_adv * BCE(D(x'), 1) + w_con * ||x - x'||_1 + w_lat * ||f(x) - f(x')||_2^2
    L_D = BCE(D(x), 1) / 2 + BCE(D(x'), 0) / 2 (+ w_dlat * ||f(x) - f(x')||_2^2, w_dlat = 0)
    A(x) = lambda * R(x) + (1 - lambda) * L(x),   R = ||x - x'||_2^2,  L = ||f(x) - f(x')||_2^2

(score heads "reconstruction" R, "latent" L and "combined" A, the default; anomaly map |x - x'|).
`score_weight` is 1 - lambda, the weight of L (the discriminator-side part, as every detector's
score weight). Defaults are the paper's: w_adv = 1, w_con = 40, w_lat = 1, lambda = 0.9
(`score_weight` 0.1), Adam(2e-4, beta1 0.5), batch 64, 32x32 images, 15 epochs; the released
code uses w_con = 50 (`--set loss_weights.g.contextual=50`).
At least 600 training steps (`min_updates`, GANomaly's minimum, see `ganomaly.py`): on KolektorSDD
the defaults' 15 epochs are 30 steps.

The released code's choices this module keeps: D's features are the 1x1 code, the output of its
last convolution before the classifier (`forward` of `BasicDiscriminator` returns it as `feat`;
`backward_g` and `test` in `lib/models/skipganomaly.py` take their squared distance); the U-Net's
layer order, biases and activations are pix2pix's (`UnetSkipConnectionBlock`, see `nn/unet.py`),
without dropout (`define_G(..., use_dropout=False)`).

Options, off by default because the paper's objective does not have them:
- D's term "latent" (weight 0): the released `backward_d` adds the generator's latent loss to
  D's, `err_d = err_d_real + err_d_fake + err_g_lat` with `err_g_lat = w_lat * l2_loss(feat_fake,
  feat_real)` (D before its update, on x and the pre-update reconstruction), so D also pulls the
  two codes together. Its cross-entropies are summed there, not averaged: the released D loss is
  `--set loss_weights.d.adversarial=2 --set loss_weights.d.latent=1` (w_lat = 1);
- `reinit_d_below`: the released `update_netd` re-initialises D when `err_d < 1e-5`
  (`--set reinit_d_below=1e-5`, see `ganomaly_family.py`).

Deviations from the paper and the released code, and why:
- R and L are mean squared distances, as the released code computes them (the paper writes an L1
  and an L2 norm); the norms are per-pixel / per-feature means so lambda weighs comparable scales;
- the adversarial term is the non-saturating BCE(D(x'), 1), the released code's form of the
  paper's min-max objective; D gives logits to a cross-entropy on logits where the released code
  gives sigmoid probabilities to BCELoss (the same loss, without the probabilities' rounding);
- G's input is x: the released `forward_g` feeds x + noise, where `noise` is a buffer that
  `set_input(..., noise=False)` never fills (it stays `torch.empty`'s uninitialised memory);
- the released code min-max normalises scores over the test set and keeps the epoch with the best
  test AUROC; neither is done (both use test data): the last epoch is scored;
- scoring runs BatchNorm in inference mode, so a score does not depend on the batch;
- BatchNorm scales start at 1, where the released `weights_init` draws N(1, 0.02) (as for
  GANomaly, see `ganomaly.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, Scores, State, register
from ganad_jax.detectors.ganomaly_family import (
    TINY,
    FamilyConfig,
    Tensors,
    cross_entropy_terms,
    generator_discriminator_step,
    generator_inference,
    init_networks,
    map_scores,
)
from ganad_jax.nn import apply
from ganad_jax.nn.dcgan import CodeDiscriminator
from ganad_jax.nn.unet import UNet


@dataclasses.dataclass(frozen=True)
class SkipGANomalyConfig(FamilyConfig):
    """Skip-GANomaly hyper-parameters (paper defaults; the shared fields are `FamilyConfig`'s).

    The generator's terms ("g") are "adversarial", "contextual" and "latent" (weights 1, 40, 1);
    its extra terms read x, x_hat, logit_real, f_real, logit_fake, f_fake. D's ("d") are "latent"
    (the released code's latent loss in D's objective, weight 0: off) and "adversarial" (1).
    `latent` is the width of D's 1x1 code, the features (the released `nz`, 100).
    `score_weight` is the weight of the latent head in the combined score, 1 - the paper's lambda.
    """

    HEADS: ClassVar[tuple[str, ...]] = ("combined", "reconstruction", "latent")
    GENERATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {
        "adversarial": 1.0,
        "contextual": 40.0,
        "latent": 1.0,
    }
    DISCRIMINATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {"latent": 0.0, "adversarial": 1.0}

    latent: int = 100
    score_weight: float = 0.1
    score_head: str = "combined"


def networks(config: SkipGANomalyConfig, x: jnp.ndarray) -> tuple[UNet, CodeDiscriminator]:
    return UNet(x.shape[-1], config.features), CodeDiscriminator(config.latent, config.features)


def init(config: SkipGANomalyConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise the U-Net and D (DCGAN N(0, 0.02) weights) and their Adam states."""
    return init_networks(config, key, sample_batch, *networks(config, sample_batch))


def _generator_terms(tensors: Tensors) -> dict[str, jnp.ndarray]:
    return {
        "adversarial": losses.generator_non_saturating(tensors["logit_fake"]),
        "contextual": losses.l1_mean(tensors["x"], tensors["x_hat"]),
        "latent": losses.feature_matching(tensors["f_real"], tensors["f_fake"]),
    }


def _discriminator_terms(tensors: Tensors) -> dict[str, jnp.ndarray]:
    return {
        **cross_entropy_terms(tensors),
        "latent": losses.feature_matching(tensors["f_real"], tensors["f_fake"]),
    }


def train_step(
    config: SkipGANomalyConfig, state: State, x: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One U-Net update, then one D update on the pre-update reconstruction."""
    return generator_discriminator_step(
        config,
        state,
        x,
        key,
        *networks(config, x),
        output_names=("x_hat",),
        generator_terms=_generator_terms,
        discriminator_terms=_discriminator_terms,
    )


def score(config: SkipGANomalyConfig, state: State, x: jnp.ndarray) -> Scores:
    """lambda * reconstruction + (1 - lambda) * D-feature distance (default), both heads; map."""
    generator, discriminator = networks(config, x)
    x_hat = generator_inference(generator, state, x)
    d_params, d_stats = state.params["d"], state.batch_stats["d"]
    (_, f_real), _ = apply(discriminator, d_params, d_stats, x, train=False)
    (_, f_fake), _ = apply(discriminator, d_params, d_stats, x_hat, train=False)
    reconstruction = losses.l2_mean(x, x_hat)
    latent = losses.feature_matching(f_real, f_fake)
    w = config.score_weight
    combined = (1.0 - w) * reconstruction + w * latent
    heads = {"combined": combined, "reconstruction": reconstruction, "latent": latent}
    return map_scores(config, x, x_hat, heads)


DETECTOR = register(
    Detector(
        name="skip-ganomaly",
        config_cls=SkipGANomalyConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny={**TINY, "latent": 8},
    )
)
