"""ALAD: adversarially learned anomaly detection.

Zenati, Romain, Foo, Lecouat and Chandrasekhar, ICDM 2018, arXiv:1812.02288.

A BiGAN (E, G, D_xz; see `bigan.py`) with two more discriminators that enforce cycle consistency:
D_xx tells (x, x) from (x, G(E(x))) in data space, D_zz tells (z, z) from (z, E(G(z))) in latent
space. Each discriminator's loss is cross-entropy (real pair -> 1), E and G minimise the sum with
the labels swapped:

    L_D  = CE_xz(x, E(x) | G(z), z) + CE_xx(x, x | x, G(E(x))) + CE_zz(z, z | z, E(G(z)))
    L_EG = the same three terms, labels swapped  (names "adversarial", "cycle_x", "cycle_z")
    A(x) = ||f_xx(x, x) - f_xx(x, G(E(x)))||_1                      (head "fm", the default)

f_xx is D_xx's last hidden layer. The paper's other scores are heads too: "l1" and "l2"
(||x - G(E(x))||_1, _2) and "logits" (BCE(D_xx(x, G(E(x))), 1)).

Defaults are the paper's KDD Cup 99 setting from the released code: latent 32, E 64 units, G
64-128, D_xz 128-unit branches (BatchNorm on x, dropout 0.5 on z and the joint layer), D_xx one
128-unit layer and D_zz one 32-unit layer (dropout 0.2), LeakyReLU 0.2, Adam(1e-5, beta1 0.5),
batch 50. Arrhythmia in the code: latent 64, batch 32, E 256-128, G 128-256, D_xx 256-128, D_zz
64-32; CIFAR-10: latent 100, batch 32, Adam(2e-4). Spectral normalisation (`spectral_norm`) is on
for images and off for rows by default, as in the code (its tabular networks ignore the flag).

Early stopping (the paper's, on validation normals, never on test) is a training option of the
generic loop: `--set validate_every=N --set patience=P` keeps the state with the lowest mean
default score over the validation normals (the released code's criterion) and stops after P
evaluations without improvement; epochs (a command-line argument of the code) default to 100,
and a run makes at least 2,000 training steps (`min_updates`, the BiGAN family's minimum, see
`bigan.py`: PyOD's ALAD makes 2,000 updates on 320 rows); early stopping may keep an earlier
state, which the report then flags.

Deviations, and why:
- images use the DCGAN encoder/decoder (`nn/dcgan.py`) and DCGAN convolution stacks in the
  discriminators, and D_xx concatenates x and x' along channels (the code concatenates CIFAR-10
  images along their height); spectral normalisation covers the discriminators' layers, not the
  encoder's (the shared DCGAN encoder has no such option);
- the code's early stopping tests with the last weights once its patience runs out; here the
  best validation state is kept. Its KDD loader has no validation split (`data/kdd.py`,
  `get_valid` returns None, so `--enable_early_stop`, which its README asks for, fails there at
  `validx, validy = data.get_valid(label)` in `alad/run.py`), so its KDD runs train the number
  of epochs given on its command line. Its README configuration (`--sn --enable_dzz
  --enable_early_stop`) is, on rows, D_zz on (the default here), no spectral normalisation (its
  tabular networks ignore the flag) and early stopping every epoch with patience 10 (`FREQ_EV`,
  `PATIENCE`): `--set validate_every=STEPS_PER_EPOCH --set patience=10` (experiments/kdd99.py);
- scoring uses the trained weights; `--set ema_decay=0.999` scores with the code's moving average
  of the weights instead (see `bigan.py`); one batch per step.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, Scores, State, reconstruction_outputs, register
from ganad_jax.detectors.bigan import (
    TINY,
    BiGANConfig,
    Runner,
    Terms,
    bigan_tensors,
    encoder_generator,
    init_networks,
    samples,
    train_step_for,
    x_body,
    xz_discriminator,
)
from ganad_jax.nn.joint import ConvStack, DenseStack, PairDiscriminator


@dataclasses.dataclass(frozen=True)
class ALADConfig(BiGANConfig):
    """ALAD hyper-parameters (the paper's KDD Cup 99 defaults).

    `dropout` is D_xz's (z branch and joint layer), `cycle_dropout` D_xx's and D_zz's;
    `xx_widths` and `zz_widths` are their hidden layers (images: D_xx is a DCGAN stack);
    `latent_discriminator` adds D_zz; `spectral_norm` None means on for images, off for rows.
    The objectives "d" and "eg" have the terms "adversarial", "cycle_x" and "cycle_z" (none
    without D_zz), weight 1 each; their extra terms read BiGAN's tensors (see `bigan.py`) and
    x_rec (G(E(x))), xx_real, xx_fake (D_xx's logits of (x, x) and (x, x_rec)) and, with D_zz,
    z_rec (E(G(z))), zz_real and zz_fake.
    """

    HEADS: ClassVar[tuple[str, ...]] = ("fm", "l1", "l2", "logits")

    latent: int = 32
    dropout: float = 0.5
    cycle_dropout: float = 0.2
    xx_widths: tuple[int, ...] = (128,)
    zz_widths: tuple[int, ...] = (32,)
    latent_discriminator: bool = True
    spectral_norm: bool | None = None
    batch_size: int = 50
    lr: float = 1e-5
    score_head: str = "fm"

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """Each discriminator's term, weight 1, for the discriminators and for E and G."""
        terms = (
            ("adversarial", "cycle_x", "cycle_z")
            if self.latent_discriminator
            else ("adversarial", "cycle_x")
        )
        return {"d": dict.fromkeys(terms, 1.0), "eg": dict.fromkeys(terms, 1.0)}


def networks(config: ALADConfig, x: jnp.ndarray) -> dict[str, nn.Module]:
    sn = x.ndim == 4 if config.spectral_norm is None else config.spectral_norm
    if x.ndim == 4:
        xx_body = ConvStack(config.features, config.cycle_dropout, sn)
    else:
        xx_body = DenseStack(config.xx_widths, config.slope, config.cycle_dropout, False, sn)
    nets = {
        **encoder_generator(config, x),
        "d_xz": xz_discriminator(
            config, x_body(config, x, 0.0, batch_norm=True, spectral_norm=sn), config.dropout, sn
        ),
        "d_xx": PairDiscriminator(xx_body),
    }
    if config.latent_discriminator:
        zz_body = DenseStack(config.zz_widths, config.slope, config.cycle_dropout, False, sn)
        nets["d_zz"] = PairDiscriminator(zz_body)
    return nets


def init(config: ALADConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise E, G, D_xz, D_xx (and D_zz) and their Adam states."""
    return init_networks(config, key, sample_batch, networks(config, sample_batch))


def _logit_pairs(
    config: ALADConfig, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[dict, Terms]:
    """(real, fake) logits of each discriminator, by term name, and the step's tensors."""
    t = bigan_tensors(run, x, z)
    t["x_rec"] = run("g", t["z_hat"])
    t["xx_real"], t["xx_fake"] = run("d_xx", x, x)[0], run("d_xx", x, t["x_rec"])[0]
    pairs = {
        "adversarial": (t["real_logit"], t["fake_logit"]),
        "cycle_x": (t["xx_real"], t["xx_fake"]),
    }
    if config.latent_discriminator:
        t["z_rec"] = run("e", t["x_gen"])
        t["zz_real"], t["zz_fake"] = run("d_zz", z, z)[0], run("d_zz", z, t["z_rec"])[0]
        pairs["cycle_z"] = (t["zz_real"], t["zz_fake"])
    return pairs, t


def discriminator_terms(
    config: ALADConfig, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[Terms, Terms]:
    """Each discriminator's cross-entropy, real pairs -> 1."""
    pairs, tensors = _logit_pairs(config, run, x, z)
    return {k: losses.discriminator_cross_entropy(r, f) for k, (r, f) in pairs.items()}, tensors


def encoder_generator_terms(
    config: ALADConfig, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[Terms, Terms]:
    """E's and G's terms: each discriminator's loss with the labels swapped."""
    pairs, tensors = _logit_pairs(config, run, x, z)
    return {k: losses.discriminator_cross_entropy(f, r) for k, (r, f) in pairs.items()}, tensors


train_step = train_step_for(networks, discriminator_terms, encoder_generator_terms)


def score(config: ALADConfig, state: State, x: jnp.ndarray) -> Scores:
    """D_xx feature matching (default), L1, L2 and logits scores of x against G(E(x))."""
    run = Runner.inference(networks(config, x), state)
    x_hat = run("g", run("e", x))
    _, f_real = run("d_xx", x, x)
    logit_rec, f_rec = run("d_xx", x, x_hat)
    heads = {
        "fm": losses.l1_sum(f_real, f_rec),
        "l1": losses.l1_sum(x, x_hat),
        "l2": losses.l2_norm(x, x_hat),
        "logits": losses.generator_non_saturating(logit_rec),
    }
    return Scores(heads=heads, default=config.score_head, **reconstruction_outputs(x, x_hat))


DETECTOR = register(
    Detector(
        name="alad",
        config_cls=ALADConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny={**TINY, "xx_widths": (16,), "zz_widths": (8,)},
        samples=samples,
    )
)
