"""GANomaly: semi-supervised anomaly detection via adversarial training.

Akcay, Atapour-Abarghouei and Breckon, ACCV 2018, arXiv:1805.06725.

Generator G = encoder G_E, decoder G_D and a second encoder E: z = G_E(x), x' = G_D(z), z' = E(x').
Discriminator D: DCGAN classifier whose last 4x4 feature map f is used for feature matching.

    L_G = w_adv * ||f(x) - f(x')||_2^2 + w_con * ||x - x'||_1 + w_enc * ||z - z'||_2^2
    L_D = BCE(D(x), 1) / 2 + BCE(D(x'), 0) / 2
    A(x) = ||z - z'||_2^2          (score head "latent", the default)

Defaults are the paper's: w_adv = 1, w_con = 50, w_enc = 1, Adam(2e-4, beta1 0.5), latent 100,
batch 64, 32x32 images, 15 epochs.

Deviations from the released code, and why:
- the score is the mean squared latent distance (as the released code computes it; the paper writes
  an L1 norm); the reconstruction L1 is a second head, "reconstruction";
- the released code re-initialises D when its loss falls below 1e-5 and min-max normalises scores
  over the test set; neither is done (the first is a training heuristic outside the paper, the
  second uses test statistics);
- the epoch is never selected on test AUROC: the last epoch is used;
- scoring runs BatchNorm in inference mode, so a score does not depend on the batch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganad_jax import losses
from ganad_jax.detectors import Detector, Scores, State, apply_updates, make_optimizer, register
from ganad_jax.nn.dcgan import Decoder, Discriminator, Encoder, check_image_size

TermFn = Callable[[Mapping[str, jnp.ndarray]], jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class GANomalyConfig:
    """GANomaly hyper-parameters (paper defaults).

    `generator_weights` weighs the named generator terms ("adversarial", "contextual", "encoder" and
    any term of `extra_terms`); `extra_terms` maps a new term's name to a function of the step's
    tensors (x, x_hat, z, z_hat, f_real, f_fake) returning one value per example; `optimizers` may
    replace the Adam of "g" and/or "d" with any optax transformation.
    """

    image_size: int = 32
    latent: int = 100
    features: int = 64
    batch_size: int = 64
    epochs: int = 15
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    generator_weights: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: {"adversarial": 1.0, "contextual": 50.0, "encoder": 1.0}
    )
    extra_terms: Mapping[str, TermFn] = dataclasses.field(default_factory=dict)
    optimizers: Mapping[str, optax.GradientTransformation] = dataclasses.field(default_factory=dict)
    score_head: str = "latent"

    def __post_init__(self) -> None:
        check_image_size(self.image_size)
        if self.score_head not in ("latent", "reconstruction"):
            raise ValueError(
                f"score_head must be 'latent' or 'reconstruction', got {self.score_head!r}"
            )


class Generator(nn.Module):
    """Encoder-decoder-encoder: x -> (x', z, z')."""

    image_size: int
    channels: int
    latent: int
    features: int

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> tuple[jnp.ndarray, ...]:
        """Return (reconstruction, latent code, latent code of the reconstruction)."""
        z, _ = Encoder(self.latent, self.features, name="encoder1")(x, train)
        x_hat = Decoder(self.image_size, self.channels, self.features, name="decoder")(z, train)
        z_hat, _ = Encoder(self.latent, self.features, name="encoder2")(x_hat, train)
        return x_hat, z, z_hat


def _networks(config: GANomalyConfig, x: jnp.ndarray) -> tuple[Generator, Discriminator]:
    generator = Generator(config.image_size, x.shape[-1], config.latent, config.features)
    return generator, Discriminator(config.features)


def init(config: GANomalyConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise G and D (DCGAN N(0, 0.02) weights) and their Adam states."""
    generator, discriminator = _networks(config, sample_batch)
    g_key, d_key = jax.random.split(key)
    g_vars = generator.init(g_key, sample_batch, train=False)
    d_vars = discriminator.init(d_key, sample_batch, train=False)
    params = {"g": g_vars["params"], "d": d_vars["params"]}
    return State(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats={"g": g_vars["batch_stats"], "d": d_vars["batch_stats"]},
        opt_state={name: make_optimizer(config, name).init(p) for name, p in params.items()},
    )


def train_step(
    config: GANomalyConfig, state: State, x: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One G update, then one D update on the pre-update reconstruction (as the released code)."""
    del key  # the step is deterministic given the batch
    generator, discriminator = _networks(config, x)
    d_vars = {"params": state.params["d"], "batch_stats": state.batch_stats["d"]}

    def generator_loss(g_params):
        (x_hat, z, z_hat), g_new = generator.apply(
            {"params": g_params, "batch_stats": state.batch_stats["g"]},
            x,
            train=True,
            mutable=["batch_stats"],
        )
        (_, f_real), _ = discriminator.apply(d_vars, x, train=True, mutable=["batch_stats"])
        (_, f_fake), _ = discriminator.apply(d_vars, x_hat, train=True, mutable=["batch_stats"])
        tensors = {
            "x": x,
            "x_hat": x_hat,
            "z": z,
            "z_hat": z_hat,
            "f_real": f_real,
            "f_fake": f_fake,
        }
        terms = {
            "adversarial": losses.feature_matching(f_real, f_fake),
            "contextual": losses.l1(x, x_hat),
            "encoder": losses.latent_consistency(z, z_hat),
            **{name: fn(tensors) for name, fn in config.extra_terms.items()},
        }
        total, means = losses.weighted_sum(terms, config.generator_weights)
        return total, (means, x_hat, g_new["batch_stats"])

    (g_loss, (g_terms, x_hat, g_stats)), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(
        state.params["g"]
    )
    g_params, g_opt = apply_updates(config, "g", state.params["g"], state.opt_state["g"], g_grads)
    x_fake = jax.lax.stop_gradient(x_hat)

    def discriminator_loss(d_params):
        (real_logit, _), real_new = discriminator.apply(
            {"params": d_params, "batch_stats": state.batch_stats["d"]},
            x,
            train=True,
            mutable=["batch_stats"],
        )
        (fake_logit, _), fake_new = discriminator.apply(
            {"params": d_params, "batch_stats": real_new["batch_stats"]},
            x_fake,
            train=True,
            mutable=["batch_stats"],
        )
        loss = losses.discriminator_cross_entropy(real_logit, fake_logit).mean()
        return loss, fake_new["batch_stats"]

    (d_loss, d_stats), d_grads = jax.value_and_grad(discriminator_loss, has_aux=True)(
        state.params["d"]
    )
    d_params, d_opt = apply_updates(config, "d", state.params["d"], state.opt_state["d"], d_grads)
    new_state = State(
        step=state.step + 1,
        params={"g": g_params, "d": d_params},
        batch_stats={"g": g_stats, "d": d_stats},
        opt_state={"g": g_opt, "d": d_opt},
    )
    metrics = {"g_loss": g_loss, "d_loss": d_loss, **{f"g_{k}": v for k, v in g_terms.items()}}
    return new_state, metrics


def score(config: GANomalyConfig, state: State, x: jnp.ndarray) -> Scores:
    """Latent distance (default) and reconstruction L1 per image; anomaly map |x - x'|."""
    generator, _ = _networks(config, x)
    x_hat, z, z_hat = generator.apply(
        {"params": state.params["g"], "batch_stats": state.batch_stats["g"]}, x, train=False
    )
    heads = {"latent": losses.latent_consistency(z, z_hat), "reconstruction": losses.l1(x, x_hat)}
    return Scores(
        heads=heads,
        default=config.score_head,
        anomaly_map=jnp.abs(x - x_hat).mean(axis=-1),
        reconstruction=x_hat,
    )


DETECTOR = register(
    Detector(
        name="ganomaly",
        config_cls=GANomalyConfig,
        init=init,
        train_step=train_step,
        score=score,
        modalities=("image",),
        description="GANomaly (Akcay et al., ACCV 2018): encoder-decoder-encoder generator, latent score",
        tiny={"image_size": 16, "latent": 8, "features": 8, "batch_size": 8, "epochs": 1},
    )
)
