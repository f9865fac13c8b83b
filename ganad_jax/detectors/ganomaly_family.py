"""What GANomaly-like detectors share: their config fields, a reconstructing generator G trained
against a discriminator D that is both the adversary and a feature extractor, scoring with
BatchNorm in inference mode, and per-pixel anomaly maps.

One training step is one G update on a weighted sum of named terms, computed from the batch x, G's
outputs and D's logits and features of x and of G's reconstruction, then one D update (real -> 1,
fake -> 0, cross-entropy) on the pre-update reconstruction, as GANomaly's released code does
(`optimize_params` in `lib/model.py`).

Objectives (`loss_weights`, `extra_terms`): "g", the detector's generator terms, whose extra terms
read G's outputs (each detector names them), x, and D's logit_real, f_real, logit_fake, f_fake of
x and the reconstruction x_hat (D before its update); and "d", the term "adversarial"
(cross-entropy, weight 1) and any terms the detector adds (Skip-GANomaly's "latent"), whose extra
terms read x, x_hat (the pre-update reconstruction), and D's logit_real, f_real, logit_fake,
f_fake in its own update.

`reinit_d_below` > 0 is the released code's re-initialisation of D: GANomaly's
`optimize_params` (`lib/model.py`) and Skip-GANomaly's `update_netd`
(`lib/models/skipganomaly.py`) end with `if err_d < 1e-5: self.reinit_d()`, D's loss of the step
(computed before D's update) against the threshold, and `reinit_d` is `netd.apply(weights_init)`:
new N(0, 0.02) convolution weights and new BatchNorm affine parameters (weights N(1, 0.02), biases
0), with BatchNorm's running statistics and D's Adam state (its moments and step count:
`optimizer_d` is kept) left as they are. Here, after D's update, a `lax.cond` on that loss swaps
D's parameters for `discriminator.init(key, x)`'s (this library's initial values, so BatchNorm
scales 1, as at the start of training) with the step's key (the trainer's fold_in(base key, step), which
these steps draw nothing else from, so each re-initialisation draws new weights and a resumed run
draws the same ones); D's batch statistics and optimizer state are kept, as released. The
metric "d_reinitialised" (1 or 0) reports it. One trace serves every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses, optim
from ganad_jax.detectors import (
    NON_NEGATIVE,
    DetectorConfig,
    Range,
    Scores,
    State,
    new_state,
    objective,
)
from ganad_jax.nn import apply
from ganad_jax.nn.dcgan import check_image_size

Tensors = Mapping[str, jnp.ndarray]


@dataclasses.dataclass(frozen=True)
class FamilyConfig(DetectorConfig):
    """Fields every GANomaly-like detector has (the papers' shared defaults; the fields of every
    detector are `DetectorConfig`'s).

    `optimizers` may replace the Adam of "g" and/or "d" with any optax transformation;
    `map_sigma` is the standard deviation in pixels of the Gaussian that smooths the anomaly map
    (0: the raw residual). `min_updates` (600) is the fewest train steps a run makes: its epochs
    are raised to make them (0: the epochs as given). `reinit_d_below` > 0 re-initialises D's
    weights after a step whose D loss fell below it (the released code's `reinit_d`, with 1e-5:
    `--set reinit_d_below=1e-5`; see the module docstring); 0, the default, never does, as the
    papers' objectives.
    """

    HEADS: ClassVar[tuple[str, ...]] = ("latent", "reconstruction")
    RANGES: ClassVar[Mapping[str, Range]] = {"reinit_d_below": NON_NEGATIVE}
    GENERATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {}
    """The paper's weight of each generator term (each detector declares its own)."""
    DISCRIMINATOR_WEIGHTS: ClassVar[Mapping[str, float]] = {"adversarial": 1.0}
    """The weight of each of D's terms (the cross-entropy; Skip-GANomaly adds one)."""

    image_size: int = 32
    features: int = 64
    batch_size: int = 64
    epochs: int = 15
    min_updates: int = 600
    score_head: str = "latent"
    map_sigma: float = 0.0
    reinit_d_below: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_image_size(self.image_size)

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """The paper's generator weights (`GENERATOR_WEIGHTS`) and D's (`DISCRIMINATOR_WEIGHTS`)."""
        return {"g": dict(self.GENERATOR_WEIGHTS), "d": dict(self.DISCRIMINATOR_WEIGHTS)}


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
    return new_state(config, params, {"g": g_vars["batch_stats"], "d": d_vars["batch_stats"]})


def cross_entropy_terms(tensors: Tensors) -> dict[str, jnp.ndarray]:
    """D's term "adversarial": real -> 1, fake -> 0, the mean of the two cross-entropies."""
    return {
        "adversarial": losses.discriminator_cross_entropy(
            tensors["logit_real"], tensors["logit_fake"]
        )
    }


def generator_discriminator_step(
    config: Any,
    state: State,
    x: jnp.ndarray,
    key: jax.Array,
    generator: nn.Module,
    discriminator: nn.Module,
    output_names: Sequence[str],
    generator_terms: Callable[[Tensors], dict[str, jnp.ndarray]],
    discriminator_terms: Callable[[Tensors], dict[str, jnp.ndarray]] = cross_entropy_terms,
    scale: Mapping[str, jnp.ndarray] | None = None,
) -> tuple[State, dict[str, jnp.ndarray]]:
    """One G update (objective "g"), then one D update (objective "d") on the pre-update
    reconstruction, then D's re-initialisation where `config.reinit_d_below` asks for it.

    G's output (an array or a tuple) is named by `output_names`, one of which is "x_hat", the
    reconstruction D sees;
    `generator_terms` maps the step's tensors (those outputs, x, and D's logit_real, f_real,
    logit_fake, f_fake) to per-example terms, `discriminator_terms` D's step's tensors to D's;
    `scale` multiplies some generator weights by scalars computed in the step (DED-GAN's ramp);
    `key` draws D's new weights when it is re-initialised (nothing else).
    """
    d_params, d_stats = state.params["d"], state.batch_stats["d"]

    def generator_loss(g_params):
        outputs, g_stats = apply(generator, g_params, state.batch_stats["g"], x, train=True)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        tensors = dict(zip(output_names, outputs, strict=True))
        # D's statistics from G's step are dropped: D is updated (and its statistics) below.
        (logit_real, f_real), _ = apply(discriminator, d_params, d_stats, x, train=True)
        (logit_fake, f_fake), _ = apply(
            discriminator, d_params, d_stats, tensors["x_hat"], train=True
        )
        tensors.update(
            x=x, logit_real=logit_real, f_real=f_real, logit_fake=logit_fake, f_fake=f_fake
        )
        total, means = objective(config, "g", generator_terms(tensors), tensors, scale)
        return total, (means, tensors["x_hat"], g_stats)

    (g_loss, (g_terms, x_hat, g_stats)), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(
        state.params["g"]
    )
    g_params, g_opt = optim.update(config, "g", state.params["g"], state.opt_state["g"], g_grads)
    x_fake = jax.lax.stop_gradient(x_hat)

    def discriminator_loss(d_params):
        (real_logit, f_real), stats = apply(discriminator, d_params, d_stats, x, train=True)
        (fake_logit, f_fake), stats = apply(discriminator, d_params, stats, x_fake, train=True)
        tensors = {"x": x, "x_hat": x_fake, "logit_real": real_logit, "f_real": f_real}
        tensors.update(logit_fake=fake_logit, f_fake=f_fake)
        total, means = objective(config, "d", discriminator_terms(tensors), tensors)
        return total, (means, stats)

    (d_loss, (d_terms, d_stats)), d_grads = jax.value_and_grad(discriminator_loss, has_aux=True)(
        d_params
    )
    d_params, d_opt = optim.update(config, "d", d_params, state.opt_state["d"], d_grads)
    reinit = {}
    if config.reinit_d_below > 0:
        below = d_loss < config.reinit_d_below
        d_params = jax.lax.cond(
            below, lambda: discriminator.init(key, x, train=False)["params"], lambda: d_params
        )
        reinit = {"d_reinitialised": below.astype(jnp.float32)}
    new = State(
        step=state.step + 1,
        params={"g": g_params, "d": d_params},
        batch_stats={"g": g_stats, "d": d_stats},
        opt_state={"g": g_opt, "d": d_opt},
    )
    metrics = {
        "g_loss": g_loss,
        "d_loss": d_loss,
        **{f"g_{k}": v for k, v in g_terms.items()},
        **{f"d_{k}": v for k, v in d_terms.items()},
        **reinit,
    }
    return new, metrics


def generator_inference(generator: nn.Module, state: State, x: jnp.ndarray) -> Any:
    """G's outputs for `x` with BatchNorm in inference mode (batch-invariant)."""
    return apply(generator, state.params["g"], state.batch_stats["g"], x, train=False)[0]


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
    heads = {
        "latent": losses.latent_consistency(z, z_hat),
        "reconstruction": losses.l1_mean(x, x_hat),
    }
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
