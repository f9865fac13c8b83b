"""GAN, WGAN and WGAN-GP: the generative building blocks, registered as `dcgan`, `wgan`, `wgan-gp`.

- DCGAN: Radford, Metz and Chintala, ICLR 2016, arXiv:1511.06434 (the GAN of Goodfellow et al.,
  NeurIPS 2014, arXiv:1406.2661, with its non-saturating generator loss);
- WGAN: Arjovsky, Chintala and Bottou, ICML 2017, arXiv:1701.07875;
- WGAN-GP: Gulrajani, Ahmed, Arjovsky, Dumoulin and Courville, NeurIPS 2017, arXiv:1704.00028.

Generator G: z ~ prior -> x; discriminator (critic) D: x -> (score, features).

    DCGAN    L_D = BCE(D(x), 1) / 2 + BCE(D(G(z)), 0) / 2          L_G = -log sigmoid(D(G(z)))
    WGAN     L_D = D(G(z)) - D(x), D's weights clipped to [-c, c]   L_G = -D(G(z))
    WGAN-GP  L_D = D(G(z)) - D(x) + lambda (||grad D(x~)||_2 - 1)^2, x~ = e x + (1 - e) G(z)

One train_step is one generator update after `n_critic` critic updates (more in the long steps
of `critic_schedule="wgan"`, below). The step's `batch_size`
real samples are split into `n_critic` sub-batches, one per critic update, so each critic update
sees fresh real data and an epoch passes every sample through the critic once (as the reference
code, which draws a new batch per critic iteration); the generator update draws
batch_size // n_critic codes. So WGAN's batch_size 320 is the papers' 64 x n_critic 5.

These are generators, not detectors; so that they run through the same trainer, evaluation and
tests, they score with the discriminator: head "discriminator" = -D(x) (low realness is
anomalous). `ganad train` also writes a grid of generated samples (plots/samples.png).

Networks come from the rank of the input: for images `networks` "dcgan" (the default; `nn.dcgan`,
any power-of-two size >= 16 and any channel count) or "resnet" (`nn.resnet`: WGAN-GP's 64x64
ResNets as f-AnoGAN's released wgangp_64x64.py has them, the same sizes), MLPs (`nn.mlp`, linear
output for standardised features) for tabular rows. Defaults are the papers' (DCGAN: Adam 2e-4,
beta1 0.5, batch 128, z ~ U(-1, 1)^100, 64x64; WGAN: RMSProp 5e-5, clip 0.01, n_critic 5,
z ~ N(0, 1); WGAN-GP: Adam 1e-4, betas (0, 0.9), lambda 10, n_critic 5, LayerNorm critic); 25
epochs (the reference PyTorch code's `niter`). WGAN's RMSProp is PyTorch's (`rmsprop_form`
"torch": alpha 0.99, eps 1e-8 added outside the square root, the accumulator from 0), as the
WGAN reference's `optim.RMSprop(lr=5e-5)` (martinarjovsky/WassersteinGAN, main.py);
`rmsprop_form` "tf" or "optax" selects the other forms (`optim.RMSPROP_FORMS`).

A minimum of 2,000 training steps (`min_updates`, also AnoGAN's): where the epochs make fewer,
as on small tables (25 epochs of batch 128 are 25-50 steps on 200-300 rows), the run trains the
fewest whole epochs that make 2,000, the order of what PyOD's AnoGAN, the tabular reference,
makes there (500 epochs of batch 32: 2,000 updates on 128 rows, 3,500 on 200). Runs whose epochs
already make 2,000 steps (an image set of 10,000 samples or more) are unchanged; 0 turns it off.
A step counts once however many critic updates it holds (WGAN's generator iterations).

`critic_schedule` "wgan" (off by default: "fixed" makes `n_critic` critic updates every step) is
the WGAN reference's schedule: 100 critic updates before generator update s (the train step's
`state.step`, the reference's `gen_iterations`) while s < 25 and where s % 500 == 0, n_critic
otherwise. Such a long step makes its n_critic updates on its sub-batches as every step, then
100 - n_critic more in a `lax.fori_loop` whose trip count is computed from the step (so the step
compiles once; a "fixed" step has no loop), each on batch_size // n_critic samples drawn without
replacement from the step's batch with a fresh key. The reference draws a new batch from its
loader for each of the 100 iterations; here a step's batch is fixed by the trainer, so a long
step reuses its batch_size samples and every step, long or not, takes batch_size new ones: the
step and epoch counts are generator updates either way (the reference's epochs of len(loader)
critic iterations hold fewer generator iterations while the schedule runs long). The critic's
metrics are the means over each step's first n_critic updates.

Deviations, and why:
- WGAN-GP's critic is the DCGAN discriminator with LayerNorm by default (the paper recommends
  layer normalisation; its 64x64 experiments use the ResNet, `networks="resnet"`), so the same
  networks serve every detector;
- WGAN's weights are clipped after every critic update (the reference clamps before each):
  the same critic serves every update but the first critic update of a run, which sees the
  unclipped initial weights, and the generator update, which sees clipped ones (the
  reference's sees its last critic update unclipped); scores read clipped weights;
- the generator update draws fresh codes (PyTorch's DCGAN example reuses the discriminator
  step's fake batch); the discriminator's BatchNorm statistics from the generator update are
  discarded.
- the order of updates: a step is n_critic critic updates, then one generator update. The
  WGAN-GP reference loop that f-AnoGAN releases (`wgangp_64x64.py`, its `while iteration < ...`
  loop) puts the generator update first and skips it in the first pass (`if (iteration+1) > 1`),
  so it runs C^5 G C^5 G ... C^5: the same interleaving, and a run of ours holds one more
  generator update (its last) than the reference's of as many critic passes.

Scores read the moving average of the weights when `ema_decay` is set (as every detector's);
with WGAN's clipping the average follows the clipped weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganad_jax import losses, optim
from ganad_jax.detectors import (
    Detector,
    DetectorConfig,
    Scores,
    State,
    new_state,
    objective,
    register,
)
from ganad_jax.nn import apply, dcgan, resnet
from ganad_jax.nn.dcgan import NORMS, check_image_size
from ganad_jax.nn.mlp import MLP, MLPDiscriminator

OBJECTIVES = ("non-saturating", "wasserstein", "wasserstein-gp")
PRIORS = ("uniform", "normal")
OPTIMIZERS = ("adam", "rmsprop")
NETWORKS = {"dcgan": dcgan, "resnet": resnet}
"""The image networks by name: modules with the same Encoder, Decoder and Discriminator."""
CRITIC_SCHEDULES = ("fixed", "wgan")

LONG_CRITIC_UPDATES = 100
WARMUP_GENERATOR_UPDATES = 25
LONG_EVERY = 500
"""The WGAN reference's schedule (martinarjovsky/WassersteinGAN, main.py): `Diters = 100` while
`gen_iterations < 25` and where `gen_iterations % 500 == 0`, else `opt.Diters`."""


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """ValueError unless config field `name` holds one of `choices`."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclasses.dataclass(frozen=True)
class DCGANConfig(DetectorConfig):
    """GAN hyper-parameters; the defaults are DCGAN's (WGANConfig and WGANGPConfig change them).
    The shared fields (optimizers, loss weights, extra terms, moving average) are
    `DetectorConfig`'s.

    `batch_size` counts the real samples of one train_step: `n_critic` critic updates of
    batch_size // n_critic samples each (a training set smaller than one batch is one batch, cut
    to a multiple of n_critic). `min_updates` (2,000) is the fewest train steps a run makes: its
    epochs are raised to make them (0: the epochs as given). `hidden` are the MLP widths used for
    tabular rows; `networks` ("dcgan" or "resnet", `nn.resnet`) the image networks.
    `optimizer` ("adam" or "rmsprop") with `lr`, `beta1`, `beta2` is the default optimizer of
    "g" and "d"; `rmsprop_form` (`optim.RMSPROP_FORMS`: "torch", the default, "tf" or "optax",
    each with its framework's default decay and eps) is the form of their RMSProp (and of the
    networks a derived config adds, as f-AnoGAN's encoder). `critic_schedule` "wgan" runs the
    WGAN reference's schedule (see the module docstring); "fixed", the default, `n_critic`
    critic updates every step.

    Objectives and their terms (`loss_weights`, `extra_terms`):
    - "d": "adversarial" (non-saturating), or "wasserstein" and, for WGAN-GP, "gradient_penalty"
      (weight 10, the paper's lambda); its extra terms read x (the critic update's real
      sub-batch), fake, z, real_score, fake_score, real_features, fake_features;
    - "g": "adversarial" or "wasserstein"; extra terms read z, fake, fake_score, fake_features.
    """

    HEADS: ClassVar[tuple[str, ...]] = ("discriminator",)

    image_size: int = 64
    latent: int = 100
    features: int = 64
    hidden: tuple[int, ...] = (128, 128)
    prior: str = "uniform"
    objective: str = "non-saturating"
    n_critic: int = 1
    clip: float = 0.01
    critic_norm: str = "batch"
    networks: str = "dcgan"
    critic_schedule: str = "fixed"
    batch_size: int = 128
    epochs: int = 25
    min_updates: int = 2000
    optimizer: str = "adam"
    rmsprop_form: str = "torch"
    score_head: str = "discriminator"

    def __post_init__(self) -> None:
        check_choice("objective", self.objective, OBJECTIVES)
        super().__post_init__()
        check_image_size(self.image_size)
        check_choice("prior", self.prior, PRIORS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("critic_norm", self.critic_norm, NORMS)
        check_choice("networks", self.networks, tuple(NETWORKS))
        check_choice("critic_schedule", self.critic_schedule, CRITIC_SCHEDULES)
        check_choice("rmsprop_form", self.rmsprop_form, tuple(optim.RMSPROP_FORMS))
        if self.n_critic < 1 or self.batch_size % self.n_critic:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of n_critic ({self.n_critic})"
            )
        if self.objective == "wasserstein-gp" and self.critic_norm == "batch":
            raise ValueError(
                "the gradient penalty is per example: a wasserstein-gp critic cannot use "
                "BatchNorm (set critic_norm=layer or none)"
            )

    @property
    def batch_multiple(self) -> int:
        """What every batch size must be a multiple of: a step splits its batch into `n_critic`
        critic sub-batches (the trainer clamps a batch to a small training set by it)."""
        return self.n_critic

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """The papers' weights: 1 for each adversarial term, 10 for WGAN-GP's penalty."""
        if self.objective == "non-saturating":
            return {"d": {"adversarial": 1.0}, "g": {"adversarial": 1.0}}
        critic = {"wasserstein": 1.0}
        if self.objective == "wasserstein-gp":
            critic["gradient_penalty"] = 10.0
        return {"d": critic, "g": {"wasserstein": 1.0}}

    def optimizer_spec(self, network: str) -> optim.Spec:
        """`optimizer` with `lr` for "g" and "d": Adam with the betas, or RMSProp in
        `rmsprop_form` (PyTorch's by default: alpha 0.99, eps 1e-8 outside the square root, as
        the WGAN reference's `optim.RMSprop(lr=5e-5)`)."""
        if self.optimizer == "rmsprop":
            return optim.Spec.rmsprop(self.lr, self.rmsprop_form)
        return optim.Spec("adam", self.lr, b1=self.beta1, b2=self.beta2)


@dataclasses.dataclass(frozen=True)
class WGANConfig(DCGANConfig):
    """WGAN (weight clipping) hyper-parameters: the paper's defaults."""

    prior: str = "normal"
    objective: str = "wasserstein"
    n_critic: int = 5
    batch_size: int = 320
    optimizer: str = "rmsprop"
    lr: float = 5e-5


@dataclasses.dataclass(frozen=True)
class WGANGPConfig(DCGANConfig):
    """WGAN-GP hyper-parameters: the paper's defaults (Adam 1e-4, betas (0, 0.9), lambda 10)."""

    prior: str = "normal"
    objective: str = "wasserstein-gp"
    n_critic: int = 5
    critic_norm: str = "layer"
    batch_size: int = 320
    lr: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9


def networks(config: DCGANConfig, x: jnp.ndarray) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `x`: `config.networks` (DCGAN or the ResNets) for images
    (rank 4), MLPs for rows (rank 2)."""
    if x.ndim == 4:
        family = NETWORKS[config.networks]
        return (
            family.Decoder(config.image_size, x.shape[-1], config.features),
            family.Discriminator(config.features, config.critic_norm),
        )
    if x.ndim == 2:
        return MLP(config.hidden, x.shape[-1]), MLPDiscriminator(config.hidden)
    raise ValueError(f"expected images (N, H, W, C) or rows (N, D), got shape {x.shape}")


def sample_prior(config: DCGANConfig, key: jax.Array, n: int) -> jnp.ndarray:
    """n latent codes from the prior: U(-1, 1) or N(0, 1) per dimension."""
    if config.prior == "uniform":
        return jax.random.uniform(key, (n, config.latent), minval=-1.0, maxval=1.0)
    return jax.random.normal(key, (n, config.latent))


def sub_batches(x: jnp.ndarray, n: int) -> jnp.ndarray:
    """(B, ...) -> (n, B // n, ...): one slice per scanned update."""
    return x.reshape(n, x.shape[0] // n, *x.shape[1:])


def unrolled_scan(
    fn: Callable[[Any, Any], tuple[Any, Any]], carry: Any, xs: Any
) -> tuple[Any, Any]:
    """`lax.scan(fn, carry, xs)` unrolled into straight-line code (for a few updates per step):
    XLA:CPU ran a DCGAN training update about 18x slower inside the while loop a scan becomes
    (1.5 s against 0.08 s of CPU per step, measured at 32x32, batch 64)."""
    ys = []
    for i in range(jax.tree.leaves(xs)[0].shape[0]):
        carry, y = fn(carry, jax.tree.map(lambda a, i=i: a[i], xs))
        ys.append(y)
    return carry, jax.tree.map(lambda *values: jnp.stack(values), *ys)


def init_networks(
    config: DCGANConfig, key: jax.Array, sample_batch: jnp.ndarray
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Params and BatchNorm statistics of "g" and "d" (DCGAN N(0, 0.02) conv weights)."""
    generator, discriminator = networks(config, sample_batch)
    g_key, d_key = jax.random.split(key)
    z = jnp.zeros((sample_batch.shape[0], config.latent), sample_batch.dtype)
    g_vars = generator.init(g_key, z, train=False)
    d_vars = discriminator.init(d_key, sample_batch, train=False)
    params = {"g": g_vars["params"], "d": d_vars["params"]}
    stats = {"g": g_vars.get("batch_stats", {}), "d": d_vars.get("batch_stats", {})}
    return params, stats


def init(config: DCGANConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise G and D and their optimizer states."""
    return new_state(config, *init_networks(config, key, sample_batch))


def critic_terms(
    config: DCGANConfig,
    critic: Any,
    stats: Any,
    tensors: dict[str, jnp.ndarray],
    key: jax.Array,
) -> tuple[dict[str, jnp.ndarray], Any]:
    """The critic's per-example loss terms under `config.objective` and its updated statistics;
    `critic(x, stats)` returns ((score, features), stats). Adds the critic's outputs to
    `tensors` (which holds x, the real sub-batch, and fake)."""
    real, fake = tensors["x"], tensors["fake"]
    (real_score, real_features), stats = critic(real, stats)
    (fake_score, fake_features), stats = critic(fake, stats)
    tensors.update(
        real_score=real_score,
        fake_score=fake_score,
        real_features=real_features,
        fake_features=fake_features,
    )
    if config.objective == "non-saturating":
        return {"adversarial": losses.discriminator_cross_entropy(real_score, fake_score)}, stats
    terms = {"wasserstein": losses.wasserstein_critic(real_score, fake_score)}
    if config.objective == "wasserstein-gp":
        terms["gradient_penalty"] = losses.gradient_penalty(
            lambda v: critic(v, stats)[0][0], real, fake, key
        )
    return terms, stats


def clip_weights(config: DCGANConfig) -> Any:
    """WGAN's constraint on the critic's updated weights: clipped to [-clip, clip] (none for
    the other objectives)."""
    if config.objective != "wasserstein":
        return lambda params: params
    return lambda params: jax.tree.map(lambda p: jnp.clip(p, -config.clip, config.clip), params)


def long_schedule_updates(config: DCGANConfig, step: jnp.ndarray) -> jnp.ndarray:
    """The critic updates beyond `n_critic` that the WGAN reference's schedule makes before
    generator update `step` (its `gen_iterations`): 100 in all while step < 25 and where
    step % 500 == 0, else none."""
    long = (step < WARMUP_GENERATOR_UPDATES) | (step % LONG_EVERY == 0)
    return jnp.where(long, max(LONG_CRITIC_UPDATES - config.n_critic, 0), 0).astype(step.dtype)


def gan_update(
    config: DCGANConfig, state: State, batch: jnp.ndarray, key: jax.Array
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, jnp.ndarray]]:
    """n_critic critic updates (one per sub-batch), then `long_schedule_updates` more under
    `critic_schedule` "wgan", then one generator update.

    Returns the new (params, batch_stats, opt_state) of "g" and "d" and the step's metrics (the
    critic's are the means over its first n_critic updates).
    """
    generator, discriminator = networks(config, batch)
    critic_key, g_key = jax.random.split(key)
    if config.critic_schedule == "wgan":
        critic_key, long_key = jax.random.split(critic_key)
    m = batch.shape[0] // config.n_critic

    def critic_update(carry, inputs):
        d_params, d_opt, d_stats, g_stats = carry
        real, k = inputs
        z_key, gp_key = jax.random.split(k)
        z = sample_prior(config, z_key, m)
        fake, g_stats = apply(generator, state.params["g"], g_stats, z, train=True)
        fake = jax.lax.stop_gradient(fake)

        def loss(d_params):
            def critic(x, stats):
                return apply(discriminator, d_params, stats, x, train=True)

            tensors = {"x": real, "fake": fake, "z": z}
            terms, stats = critic_terms(config, critic, d_stats, tensors, gp_key)
            total, means = objective(config, "d", terms, tensors)
            return total, (means, stats)

        (total, (means, d_stats)), grads = jax.value_and_grad(loss, has_aux=True)(d_params)
        d_params, d_opt = optim.update(config, "d", d_params, d_opt, grads, clip_weights(config))
        return (d_params, d_opt, d_stats, g_stats), {"loss": total, **means}

    carry = (
        state.params["d"],
        state.opt_state["d"],
        state.batch_stats["d"],
        state.batch_stats["g"],
    )
    keys = jax.random.split(critic_key, config.n_critic)
    carry, d_metrics = unrolled_scan(
        critic_update, carry, (sub_batches(batch, config.n_critic), keys)
    )
    if config.critic_schedule == "wgan":

        def long_update(_, carry_and_key):
            carry, k = carry_and_key
            k, pick_key, update_key = jax.random.split(k, 3)
            real = batch[jax.random.choice(pick_key, batch.shape[0], (m,), replace=False)]
            return critic_update(carry, (real, update_key))[0], k

        carry, _ = jax.lax.fori_loop(
            0, long_schedule_updates(config, state.step), long_update, (carry, long_key)
        )
    d_params, d_opt, d_stats, g_stats = carry
    z = sample_prior(config, g_key, m)

    def generator_loss(g_params):
        fake, stats = apply(generator, g_params, g_stats, z, train=True)
        (fake_score, fake_features), _ = apply(discriminator, d_params, d_stats, fake, train=True)
        if config.objective == "non-saturating":
            terms = {"adversarial": losses.generator_non_saturating(fake_score)}
        else:
            terms = {"wasserstein": losses.wasserstein_generator(fake_score)}
        tensors = {"z": z, "fake": fake, "fake_score": fake_score, "fake_features": fake_features}
        total, means = objective(config, "g", terms, tensors)
        return total, (means, stats)

    (g_loss, (g_terms, g_stats)), g_grads = jax.value_and_grad(generator_loss, has_aux=True)(
        state.params["g"]
    )
    g_params, g_opt = optim.update(config, "g", state.params["g"], state.opt_state["g"], g_grads)
    metrics = {
        "d_loss": d_metrics.pop("loss").mean(),
        **{f"d_{k}": v.mean() for k, v in d_metrics.items()},
        "g_loss": g_loss,
        **{f"g_{k}": v for k, v in g_terms.items()},
    }
    return (
        {"g": g_params, "d": d_params},
        {"g": g_stats, "d": d_stats},
        {"g": g_opt, "d": d_opt},
        metrics,
    )


def train_step(
    config: DCGANConfig, state: State, batch: jnp.ndarray, key: jax.Array
) -> tuple[State, dict[str, jnp.ndarray]]:
    """n_critic critic updates, then one generator update."""
    params, stats, opt_state, metrics = gan_update(config, state, batch, key)
    return State(state.step + 1, params, stats, opt_state), metrics


def score(config: DCGANConfig, state: State, x: jnp.ndarray) -> Scores:
    """-D(x) per sample (inference-mode statistics): the discriminator's unrealness."""
    _, discriminator = networks(config, x)
    (realness, _), _ = apply(
        discriminator, state.params["d"], state.batch_stats["d"], x, train=False
    )
    return Scores(heads={"discriminator": -realness}, default=config.score_head)


def generate(config: DCGANConfig, state: State, z: jnp.ndarray, like: jnp.ndarray) -> jnp.ndarray:
    """G(z) in inference mode, for data shaped like `like`."""
    generator, _ = networks(config, like)
    out, _ = apply(generator, state.params["g"], state.batch_stats["g"], z, train=False)
    return out


def critic_features(config: DCGANConfig, state: State, x: jnp.ndarray) -> jnp.ndarray:
    """D's last hidden features of `x` in inference mode (for feature matching)."""
    _, discriminator = networks(config, x)
    (_, features), _ = apply(
        discriminator, state.params["d"], state.batch_stats["d"], x, train=False
    )
    return features


def samples(config: DCGANConfig, state: State, key: jax.Array, like: jnp.ndarray) -> jnp.ndarray:
    """len(like) samples G(z), z from the prior, shaped like `like` (for plots/samples.png)."""
    return generate(config, state, sample_prior(config, key, like.shape[0]), like)


TINY = {
    "image_size": 16,
    "latent": 4,
    "features": 4,
    "hidden": (8,),
    "batch_size": 8,
    "epochs": 1,
    "min_updates": 0,
}
"""Small networks for tests and smoke benchmarks (shared by the detectors built on these GANs)."""


def _register(name: str, config_cls: type, **tiny: Any) -> Detector:
    return register(
        Detector(
            name=name,
            config_cls=config_cls,
            init=init,
            train_step=train_step,
            score=score,
            tiny={**TINY, **tiny},
            samples=samples,
        )
    )


DCGAN = _register("dcgan", DCGANConfig)
WGAN = _register("wgan", WGANConfig, n_critic=2)
WGAN_GP = _register("wgan-gp", WGANGPConfig, n_critic=2)
