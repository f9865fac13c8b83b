"""DED-GAN: a GAN whose generator is two encoder-decoders in sequence, scored in latent space.

Liu et al., "DED-GAN", Industrial Robot, 2021 (no arXiv version and no public code; this module is
built from the paper's description, and every choice the description leaves open is a config field,
listed in `DEDGANConfig`).

Generator G = (E1, D1, E2, D2): z1 = E1(x), x1 = D1(z1), z2 = E2(x1), x2 = D2(z2). Encoders are
Conv-BatchNorm-ReLU, decoders deconvolution-BatchNorm-ReLU (tanh output). Discriminator D: the
DCGAN classifier, last 4x4 feature map f. A weight function w(t) of the training step t moves the
balance between the encoding/reconstruction terms and the adversarial term during training:

    L_G = w(t) * w_adv * ||f(x) - f(x2)||_2^2
          + w_con * (||x - x1||_1 + ||x - x2||_1) / 2 + w_enc * ||z1 - z2||_2^2
    w(t) = 1 - exp(-t / T)          (T = `adversarial_ramp_steps`; T = 0: w = 1)
    L_D = BCE(D(x), 1) / 2 + BCE(D(x2), 0) / 2
    A(x) = ||z1 - z2||_2^2          (score head "latent", the default: the two codes' distance)

with per-element means for the norms; the anomaly map is |x - x2|.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, Scores, State, register
from ganad_jax.detectors.ganomaly_family import (
    TINY,
    FamilyConfig,
    Tensors,
    generator_discriminator_step,
    generator_inference,
    init_networks,
    latent_scores,
)
from ganad_jax.nn.dcgan import Decoder, Discriminator, check_image_size
from ganad_jax.nn.layers import Conv
from ganad_jax.nn.unet import down_block


@dataclasses.dataclass(frozen=True)
class DEDGANConfig(FamilyConfig):
    """DED-GAN hyper-parameters. The paper gives the structure, not these numbers; the choices:

    - `image_size` 64 (KolektorSDD images resized; 32 is too coarse for its thin cracks), latent
      100, features 64, batch 64, Adam(2e-4, beta1 0.5), 15 epochs: GANomaly's values, the method
      DED-GAN extends;
    - the generator's ("g") weights: adversarial (feature matching on D's last features,
      GANomaly's form) 1, contextual (L1 of both reconstructions, averaged) 50, encoder (squared
      code distance) 1: GANomaly's weights for the same three kinds of term;
    - the weight function is w(t) = 1 - exp(-t / `adversarial_ramp_steps`) on the adversarial
      weight: reconstruction and encoding dominate early, while D's features are still close to
      random, and the adversarial term nears its full weight after three ramps. T counts training
      steps (what a step can see), default 1000, about a third of 15 epochs over 13,000 images at
      batch 64; set it to about a third of a run's steps; 0 turns the ramp off;
    - at least 600 training steps (`min_updates`, GANomaly's minimum, see `ganomaly.py`): on
      KolektorSDD's 136 training images 15 epochs are 30 steps;
    - encoders have no BatchNorm on their first layer (DCGAN practice), decoders end in tanh;
    - the score is the mean squared distance of the two codes ("latent"); "reconstruction", the
      L1 of x and x2, is a second head.

    The shared fields are `FamilyConfig`'s; the generator's extra terms read x, x_hat (= x2),
    x_first (= x1), z (= z1), z_hat (= z2), logit_real, f_real, logit_fake, f_fake.
    """

    GENERATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {
        "adversarial": 1.0,
        "contextual": 50.0,
        "encoder": 1.0,
    }

    image_size: int = 64
    latent: int = 100
    adversarial_ramp_steps: int = 1000


class ReLUEncoder(nn.Module):
    """Image (N, S, S, C) to code (N, latent): Conv-BatchNorm-ReLU stages down to 4x4, 4x4 conv."""

    latent: int
    features: int = 64

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        """Return the code."""
        h = x
        for stage in range(check_image_size(x.shape[1])):
            h = down_block(h, self.features * 2**stage, train, nn.relu, norm=stage > 0)
        z = Conv(self.latent, kernel=4, stride=1, padding=0)(h)
        return z.reshape(z.shape[0], self.latent)


class Generator(nn.Module):
    """Two encoder-decoders in sequence: x -> (x2, x1, z1, z2)."""

    image_size: int
    channels: int
    latent: int
    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, ...]:
        """Return (final reconstruction x2, first reconstruction x1, code z1, code z2)."""
        size, channels, features = self.image_size, self.channels, self.features
        z1 = ReLUEncoder(self.latent, features, name="encoder1")(x, train)
        x1 = Decoder(size, channels, features, name="decoder1")(z1, train)
        z2 = ReLUEncoder(self.latent, features, name="encoder2")(x1, train)
        x2 = Decoder(size, channels, features, name="decoder2")(z2, train)
        return x2, x1, z1, z2


OUTPUT_NAMES = ("x_hat", "x_first", "z", "z_hat")


def networks(config: DEDGANConfig, x: jnp.ndarray) -> tuple[Generator, Discriminator]:
    generator = Generator(config.image_size, x.shape[-1], config.latent, config.features)
    return generator, Discriminator(config.features)


def init(config: DEDGANConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise G (two encoder-decoders) and D (DCGAN N(0, 0.02) weights) and their Adam states."""
    return init_networks(config, key, sample_batch, *networks(config, sample_batch))


def adversarial_weight(config: DEDGANConfig, step: jnp.ndarray) -> jnp.ndarray:
    """The weight function w(t) = 1 - exp(-t / T) scaling the adversarial term (T = 0: 1)."""
    if config.adversarial_ramp_steps == 0:
        return jnp.ones((), jnp.float32)
    return 1.0 - jnp.exp(-step.astype(jnp.float32) / config.adversarial_ramp_steps)


def _generator_terms(tensors: Tensors) -> dict[str, jnp.ndarray]:
    x = tensors["x"]
    return {
        "adversarial": losses.feature_matching(tensors["f_real"], tensors["f_fake"]),
        "contextual": 0.5
        * (losses.l1_mean(x, tensors["x_first"]) + losses.l1_mean(x, tensors["x_hat"])),
        "encoder": losses.latent_consistency(tensors["z"], tensors["z_hat"]),
    }


def train_step(
    config: DEDGANConfig, state: State, x: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One G update with the step's adversarial weight w(t), then one D update."""
    ramp = adversarial_weight(config, state.step)
    new, metrics = generator_discriminator_step(
        config,
        state,
        x,
        key,
        *networks(config, x),
        output_names=OUTPUT_NAMES,
        generator_terms=_generator_terms,
        scale={"adversarial": ramp},
    )
    return new, {**metrics, "adversarial_weight": ramp}


def score(config: DEDGANConfig, state: State, x: jnp.ndarray) -> Scores:
    """Distance of the two codes (default) and reconstruction L1 per image; map |x - x2|."""
    x2, _, z1, z2 = generator_inference(networks(config, x)[0], state, x)
    return latent_scores(config, x, x2, z1, z2)


DETECTOR = register(
    Detector(
        name="ded-gan",
        config_cls=DEDGANConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny={**TINY, "latent": 8, "adversarial_ramp_steps": 2},
    )
)
