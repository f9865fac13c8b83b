"""AnoGAN: unsupervised anomaly detection with generative adversarial networks.

Schlegl, Seeböck, Waldstein, Schmidt-Erfurth and Langs, IPMI 2017, arXiv:1703.05921.

Training: a DCGAN (generator G, discriminator D) on normal samples only, exactly the `dcgan`
building block (`detectors/gan.py`). Scoring searches the latent space for each sample x:

    z* = argmin_z (1 - lambda) R(z) + lambda D(z)          (`search_steps` optimizer steps from z0)
    R(z) = sum |x - G(z)|            (residual loss)
    D(z) = sum |f(x) - f(G(z))|      (discrimination loss, f = an intermediate layer of D)
    A(x) = (1 - lambda) R(z*) + lambda D(z*)               (score head "anomaly", the default)

lambda is `score_weight` (the weight of the score's discriminator part, as in every detector).

Heads: "anomaly", "residual" R(z*), "discrimination" D(z*); anomaly map |x - G(z*)| (channel mean).
The search is `search.latent_search`: jitted, vmapped over the batch, one optimizer state per
sample. Defaults: the paper's lambda = 0.1 and 500 steps, DCGAN's training defaults (64x64 images,
latent 100, z ~ U(-1, 1), and at least 2,000 training steps, `min_updates`: on a small table
PyOD's AnoGAN makes 2,000-3,500 updates where 25 epochs of batch 128 make 25-50, see `gan.py`).
For tabular rows the networks are MLPs (as PyOD's AnoGAN).

Choices where the paper is silent, and deviations:
- the search optimizer is Adam with learning rate 0.01 (the paper says back-propagation; 0.01 is
  PyOD's `learning_rate_query`); any optax transformation can replace it (`optimizers["search"]`);
- z0 is one fixed draw from the prior (key `search_seed`), the same for every sample, instead of a
  fresh random start per image: a sample's score is then deterministic and does not depend on its
  batch or its position in it (the search itself stays per-sample);
- f is D's last hidden feature map (the 4x4 map before the output convolution; the last hidden
  layer of the MLP), as GANomaly's feature matching;
- z may leave the prior's support during the search (the paper does not say; AnoGAN has no
  released code). `search_clip=true` keeps it there instead, clipping z into [-1, 1] after every
  search step (projected gradient descent, `search.keep_in_box`, chained after whichever search
  optimizer runs, `optimizers["search"]` included), so G is only asked for codes of the kind it was
  trained on; it needs the uniform prior, the only bounded one. Off by default;
- the score is the loss at the last step, not the minimum along the way;
- scoring runs BatchNorm in inference mode (the searched images never share batch statistics).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp
import optax

from ganad_jax import losses, optim, search
from ganad_jax.detectors import Detector, Scores, State, gan, reconstruction_outputs, register


@dataclasses.dataclass(frozen=True)
class AnoGANConfig(gan.DCGANConfig):
    """AnoGAN hyper-parameters: DCGAN training (see DCGANConfig) plus the latent search.

    `score_weight` is the paper's lambda, the weight of the discrimination loss in the search and
    the score; `search_optimizer` ("adam" or "rmsprop") with `search_lr`, unless
    `optimizers["search"]` gives any optax transformation; `search_clip` keeps z in the uniform
    prior's support [-1, 1] during the search (see the module docstring).
    """

    HEADS: ClassVar[tuple[str, ...]] = ("anomaly", "residual", "discrimination")

    score_weight: float = 0.1
    search_steps: int = 500
    search_optimizer: str = "adam"
    search_lr: float = 0.01
    search_seed: int = 0
    search_clip: bool = False
    score_head: str = "anomaly"

    def __post_init__(self) -> None:
        super().__post_init__()
        gan.check_choice("search_optimizer", self.search_optimizer, gan.OPTIMIZERS)
        if self.search_steps < 0:
            raise ValueError(f"search_steps must be >= 0, got {self.search_steps}")
        if self.search_clip and self.prior != "uniform":
            raise ValueError(
                f"search_clip needs prior=uniform (the {self.prior} prior has no bounded support)"
            )

    def optimizer_spec(self, network: str) -> optim.Spec:
        """The search's optimizer ("search"): `search_optimizer` with `search_lr` (RMSProp's
        decay 0.99, Adam's betas (0.9, 0.999)); G's and D's are DCGAN's."""
        if network == "search":
            return optim.Spec(self.search_optimizer, self.search_lr, decay=0.99)
        return super().optimizer_spec(network)


def _search_losses(config: AnoGANConfig, state: State, x, x_features, fake):
    """(residual, discrimination, combined loss) per example of generated `fake` against `x`."""
    residual = losses.l1_sum(x, fake)
    discrimination = losses.l1_sum(x_features, gan.critic_features(config, state, fake))
    weight = config.score_weight
    return residual, discrimination, (1.0 - weight) * residual + weight * discrimination


def search_problem(config: AnoGANConfig, state: State, x: jnp.ndarray) -> tuple:
    """The arguments of `search.latent_search` for `x`: (objective, z0, targets, optimizer,
    steps)."""

    def objective(z: jnp.ndarray, target: tuple[jnp.ndarray, jnp.ndarray]) -> jnp.ndarray:
        real, real_features = target
        fake = gan.generate(config, state, z[None], x)
        return _search_losses(config, state, real[None], real_features[None], fake)[2][0]

    z0 = gan.sample_prior(config, jax.random.key(config.search_seed), 1)[0]
    targets = (x, gan.critic_features(config, state, x))
    optimizer = optim.make(config, "search", average=False)
    if config.search_clip:
        optimizer = optax.chain(optimizer, search.keep_in_box(-1.0, 1.0))
    return objective, z0, targets, optimizer, config.search_steps


def score(config: AnoGANConfig, state: State, x: jnp.ndarray) -> Scores:
    """Search z* per sample; the combined loss (default), residual and discrimination at z*."""
    problem = search_problem(config, state, x)
    z_star = search.latent_search(*problem)
    x_hat = gan.generate(config, state, z_star, x)
    residual, discrimination, anomaly = _search_losses(config, state, *problem[2], x_hat)
    return Scores(
        heads={"anomaly": anomaly, "residual": residual, "discrimination": discrimination},
        default=config.score_head,
        **reconstruction_outputs(x, x_hat),
    )


DETECTOR = register(
    Detector(
        name="anogan",
        config_cls=AnoGANConfig,
        init=gan.init,
        train_step=gan.train_step,
        score=score,
        tiny={**gan.TINY, "search_steps": 3},
        samples=gan.samples,
        search=search_problem,
    )
)
