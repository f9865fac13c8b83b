"""Consistency-ensured BiGAN (CE-BiGAN) for anomaly detection.

Komoto, Aizawa and Kato, IW-FCV 2020 (Frontiers of Computer Vision, CCIS 1212),
doi:10.1007/978-981-15-4818-5_18.

A BiGAN (E, G and D(x, z); see `bigan.py`) with two changes: a consistency loss that ties the
mutual mappings together, E(G(z)) to z and G(E(x)) to x, and a projection discriminator in place
of BiGAN's concatenating one, conditioning on the latent code by an inner product:

    D(x, z)   = psi(phi(x)) + <V z, phi(x)>
    L_D       = BCE(D(x, E(x)), 1) / 2 + BCE(D(G(z), z), 0) / 2
    L_EG      = BCE(D(G(z), z), 1) / 2 + BCE(D(x, E(x)), 0) / 2
                + w_x * |x - G(E(x))|_1 + w_z * |z - E(G(z))|_1         (means over elements)
    A(x)      = (1 - w) * ||x - G(E(x))||_1 + w * ||phi(x) - phi(G(E(x)))||_1     (w: `score_weight`)

The "additional encoder and generator" of the method are E and G applied a second time (to G(z)
and to E(x)), with shared weights: the consistency loss exists to make these two networks each
other's inverse, which separate copies would not do.

Choices where the paper is silent (all config fields):
- the "eg" objective's weights {"adversarial": 1, "consistency_x": 1, "consistency_z": 1}
  (`loss_weights`): equal weights, consistency as mean absolute errors (L1, as the
  reconstruction score);
- the anomaly score is EGBAD's (`egbad.py`): `score_weight` 0.1, feature matching on the
  discriminator's image features phi (head "fm", default), or the cross-entropy variant; the
  parts are heads too;
- optimiser and sizes are BiGAN's (Adam(2e-4, beta1 0.5), batch 128, latent 50) with the DCGAN
  networks for images and the EGBAD/ALAD tabular MLPs for rows; 100 epochs and at least 2,000
  training steps (`min_updates`, the family's minimum, see `bigan.py`);
- no spectral normalisation (Miyato and Koyama pair the projection discriminator with it; the
  paper does not say; `optimizers` and the network fields stay open to such changes).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, register
from ganad_jax.detectors.bigan import (
    TINY,
    BiGANConfig,
    Runner,
    Terms,
    bigan_tensors,
    discriminator_terms,
    init,
    networks,
    samples,
    train_step_for,
)
from ganad_jax.detectors.egbad import EGBADConfig, score


@dataclasses.dataclass(frozen=True)
class CEBiGANConfig(EGBADConfig):
    """CE-BiGAN hyper-parameters (our choices where the paper is silent, see the module
    docstring); `discriminator` "projection" is the method's, "joint" gives BiGAN's."""

    latent: int = BiGANConfig.latent
    slope: float = BiGANConfig.slope
    batch_size: int = BiGANConfig.batch_size
    epochs: int = BiGANConfig.epochs
    lr: float = BiGANConfig.lr
    discriminator: str = "projection"

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """BiGAN's, and the consistency terms of E and G at weight 1 (our choice)."""
        eg = {"adversarial": 1.0, "consistency_x": 1.0, "consistency_z": 1.0}
        return {"d": {"adversarial": 1.0}, "eg": eg}


def encoder_generator_terms(
    config: CEBiGANConfig, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[Terms, Terms]:
    """E's and G's BiGAN term (labels swapped) and the two consistency terms; the tensors add
    x_rec (G(E(x))) and z_rec (E(G(z))) to BiGAN's."""
    t = bigan_tensors(run, x, z)
    t["x_rec"], t["z_rec"] = run("g", t["z_hat"]), run("e", t["x_gen"])
    terms = {
        "adversarial": losses.discriminator_cross_entropy(t["fake_logit"], t["real_logit"]),
        "consistency_x": losses.l1_mean(x, t["x_rec"]),
        "consistency_z": losses.l1_mean(z, t["z_rec"]),
    }
    return terms, t


train_step = train_step_for(networks, discriminator_terms, encoder_generator_terms)


DETECTOR = register(
    Detector(
        name="ce-bigan",
        config_cls=CEBiGANConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny=TINY,
        samples=samples,
    )
)
