"""What GANomaly-like detectors share: their config fields, a reconstructing generator G trained
against a DCGAN discriminator D that is both the adversary and a feature extractor, scoring with
BatchNorm in inference mode, and per-pixel anomaly maps.

One training step is one G update on a weighted sum of named terms, computed from the batch x, G's
outputs and D's logits and features of x and of G's reconstruction, then one D update (real -> 1,
fake -> 0, cross-entropy) on the pre-update reconstruction, as GANomaly's released code does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganad_jax import losses
from ganad_jax.detectors import Scores, State, apply_updates, check_fields, make_optimizer
from ganad_jax.nn.dcgan import check_image_size

Tensors = Mapping[str, jnp.ndarray]
TermFn = Callable[[Tensors], jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class FamilyConfig:
    """Fields every GANomaly-like detector has (the papers' shared defaults).

    `extra_terms` maps a new generator term's name to a function of the step's tensors returning
    one value per example (weigh it in the detector's `generator_weights`); `optimizers` may
    replace the Adam of "g" and/or "d" with any optax transformation; `score_head` is one of the
    class's SCORE_HEADS; `map_sigma` is the standard deviation in pixels of the Gaussian that
    smooths the anomaly map (0: the raw residual). `min_updates` (600) is the fewest train steps
    a run makes: its epochs are raised to make them (0: the epochs as given).
    """

    SCORE_HEADS: ClassVar[tuple[str, ...]] = ("latent", "reconstruction")

    image_size: int = 32
    features: int = 64
    batch_size: int = 64
    epochs: int = 15
    min_updates: int = 600
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    extra_terms: Mapping[str, TermFn] = dataclasses.field(default_factory=dict)
    optimizers: Mapping[str, optax.GradientTransformation] = dataclasses.field(default_factory=dict)
    score_head: str = "latent"
    map_sigma: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self)
        check_image_size(self.image_size)
        if self.score_head not in self.SCORE_HEADS:
            raise ValueError(
                f"score_head must be one of {', '.join(self.SCORE_HEADS)}, got {self.score_head!r}"
            )
        if self.map_sigma < 0:
            raise ValueError(f"map_sigma must be >= 0, got {self.map_sigma}")


TINY = {"image_size": 16, "features": 8, "batch_size": 8, "epochs": 1, "min_updates": 0}
"""Small networks for tests and smoke benchmarks (shared by the family's detectors)."""


def init_networks(
    config: Any,
    key: jax.Array,
    sample_batch: jnp.ndarray,
    generator: nn.Module,
    discriminator: nn.Module,
) -> State:
    """Initialise G and D (DCGAN N(0, 0.02) weights) and their optimizer states."""
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


def generator_discriminator_step(
    config: Any,
    state: State,
    x: jnp.ndarray,
    generator: nn.Module,
    discriminator: nn.Module,
    output_names: Sequence[str],
    generator_terms: Callable[[Tensors], dict[str, jnp.ndarray]],
    weights: Mapping[str, float | jnp.ndarray],
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One G update, then one D update on the pre-update reconstruction.

    G's output (an array or a tuple) is named by `output_names`, one of which is "x_hat", the
    reconstruction D sees;
    `generator_terms` maps the step's tensors (those outputs, x, and D's logit_real, f_real,
    logit_fake, f_fake) to per-example terms, to which `config.extra_terms` are added; `weights`
    (floats, or scalars computed from the step) weigh them.
    """
    d_vars = {"params": state.params["d"], "batch_stats": state.batch_stats["d"]}

    def generator_loss(g_params):
        outputs, g_new = generator.apply(
            {"params": g_params, "batch_stats": state.batch_stats["g"]},
            x,
            train=True,
            mutable=["batch_stats"],
        )
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        tensors = dict(zip(output_names, outputs, strict=True))
        # D's statistics from G's step are dropped: D is updated (and its statistics) below.
        (logit_real, f_real), _ = discriminator.apply(
            d_vars, x, train=True, mutable=["batch_stats"]
        )
        (logit_fake, f_fake), _ = discriminator.apply(
            d_vars, tensors["x_hat"], train=True, mutable=["batch_stats"]
        )
        tensors.update(
            x=x, logit_real=logit_real, f_real=f_real, logit_fake=logit_fake, f_fake=f_fake
        )
        terms = {
            **generator_terms(tensors),
            **{name: fn(tensors) for name, fn in config.extra_terms.items()},
        }
        total, means = losses.weighted_sum(terms, weights)
        return total, (means, tensors["x_hat"], g_new["batch_stats"])

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


def generator_inference(generator: nn.Module, state: State, x: jnp.ndarray) -> Any:
    """G's outputs for `x` with BatchNorm in inference mode (batch-invariant)."""
    return generator.apply(
        {"params": state.params["g"], "batch_stats": state.batch_stats["g"]}, x, train=False
    )


def map_scores(
    config: FamilyConfig, x: jnp.ndarray, x_hat: jnp.ndarray, heads: dict[str, jnp.ndarray]
) -> Scores:
    """Scores with the config's default head, the residual anomaly map and the reconstruction."""
    return Scores(
        heads=heads,
        default=config.score_head,
        anomaly_map=residual_map(x, x_hat, config.map_sigma),
        reconstruction=x_hat,
    )


def latent_scores(
    config: FamilyConfig, x: jnp.ndarray, x_hat: jnp.ndarray, z: jnp.ndarray, z_hat: jnp.ndarray
) -> Scores:
    """GANomaly's heads: squared distance of the two codes ("latent") and L1 reconstruction."""
    heads = {"latent": losses.latent_consistency(z, z_hat), "reconstruction": losses.l1(x, x_hat)}
    return map_scores(config, x, x_hat, heads)


def gaussian_kernel(sigma: float) -> jnp.ndarray:
    """Normalised 1-D Gaussian of standard deviation `sigma` pixels, truncated at 4 sigma."""
    radius = max(1, int(4.0 * sigma + 0.5))
    t = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
    kernel = jnp.exp(-0.5 * jnp.square(t / sigma))
    return kernel / kernel.sum()


def smooth(maps: jnp.ndarray, sigma: float) -> jnp.ndarray:
    """Gaussian blur of (N, H, W) maps, separable, with edge padding (sigma 0: unchanged)."""
    if sigma <= 0:
        return maps
    kernel = gaussian_kernel(sigma)
    radius = (kernel.shape[0] - 1) // 2
    h = jnp.pad(maps, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    h = sum(kernel[i] * h[:, i : i + maps.shape[1], :] for i in range(kernel.shape[0]))
    return sum(kernel[i] * h[:, :, i : i + maps.shape[2]] for i in range(kernel.shape[0]))


def residual_map(x: jnp.ndarray, x_hat: jnp.ndarray, sigma: float = 0.0) -> jnp.ndarray:
    """Per-pixel anomaly map: |x - x_hat| averaged over channels, Gaussian-smoothed if sigma > 0."""
    return smooth(jnp.abs(x - x_hat).mean(axis=-1), sigma)
