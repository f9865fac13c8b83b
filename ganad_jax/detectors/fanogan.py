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
betas (0, 0.9)) for G and D (wgangp_64x64.py), kappa 1, 64x64 images, and for E TensorFlow's
RMSProp(5e-5): decay 0.9, epsilon 1e-10 inside the square root, the accumulator starting at 1
(z_encoding_izif.py's `tf.train.RMSPropOptimizer(learning_rate=lr)`, lr 5e-5; `rmsprop_form`,
see `optim.RMSPROP_FORMS`). The code is bounded, E(x) = tanh(linear(...)), in training and in
scoring (z_encoding_izif.py's default `Z_REG_TYPE = 'tanh_fc'`, "paper version", which
anomaly_detection.py scores with); `encoder_output="linear"` is the released unconstrained
alternative (`Z_REG_TYPE = None`, the paper's Appendix A.2). The image networks are the
released ResNets (`networks="resnet"`, `nn.resnet`): wgangp_64x64.py's `GoodGenerator` (BatchNorm)
and `GoodDiscriminator` (layer norm, `critic_norm="layer"`), whose features f are the
flattened output of its last residual block (its `out_features`, before the linear output), and
z_encoding_izif.py's `Encoder`, the critic's layers with BatchNorm (`encoder_norm="batch"`: the
released `my_Normalize` gives layer norm only to names containing 'Discriminator') and a linear
output of 128; `networks="dcgan"` selects the DCGAN networks (`nn.dcgan`). MLPs for tabular
rows. The objectives are WGAN-GP's "g" and "d" (see `gan.py`) and the encoder's "e", whose extra
terms read x, z (= E(x)), x_hat (= G(E(x))), real_features and fake_features (f of x and of
x_hat; izif) or, for ziz, z (the prior's draw), x_gen (= G(z)) and z_hat (= E(x_gen)).
`gan_steps` 5,000 and 100 epochs are ours: the released code trains the WGAN for 7 epochs of its
(unpublished) data set and the encoder for 50,000 updates, which 10,000 phase-2 steps give. So
the minimum of training steps (`min_updates`) is 15,000 = `gan_steps` + those 10,000: where the
epochs make fewer (a small table's 100 epochs of one batch are 100 steps, all of them in phase
1, so the encoder would never train), the run trains the fewest whole epochs that make 15,000.
Change it with `gan_steps` (gan_steps + the encoder steps wanted); 0 trains the epochs as given.

Deviations, and why:
- the ResNets take any power-of-two size >= 16 and any channel count (the released ones are
  64x64x1): log2(size) - 2 residual blocks keep the 4x4 map, widths capped at 8 x `features`
  (see `nn.resnet`);
- the ziz scheme (not in the released code, which trains izif) uses the same bounded encoder,
  so its codes E(G(z)) cannot follow a prior draw z outside (-1, 1) (`encoder_output="linear"`
  for the unbounded one);
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
from ganad_jax.nn.dcgan import NORMS
from ganad_jax.nn.mlp import MLPEncoder

SCHEMES = ("izi", "ziz", "izif")
ENCODER_OUTPUTS = ("tanh", "linear")


@dataclasses.dataclass(frozen=True)
class FAnoGANConfig(gan.WGANGPConfig):
    """f-AnoGAN hyper-parameters: WGAN-GP training (see WGANGPConfig), then the encoder.

    `scheme` is the encoder's training objective; `encoder_optimizer` ("rmsprop", in
    `rmsprop_form`, TensorFlow's by default, or "adam") with `encoder_lr` is its default
    optimizer (`optimizers["e"]` may give any optax transformation); `encoder_output` "tanh"
    bounds the code E(x) in (-1, 1), "linear" leaves it unbounded; `networks` "resnet" (the
    default) or "dcgan" are the image networks; `score_weight` is the paper's kappa (see the
    module docstring).
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
    encoder_output: str = "tanh"
    networks: str = "resnet"
    rmsprop_form: str = "tf"
    score_head: str = "anomaly"

    def __post_init__(self) -> None:
        gan.check_choice("scheme", self.scheme, SCHEMES)
        super().__post_init__()
        gan.check_choice("encoder_optimizer", self.encoder_optimizer, gan.OPTIMIZERS)
        gan.check_choice("encoder_norm", self.encoder_norm, NORMS)
        gan.check_choice("encoder_output", self.encoder_output, ENCODER_OUTPUTS)

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """WGAN-GP's, and the encoder scheme's terms: 1 each, kappa for "feature"."""
        encoder = {"ziz": {"latent": 1.0}, "izi": {"image": 1.0}}.get(
            self.scheme, {"image": 1.0, "feature": self.score_weight}
        )
        return {**super().default_loss_weights(), "e": encoder}

    def optimizer_spec(self, network: str) -> optim.Spec:
        """E's: `encoder_optimizer` with `encoder_lr` (RMSProp in `rmsprop_form`, by default
        TensorFlow's decay 0.9, epsilon 1e-10, accumulator from 1, the released
        z_encoding_izif.py's `tf.train.RMSPropOptimizer(learning_rate=lr)`; Adam with betas
        (0.9, 0.999)); G's and D's are WGAN-GP's."""
        if network != "e":
            return super().optimizer_spec(network)
        if self.encoder_optimizer == "rmsprop":
            return optim.Spec.rmsprop(self.encoder_lr, self.rmsprop_form)
        return optim.Spec("adam", self.encoder_lr)


def encoder_network(config: FAnoGANConfig, x: jnp.ndarray) -> nn.Module:
    """E: x -> (z, features): `config.networks`'s encoder for images (the released ResNet
    encoder by default), an MLP encoder for rows."""
    if x.ndim == 4:
        return gan.NETWORKS[config.networks].Encoder(
            config.latent, config.features, config.encoder_norm
        )
    return MLPEncoder(config.latent, config.hidden)


def encode(
    config: FAnoGANConfig, params: Any, stats: Any, x: jnp.ndarray, train: bool
) -> tuple[jnp.ndarray, Any]:
    """(E(x), E's statistics): the encoder's output, through tanh under `encoder_output` "tanh"
    (the released Z_REG_TYPE 'tanh_fc', in training and in scoring)."""
    (z, _), stats = apply(encoder_network(config, x), params, stats, x, train=train)
    return (jnp.tanh(z) if config.encoder_output == "tanh" else z), stats


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

    def one_update(carry, inputs):
        e_params, e_opt, e_stats = carry
        x, k = inputs

        def loss(e_params):
            def encode_batch(v):
                return encode(config, e_params, e_stats, v, train=True)

            terms, tensors, stats = encoder_terms(config, state, encode_batch, x, k)
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
    z, _ = encode(config, state.params["e"], state.batch_stats["e"], x, train=False)
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
