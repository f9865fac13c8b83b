"""f-AnoGAN: fast unsupervised anomaly detection with generative adversarial networks.

Schlegl, Seeböck, Waldstein, Langs and Schmidt-Erfurth, Medical Image Analysis 54 (2019) 30-44
(code: github.com/tSchlegl/f-AnoGAN).

Phase 1, the first `gan_steps` steps: a WGAN-GP (generator G, critic D with hidden features f)
on normal samples, exactly the `wgan-gp` building block (`detectors/gan.py`). Phase 2, every later
step: an encoder E: x -> z trained with G and D frozen, by one of the paper's schemes:

    izi   L_E = MSE(x, G(E(x)))                                     (term "image")
    ziz   L_E = MSE(z, E(G(z))),  z ~ N(0, I)                       (term "latent")
    izif  L_E = MSE(x, G(E(x))) + kappa MSE(f(x), f(G(E(x))))       (the default; "feature")

    A(x) = MSE(x, G(E(x))) + kappa MSE(f(x), f(G(E(x))))            (score head "anomaly")

kappa is `score_weight` (default 1, the paper's): the score's weight of its feature part, which
the paper adds to the image part (no convex combination, unlike the other detectors' score
weights, so it may exceed 1); it is also the default weight of the encoder's "feature" term, as
the paper uses one kappa for both (`loss_weights={"e": {"feature": ...}}` sets that one alone).

Heads: "anomaly" (the default, the paper's score for every scheme), "image_residual",
"feature_residual"; anomaly map |x - G(E(x))| (channel mean). MSE is the mean over pixels
(features), as the released code.

Both phases live in one train_step, so it compiles once: the step computes both and keeps the
result of its phase (cheaper on XLA:CPU than `lax.cond`, see train_step). In phase 2 the step's
batch is split into `n_critic` sub-batches, one encoder update each (the released code's encoder
batch, 64 = 320 / 5), so every sample passes the encoder once an epoch.
`gan_steps` counts train steps, not epochs, because a step does not know the epoch length: make
the run (epochs x steps per epoch, or `max_steps`) longer than `gan_steps`, or the encoder is never
trained (the `phase` metric says which phase a step ran).

Defaults follow the released code: latent 128, z ~ N(0, 1), n_critic 5, lambda 10, Adam(1e-4,
betas (0, 0.9)) for G and D, RMSProp(5e-5) for E, kappa 1, 64x64 images. The objectives are
WGAN-GP's "g" and "d" (see `gan.py`) and the encoder's "e", whose extra terms read x, z (= E(x)),
x_hat (= G(E(x))), real_features and fake_features (f of x and of x_hat; izif) or, for ziz, z
(the prior's draw), x_gen (= G(z)) and z_hat (= E(x_gen)). `gan_steps` 5,000 and
100 epochs are ours: the released code trains the WGAN for 7 epochs of its (unpublished) data set
and the encoder for 50,000 updates, which 10,000 phase-2 steps give. So the minimum of training
steps (`min_updates`) is 15,000 = `gan_steps` + those 10,000: where the epochs make fewer (a small
table's 100 epochs of one batch are 100 steps, all of them in phase 1, so the encoder would never
train), the run trains the fewest whole epochs that make 15,000. Change it with `gan_steps`
(gan_steps + the encoder steps wanted); 0 trains the epochs as given.

Deviations, and why:
- DCGAN networks (critic with LayerNorm, encoder = the DCGAN encoder with BatchNorm, as the released
  encoder's normalisation) instead of the released 64x64 ResNets, so the networks are shared with
  the other detectors and work at any power-of-two size; MLPs for tabular rows;
- RMSProp is optax's with decay 0.99 (TF's default, in the released code, is 0.9);
- scoring runs BatchNorm in inference mode; thresholds come from validation normals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses, optim
from ganad_jax.detectors import (
    NON_NEGATIVE,
    Detector,
    Range,
    Scores,
    State,
    gan,
    new_state,
    objective,
    reconstruction_outputs,
    register,
)
from ganad_jax.nn import apply
from ganad_jax.nn.dcgan import NORMS, Encoder
from ganad_jax.nn.mlp import MLPEncoder

SCHEMES = ("izi", "ziz", "izif")


@dataclasses.dataclass(frozen=True)
class FAnoGANConfig(gan.WGANGPConfig):
    """f-AnoGAN hyper-parameters: WGAN-GP training (see WGANGPConfig), then the encoder.

    `scheme` is the encoder's training objective; `encoder_optimizer` ("rmsprop" or "adam") with
    `encoder_lr` is its default optimizer (`optimizers["e"]` may give any optax transformation);
    `score_weight` is the paper's kappa (see the module docstring).
    """

    HEADS: ClassVar[tuple[str, ...]] = ("anomaly", "image_residual", "feature_residual")
    RANGES: ClassVar[Mapping[str, Range]] = {"score_weight": NON_NEGATIVE}

    latent: int = 128
    epochs: int = 100
    min_updates: int = 15000
    gan_steps: int = 5000
    scheme: str = "izif"
    score_weight: float = 1.0
    encoder_optimizer: str = "rmsprop"
    encoder_lr: float = 5e-5
    encoder_norm: str = "batch"
    score_head: str = "anomaly"

    def __post_init__(self) -> None:
        gan.check_choice("scheme", self.scheme, SCHEMES)
        super().__post_init__()
        gan.check_choice("encoder_optimizer", self.encoder_optimizer, gan.OPTIMIZERS)
        gan.check_choice("encoder_norm", self.encoder_norm, NORMS)

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """WGAN-GP's, and the encoder scheme's terms: 1 each, kappa for "feature"."""
        encoder = {"ziz": {"latent": 1.0}, "izi": {"image": 1.0}}.get(
            self.scheme, {"image": 1.0, "feature": self.score_weight}
        )
        return {**super().default_loss_weights(), "e": encoder}

    def optimizer_spec(self, network: str) -> optim.Spec:
        """E's: `encoder_optimizer` with `encoder_lr` (RMSProp decay 0.99); G's and D's are
        WGAN-GP's."""
        if network == "e":
            return optim.Spec(self.encoder_optimizer, self.encoder_lr, decay=0.99)
        return super().optimizer_spec(network)


def encoder_network(config: FAnoGANConfig, x: jnp.ndarray) -> nn.Module:
    """E: x -> (z, features): the DCGAN encoder for images, an MLP encoder for rows."""
    if x.ndim == 4:
        return Encoder(config.latent, config.features, config.encoder_norm)
    return MLPEncoder(config.latent, config.hidden)


def init(config: FAnoGANConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise G, D and E and their optimizer states."""
    gan_key, e_key = jax.random.split(key)
    params, stats = gan.init_networks(config, gan_key, sample_batch)
    e_vars = encoder_network(config, sample_batch).init(e_key, sample_batch, train=False)
    params["e"] = e_vars["params"]
    stats["e"] = e_vars.get("batch_stats", {})
    return new_state(config, params, stats)


def encoder_terms(
    config: FAnoGANConfig, state: State, encode: Any, x: jnp.ndarray, key: jax.Array
) -> tuple[dict[str, jnp.ndarray], dict[str, jnp.ndarray], Any]:
    """The scheme's per-example terms, the tensors extra terms read and E's statistics;
    `encode(v)` returns (E(v), stats)."""
    if config.scheme == "ziz":
        z = gan.sample_prior(config, key, x.shape[0])
        x_gen = gan.generate(config, state, z, x)
        z_hat, stats = encode(x_gen)
        tensors = {"z": z, "x_gen": x_gen, "z_hat": z_hat}
        return {"latent": losses.l2_mean(z, z_hat)}, tensors, stats
    z, stats = encode(x)
    x_hat = gan.generate(config, state, z, x)
    tensors = {"x": x, "z": z, "x_hat": x_hat}
    terms = {"image": losses.l2_mean(x, x_hat)}
    if config.scheme == "izif":
        tensors["real_features"] = gan.critic_features(config, state, x)
        tensors["fake_features"] = gan.critic_features(config, state, x_hat)
        terms["feature"] = losses.feature_matching(
            tensors["real_features"], tensors["fake_features"]
        )
    return terms, tensors, stats


def encoder_update(
    config: FAnoGANConfig, state: State, batch: jnp.ndarray, key: jax.Array
) -> tuple[Any, Any, Any, dict[str, jnp.ndarray]]:
    """n_critic encoder updates, one per sub-batch; returns E's (params, stats, opt_state) and
    the step's metrics."""
    encoder = encoder_network(config, batch)

    def one_update(carry, inputs):
        e_params, e_opt, e_stats = carry
        x, k = inputs

        def loss(e_params):
            def encode(v):
                (z, _), stats = apply(encoder, e_params, e_stats, v, train=True)
                return z, stats

            terms, tensors, stats = encoder_terms(config, state, encode, x, k)
            total, means = objective(config, "e", terms, tensors)
            return total, (means, stats)

        (total, (means, e_stats)), grads = jax.value_and_grad(loss, has_aux=True)(e_params)
        e_params, e_opt = optim.update(config, "e", e_params, e_opt, grads)
        return (e_params, e_opt, e_stats), {"loss": total, **means}

    carry = (state.params["e"], state.opt_state["e"], state.batch_stats["e"])
    keys = jax.random.split(key, config.n_critic)
    (e_params, e_opt, e_stats), metrics = gan.unrolled_scan(
        one_update, carry, (gan.sub_batches(batch, config.n_critic), keys)
    )
    return e_params, e_stats, e_opt, {f"e_{name}": v.mean() for name, v in metrics.items()}


def train_step(
    config: FAnoGANConfig, state: State, batch: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """Phase 1 (step < gan_steps): a WGAN-GP step; phase 2: n_critic encoder updates."""
    # Both phases are computed and the step's phase selects the result: XLA:CPU ran the WGAN-GP
    # step about 20x slower as a branch of lax.cond (14.6 s against 0.68 s of CPU at 32x32,
    # batch 320), which costs far more than computing the unused phase.
    gan_key, encoder_key = jax.random.split(key)
    params, stats, opt_state, gan_metrics = gan.gan_update(config, state, batch, gan_key)
    e_params, e_stats, e_opt, e_metrics = encoder_update(config, state, batch, encoder_key)
    in_gan_phase = state.step < config.gan_steps

    def select(gan_phase, encoder_phase):
        return jax.tree.map(lambda a, b: jnp.where(in_gan_phase, a, b), gan_phase, encoder_phase)

    new = State(
        state.step + 1,
        select({**state.params, **params}, {**state.params, "e": e_params}),
        select({**state.batch_stats, **stats}, {**state.batch_stats, "e": e_stats}),
        select({**state.opt_state, **opt_state}, {**state.opt_state, "e": e_opt}),
    )
    zeros = jnp.zeros((), jnp.float32)
    metrics = {
        **select(gan_metrics, dict.fromkeys(gan_metrics, zeros)),
        **select(dict.fromkeys(e_metrics, zeros), e_metrics),
        "phase": jnp.where(in_gan_phase, 0.0, 1.0).astype(jnp.float32),
    }
    return new, metrics


def score(config: FAnoGANConfig, state: State, x: jnp.ndarray) -> Scores:
    """izif anomaly score (default), image and feature residuals of G(E(x)); map |x - G(E(x))|."""
    (z, _), _ = apply(
        encoder_network(config, x), state.params["e"], state.batch_stats["e"], x, train=False
    )
    x_hat = gan.generate(config, state, z, x)
    image = losses.l2_mean(x, x_hat)
    feature = losses.feature_matching(
        gan.critic_features(config, state, x), gan.critic_features(config, state, x_hat)
    )
    return Scores(
        heads={
            "anomaly": image + config.score_weight * feature,
            "image_residual": image,
            "feature_residual": feature,
        },
        default=config.score_head,
        **reconstruction_outputs(x, x_hat),
    )


DETECTOR = register(
    Detector(
        name="f-anogan",
        config_cls=FAnoGANConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny={**gan.TINY, "n_critic": 2, "gan_steps": 2},
        samples=gan.samples,
    )
)
