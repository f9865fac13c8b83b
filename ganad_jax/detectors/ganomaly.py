"""GANomaly: semi-supervised anomaly detection via adversarial training.

Akcay, Atapour-Abarghouei and Breckon, ACCV 2018, arXiv:1805.06725.

Generator G = encoder G_E, decoder G_D and a second encoder E: z = G_E(x), x' = G_D(z), z' = E(x').
Discriminator D: DCGAN classifier whose last 4x4 feature map f is used for feature matching; it is
the released `NetD` (`lib/networks.py`): the DCGAN encoder's layers but the last as the features
(after their LeakyReLU(0.2)), the last 4x4 valid convolution to one output as the classifier,
no biases, no BatchNorm on the first layer (`nn/dcgan.py`'s `Discriminator`).

    L_G = w_adv * ||f(x) - f(x')||_2^2 + w_con * ||x - x'||_1 + w_enc * ||z - z'||_2^2
    L_D = BCE(D(x), 1) / 2 + BCE(D(x'), 0) / 2
    A(x) = ||z - z'||_2^2          (score head "latent", the default)
    M(x) = |x - x'|                (per-pixel anomaly map, optionally Gaussian-smoothed)

Defaults are the paper's: w_adv = 1, w_con = 50, w_enc = 1, Adam(2e-4, beta1 0.5), latent 100,
batch 64, 32x32 images, 15 epochs.

A minimum of 600 training steps (`min_updates`, the same for GANomaly, Skip-GANomaly and
DED-GAN): where the epochs make fewer, as on small image sets (KolektorSDD's 136 training images
make 2 steps an epoch, 30 in 15 epochs), the run trains the fewest whole epochs that make 600,
anomalib's GANomaly schedule on MVTec AD (100 epochs of batch 32: 600 steps on the 209 good images
of its default category, bottle). Runs on MNIST- or CIFAR-sized sets (15 epochs are 750 steps on
the embedded MNIST digits, about 10,500 on CIFAR-10) are unchanged; 0 turns it off.

Deviations from the released code, and why:
- the score is the mean squared latent distance (as the released code computes it; the paper writes
  an L1 norm); the reconstruction L1 is a second head, "reconstruction";
- the released code re-initialises D when its loss falls below 1e-5 (`optimize_params` in
  `lib/model.py`), a training heuristic outside the paper: off by default, `--set
  reinit_d_below=1e-5` does it (see `ganomaly_family.py`);
- the released code min-max normalises scores over the test set; not done (it uses test
  statistics);
- the epoch is never selected on test AUROC: the last epoch is used;
- scoring runs BatchNorm in inference mode, so a score does not depend on the batch.
- BatchNorm scales start at 1 (Flax's default) in G and D; the released `weights_init`
  (`lib/networks.py`) draws them from N(1, 0.02) (biases 0 in both). Not copied, so that every
  network of the library starts its normalisation alike and earlier results stay reproducible;
  the effect of that 2 % spread at initialisation has not been measured. Skip-GANomaly and
  DED-GAN share these layers and this choice.
- inputs are pixels mapped to [-1, 1] on every data set; the released code feeds MNIST normalised
  by mean 0.1307 / std 0.3081 (`lib/data.py`, about [-0.42, 2.82]) into its tanh decoder, whose
  output cannot reach most of that range (CIFAR-10 it maps to [-1, 1], as here);
- `first_padding` (default 1, the released code's) is not a deviation but a comparison: anomalib's
  GANomaly pads the first convolution of its encoders and discriminator by 4 where the released
  `Encoder` pads by 1; `--set first_padding=4` builds anomalib's layers (see
  experiments/peers_ganomaly.py);
- the released scripts (`experiments/run_mnist.sh`, `run_cifar.sh`) always pass `--manualseed`,
  which pools the normal images of both files and re-splits them 80/20; `--set pooled_seed=M`
  makes that split (`ganad_jax.data.images.one_class_anomalous`), the default keeps the files'
  own split (the code's path without a seed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses
from ganad_jax.detectors import Detector, Range, Scores, State, register
from ganad_jax.detectors.ganomaly_family import (
    TINY,
    FamilyConfig,
    Tensors,
    generator_discriminator_step,
    generator_inference,
    init_networks,
    latent_scores,
)
from ganad_jax.nn.dcgan import Decoder, Discriminator, Encoder


@dataclasses.dataclass(frozen=True)
class GANomalyConfig(FamilyConfig):
    """GANomaly hyper-parameters (paper defaults; the shared fields are `FamilyConfig`'s).

    The generator's terms ("g") are "adversarial", "contextual" and "encoder" (weights 1, 50,
    1); its extra terms read x, x_hat, z, z_hat, logit_real, f_real, logit_fake, f_fake.
    """

    GENERATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {
        "adversarial": 1.0,
        "contextual": 50.0,
        "encoder": 1.0,
    }
    RANGES: ClassVar[Mapping[str, Range]] = {**FamilyConfig.RANGES, "first_padding": Range(0, 8)}

    latent: int = 100
    first_padding: int = 1
    """Zero padding of the first convolution of G's two encoders and of D: 1 as the released
    code (`lib/networks.py`), 4 as anomalib's GANomaly (`models/image/ganomaly/torch_model.py`),
    for comparing with it (`nn.dcgan.Encoder`)."""


class Generator(nn.Module):
    """Encoder-decoder-encoder: x -> (x', z, z')."""

    image_size: int
    channels: int
    latent: int
    features: int
    first_padding: int = 1

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, ...]:
        """Return (reconstruction, latent code, latent code of the reconstruction)."""
        pad = self.first_padding
        z, _ = Encoder(self.latent, self.features, first_padding=pad, name="encoder1")(x, train)
        x_hat = Decoder(self.image_size, self.channels, self.features, name="decoder")(z, train)
        encoder2 = Encoder(self.latent, self.features, first_padding=pad, name="encoder2")
        z_hat, _ = encoder2(x_hat, train)
        return x_hat, z, z_hat


def networks(config: GANomalyConfig, x: jnp.ndarray) -> tuple[Generator, Discriminator]:
    generator = Generator(
        config.image_size, x.shape[-1], config.latent, config.features, config.first_padding
    )
    return generator, Discriminator(config.features, first_padding=config.first_padding)


def init(config: GANomalyConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise G and D (DCGAN N(0, 0.02) weights) and their Adam states."""
    return init_networks(config, key, sample_batch, *networks(config, sample_batch))


def _generator_terms(tensors: Tensors) -> dict[str, jnp.ndarray]:
    return {
        "adversarial": losses.feature_matching(tensors["f_real"], tensors["f_fake"]),
        "contextual": losses.l1_mean(tensors["x"], tensors["x_hat"]),
        "encoder": losses.latent_consistency(tensors["z"], tensors["z_hat"]),
    }


def train_step(
    config: GANomalyConfig, state: State, x: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One G update, then one D update on the pre-update reconstruction (as the released code)."""
    return generator_discriminator_step(
        config,
        state,
        x,
        key,
        *networks(config, x),
        output_names=("x_hat", "z", "z_hat"),
        generator_terms=_generator_terms,
    )


def score(config: GANomalyConfig, state: State, x: jnp.ndarray) -> Scores:
    """Latent distance (default) and reconstruction L1 per image; anomaly map |x - x'|."""
    x_hat, z, z_hat = generator_inference(networks(config, x)[0], state, x)
    return latent_scores(config, x, x_hat, z, z_hat)


DETECTOR = register(
    Detector(
        name="ganomaly",
        config_cls=GANomalyConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny={**TINY, "latent": 8},
    )
)
