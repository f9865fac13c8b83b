"""BiGAN: bidirectional GAN (adversarial feature learning), and what the BiGAN family shares.

Donahue, Kraehenbuehl and Darrell, ICLR 2017, arXiv:1605.09782 (ALI: Dumoulin et al., same venue).

An encoder E (x -> z) and a generator G (z -> x) are trained against one discriminator D(x, z) that
tells encoder pairs (x, E(x)) from generator pairs (G(z), z), z ~ N(0, I):

    L_D  = BCE(D(x, E(x)), 1) / 2 + BCE(D(G(z), z), 0) / 2
    L_EG = BCE(D(G(z), z), 1) / 2 + BCE(D(x, E(x)), 0) / 2      (the same loss, labels swapped)
    A(x) = ||x - G(E(x))||_1                 (head "reconstruction", the default)
    A'(x) = BCE(D(x, E(x)), 1)               (head "discriminator")

One training step updates every discriminator of the detector (names "d_*") on one draw of z,
then E and G jointly on a fresh draw against the updated discriminators, as the EGBAD/ALAD code
does (dropout masks differ per call; E's and G's BatchNorm statistics are kept from their own
update only). EGBAD, ALAD and the consistency-ensured BiGAN reuse `init_networks`, the step
(`train_step_for`, an `AdversarialStep`), the BiGAN terms and the network builders below with their
own terms and scores. The step's two objectives are also pure losses of their own,
`AdversarialStep.discriminator_loss` and `.generator_loss` (functions of E and G's params, the
discriminators' params, the statistics, x, z and a dropout key): the step differentiates them, and
so does the GAN ensemble's "code" mode (`ensemble.py`), which averages them over its members.

Defaults: Adam(2e-4, beta1 0.5), batch 128, latent 50 (Donahue et al.'s MNIST setting); the
networks are the DCGAN encoder/decoder for images and the EGBAD/ALAD tabular MLPs for rows (E and
G from `nn/mlp.py`: Flax's default initialisation and LeakyReLU 0.2 where the EGBAD code uses
Glorot and 0.1); 100 epochs (our choice) and at least 2,000 training steps (`min_updates`, for
the whole family: BiGAN, EGBAD, ALAD, CE-BiGAN): where the epochs make fewer, as on small tables
(100 epochs of batch 128 are 100 steps on 150-250 rows), the run trains the fewest whole epochs
that make 2,000, what PyOD's ALAD (200 epochs of batch 32) makes on a table of 320 rows; the
family's Arrhythmia runs (`experiments/bigan_family_tabular.py`) train 4,000. Runs whose epochs
make 2,000 (KDD Cup 99, image sets) are unchanged; 0 turns it off. The released EGBAD/ALAD code
scores with an exponential moving average of the weights, which the papers do not mention:
`ema_decay` turns it on (off by default; the released EGBAD code uses 0.9999, ALAD's 0.999).

Objectives (`loss_weights`, `extra_terms`): "d", every discriminator's terms summed (BiGAN's
"adversarial"), and "eg", E's and G's joint loss ("adversarial"). Extra terms of either read x,
z (the prior's draw), z_hat (= E(x)), x_gen (= G(z)), real_logit (D(x, E(x))) and fake_logit
(D(G(z), z)); ALAD and CE-BiGAN add their own (see their docstrings).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

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
    reconstruction_outputs,
    register,
)
from ganad_jax.nn import apply
from ganad_jax.nn.dcgan import check_image_size
from ganad_jax.nn.joint import (
    BidirectionalEncoder,
    BidirectionalGenerator,
    ConvStack,
    DenseStack,
    JointDiscriminator,
    ProjectionDiscriminator,
)

INPUTS = {"e": ("x",), "g": ("z",), "d_xz": ("x", "z"), "d_xx": ("x", "x"), "d_zz": ("z", "z")}
"""What each network of the family takes, by name (for initialisation)."""


@dataclasses.dataclass(frozen=True)
class BiGANConfig(DetectorConfig):
    """BiGAN hyper-parameters; the other BiGAN-family configs extend this one (the shared fields,
    optimizers, loss weights, extra terms and `ema_decay`, are `DetectorConfig`'s).

    Images use the DCGAN encoder/decoder of width `features` at `image_size`; rows use MLPs with
    hidden `encoder_widths` and `generator_widths`. D's x branch is a DCGAN convolution stack
    (images) or one dense layer of `discriminator_width` (rows), its z branch and joint layer
    have `discriminator_width` units; LeakyReLU `slope` and `dropout` in D (the tabular E takes
    `nn/mlp.py`'s LeakyReLU 0.2, G ReLU).
    `discriminator` is "joint" (BiGAN's concatenation) or "projection" (see `nn/joint.py`).
    `optimizers` may replace the Adam of any network ("e", "g", "d_xz", ...).
    `min_updates` (2,000) is the fewest train steps a run makes: its epochs are raised to make
    them (0: the epochs as given).
    """

    HEADS: ClassVar[tuple[str, ...]] = ("reconstruction", "discriminator")

    image_size: int = 32
    latent: int = 50
    features: int = 64
    encoder_widths: tuple[int, ...] = (64,)
    generator_widths: tuple[int, ...] = (64, 128)
    discriminator_width: int = 128
    discriminator: str = "joint"
    slope: float = 0.2
    dropout: float = 0.2
    batch_size: int = 128
    epochs: int = 100
    min_updates: int = 2000
    score_head: str = "reconstruction"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_image_size(self.image_size)
        if self.discriminator not in ("joint", "projection"):
            raise ValueError(
                f"discriminator must be 'joint' or 'projection', got {self.discriminator!r}"
            )

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """BiGAN's: one adversarial term for the discriminator and for E and G, weight 1."""
        return {"d": {"adversarial": 1.0}, "eg": {"adversarial": 1.0}}


Terms = dict[str, jnp.ndarray]


class Runner:
    """Applies the named networks with given params and statistics.

    With a `key` it runs in training mode: every call draws its own dropout key and the updated
    BatchNorm / spectral-norm statistics are collected in `stats`; without, in inference mode.
    """

    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        params: Mapping[str, Any],
        stats: Mapping[str, Any],
        key: jax.Array | None = None,
    ) -> None:
        self.modules, self.params, self.stats, self.key = modules, params, dict(stats), key
        self._calls = 0

    @classmethod
    def inference(cls, modules: Mapping[str, nn.Module], state: State) -> Runner:
        """A runner in inference mode on the state's weights."""
        return cls(modules, state.params, state.batch_stats)

    def __call__(self, name: str, *inputs: jnp.ndarray) -> Any:
        """The output of network `name` on `inputs` (`ganad_jax.nn.apply`)."""
        train = self.key is not None
        if train:
            self._calls += 1
        key = jax.random.fold_in(self.key, self._calls) if train else None
        out, self.stats[name] = apply(
            self.modules[name], self.params[name], self.stats[name], *inputs, train=train, key=key
        )
        return out


def init_networks(
    config: Any, key: jax.Array, sample_batch: jnp.ndarray, modules: Mapping[str, nn.Module]
) -> State:
    """Initialise every network (inputs by `INPUTS`) and its optimizer state."""
    example = {"x": sample_batch, "z": jnp.zeros((sample_batch.shape[0], config.latent))}
    params, stats = {}, {}
    for name, subkey in zip(sorted(modules), jax.random.split(key, len(modules)), strict=True):
        variables = modules[name].init(subkey, *(example[i] for i in INPUTS[name]), train=False)
        params[name] = variables["params"]
        stats[name] = variables.get("batch_stats", {})
    return new_state(config, params, stats)


TermsFn = Callable[[Any, Runner, jnp.ndarray, jnp.ndarray], tuple[Terms, Terms]]
LossAux = tuple[dict[str, jnp.ndarray], dict[str, Any]]
"""What a loss returns beside its value: the step's metrics ("OBJECTIVE_loss" and the term means
"OBJECTIVE_TERM") and the new BatchNorm statistics of the networks it trains."""


class StepKeys(NamedTuple):
    """The keys of one BiGAN-family step: z ~ N(0, I) and dropout of the discriminators'
    objective, then of E and G's."""

    d_prior: jax.Array
    d_dropout: jax.Array
    g_prior: jax.Array
    g_dropout: jax.Array


@dataclasses.dataclass(frozen=True)
class AdversarialStep:
    """A BiGAN-family detector's `train_step(config, state, x, key)` and its two objectives as
    pure losses, which the step and the GAN ensemble's "code" mode (`ensemble.py`) both
    differentiate.

    `networks(config, x)` builds the modules; the generator side is E and G ("e", "g"), the
    discriminator side every "d_*" network. Both term functions map (config, runner, x, z ~ N(0,
    I)) to (per-example terms, the tensors extra terms read).
    """

    networks: Callable[[Any, jnp.ndarray], Mapping[str, nn.Module]]
    discriminator_terms: TermsFn
    encoder_generator_terms: TermsFn

    def step_keys(self, key: jax.Array) -> StepKeys:
        """The keys of one step, from `split(key, 4)`."""
        d_prior, g_prior, d_dropout, g_dropout = jax.random.split(key, 4)
        return StepKeys(d_prior, d_dropout, g_prior, g_dropout)

    def prior(self, config: Any, key: jax.Array, x: jnp.ndarray) -> jnp.ndarray:
        """One draw z ~ N(0, I) per example of `x`."""
        return jax.random.normal(key, (x.shape[0], config.latent), x.dtype)

    def discriminator_loss(
        self,
        config: Any,
        generator: dict[str, Any],
        discriminator: dict[str, Any],
        stats: Mapping[str, Any],
        x: jnp.ndarray,
        z: jnp.ndarray,
        key: jax.Array,
    ) -> tuple[jnp.ndarray, LossAux]:
        """Objective "d" of the discriminators' params `discriminator` against E and G's
        `generator` on x and the prior draw z, every network in training mode with the
        statistics `stats` and dropout from `key`; aux: (metrics, the discriminators' new
        statistics)."""
        return self._loss(config, "d", generator, discriminator, stats, x, z, key)

    def generator_loss(
        self,
        config: Any,
        generator: dict[str, Any],
        discriminator: dict[str, Any],
        stats: Mapping[str, Any],
        x: jnp.ndarray,
        z: jnp.ndarray,
        key: jax.Array,
    ) -> tuple[jnp.ndarray, LossAux]:
        """Objective "eg" of E and G's params `generator` against the discriminators'
        `discriminator` (as `discriminator_loss`); aux: (metrics, E's and G's new statistics)."""
        return self._loss(config, "eg", generator, discriminator, stats, x, z, key)

    def _loss(self, config, name, generator, discriminator, stats, x, z, key):
        """Objective `name` ("d" or "eg"); aux: (metrics, the new statistics of the side it
        trains)."""
        terms = self.discriminator_terms if name == "d" else self.encoder_generator_terms
        trained = discriminator if name == "d" else generator
        run = Runner(self.networks(config, x), {**generator, **discriminator}, stats, key)
        total, means = objective(config, name, *terms(config, run, x, z))
        metrics = {f"{name}_loss": total, **{f"{name}_{k}": v for k, v in means.items()}}
        return total, (metrics, {n: run.stats[n] for n in trained})

    def __call__(
        self, config: Any, state: State, x: jnp.ndarray, key: jax.Array
    ) -> tuple[State, dict[str, jnp.ndarray]]:
        """One update of all discriminators (objective "d"), then one joint update of E and G
        (objective "eg") against them, each on its own draw of z."""
        keys = self.step_keys(key)
        params, opt_state = dict(state.params), dict(state.opt_state)
        generator, discriminator = split_networks(params)
        d_grads, (d_metrics, d_stats) = jax.grad(
            lambda d: self.discriminator_loss(
                config,
                generator,
                d,
                state.batch_stats,
                x,
                self.prior(config, keys.d_prior, x),
                keys.d_dropout,
            ),
            has_aux=True,
        )(discriminator)
        for n in discriminator:
            params[n], opt_state[n] = optim.update(config, n, params[n], opt_state[n], d_grads[n])
        stats = {**state.batch_stats, **d_stats}

        generator, discriminator = split_networks(params)
        eg_grads, (eg_metrics, eg_stats) = jax.grad(
            lambda g: self.generator_loss(
                config,
                g,
                discriminator,
                stats,
                x,
                self.prior(config, keys.g_prior, x),
                keys.g_dropout,
            ),
            has_aux=True,
        )(generator)
        for n in generator:
            params[n], opt_state[n] = optim.update(config, n, params[n], opt_state[n], eg_grads[n])
        new_state = State(
            step=state.step + 1,
            params=params,
            batch_stats={**stats, **eg_stats},
            opt_state=opt_state,
        )
        return new_state, {**d_metrics, **eg_metrics}


def split_networks(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(E and G, the discriminators "d_*") of a BiGAN-family params dict, each in name order."""
    names = sorted(params)
    return (
        {n: params[n] for n in names if not n.startswith("d_")},
        {n: params[n] for n in names if n.startswith("d_")},
    )


def train_step_for(
    networks_fn: Callable[[Any, jnp.ndarray], Mapping[str, nn.Module]],
    discriminator_terms: TermsFn,
    encoder_generator_terms: TermsFn,
) -> AdversarialStep:
    """A detector's `train_step(config, state, x, key)` on its networks (`networks_fn(config,
    x)`) and terms (an `AdversarialStep`)."""
    return AdversarialStep(networks_fn, discriminator_terms, encoder_generator_terms)


def bigan_tensors(run: Runner, x: jnp.ndarray, z: jnp.ndarray) -> Terms:
    """The tensors of a BiGAN pass: x, z, z_hat = E(x), x_gen = G(z), and D_xz's logits of the
    encoder pair (x, E(x)), "real_logit", and of the generator pair (G(z), z), "fake_logit"."""
    z_hat, x_gen = run("e", x), run("g", z)
    real, _ = run("d_xz", x, z_hat)
    fake, _ = run("d_xz", x_gen, z)
    return {"x": x, "z": z, "z_hat": z_hat, "x_gen": x_gen, "real_logit": real, "fake_logit": fake}


def discriminator_terms(
    config: Any, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[Terms, Terms]:
    """D's BiGAN term: encoder pairs are real, generator pairs fake."""
    t = bigan_tensors(run, x, z)
    return {"adversarial": losses.discriminator_cross_entropy(t["real_logit"], t["fake_logit"])}, t


def encoder_generator_terms(
    config: Any, run: Runner, x: jnp.ndarray, z: jnp.ndarray
) -> tuple[Terms, Terms]:
    """E's and G's BiGAN term: D's loss with the labels swapped (the EGBAD/ALAD code's form)."""
    t = bigan_tensors(run, x, z)
    return {"adversarial": losses.discriminator_cross_entropy(t["fake_logit"], t["real_logit"])}, t


def encoder_generator(config: Any, x: jnp.ndarray) -> dict[str, nn.Module]:
    """E and G for data shaped like `x` (rank 4: DCGAN; rank 2: MLPs)."""
    return {
        "e": BidirectionalEncoder(config.latent, config.features, config.encoder_widths),
        "g": BidirectionalGenerator(x.shape[1:], config.features, config.generator_widths),
    }


def x_body(
    config: Any,
    x: jnp.ndarray,
    dropout: float,
    batch_norm: bool = False,
    spectral_norm: bool = False,
) -> nn.Module:
    """A discriminator's x branch: DCGAN convolutions for images, one dense layer for rows."""
    if x.ndim == 4:
        return ConvStack(config.features, dropout, spectral_norm)
    return DenseStack(
        (config.discriminator_width,), config.slope, dropout, batch_norm, spectral_norm
    )


def xz_discriminator(
    config: Any,
    body: nn.Module,
    dropout: float,
    spectral_norm: bool = False,
) -> nn.Module:
    """D(x, z) on the x branch `body`: concatenating (`config.discriminator` "joint", BiGAN's) or
    projecting ("projection"); `discriminator_width`-unit z branch and joint layer."""
    width, slope = config.discriminator_width, config.slope
    if config.discriminator == "projection":
        return ProjectionDiscriminator(body, width, slope, dropout, spectral_norm)
    return JointDiscriminator(body, (width,), width, slope, dropout, spectral_norm)


def networks(config: BiGANConfig, x: jnp.ndarray) -> dict[str, nn.Module]:
    """E, G and D(x, z) (dropout `config.dropout` in all of D) for data shaped like `x`."""
    body = x_body(config, x, config.dropout)
    return {**encoder_generator(config, x), "d_xz": xz_discriminator(config, body, config.dropout)}


def init(config: BiGANConfig, key: jax.Array, sample_batch: jnp.ndarray) -> State:
    """Initialise E, G and D(x, z) and their Adam states."""
    return init_networks(config, key, sample_batch, networks(config, sample_batch))


train_step = train_step_for(networks, discriminator_terms, encoder_generator_terms)


def score(config: BiGANConfig, state: State, x: jnp.ndarray) -> Scores:
    """L1 reconstruction through E and G (default) and D's -log D(x, E(x))."""
    run = Runner.inference(networks(config, x), state)
    z_hat = run("e", x)
    x_hat = run("g", z_hat)
    logit, _ = run("d_xz", x, z_hat)
    heads = {
        "reconstruction": losses.l1_sum(x, x_hat),
        "discriminator": losses.generator_non_saturating(logit),
    }
    return Scores(heads=heads, default=config.score_head, **reconstruction_outputs(x, x_hat))


def samples(config: Any, state: State, key: jax.Array, like: jnp.ndarray) -> jnp.ndarray:
    """len(like) generated samples G(z), z ~ N(0, I), shaped like the real batch `like`."""
    generator = encoder_generator(config, like)["g"]
    z = jax.random.normal(key, (like.shape[0], config.latent), like.dtype)
    out, _ = apply(generator, state.params["g"], state.batch_stats["g"], z, train=False)
    return out


TINY = {
    "image_size": 16,
    "latent": 8,
    "features": 8,
    "encoder_widths": (16,),
    "generator_widths": (16,),
    "discriminator_width": 16,
    "batch_size": 8,
    "epochs": 1,
    "min_updates": 0,
}
"""Small networks for the tests, shared by the family."""

DETECTOR = register(
    Detector(
        name="bigan",
        config_cls=BiGANConfig,
        init=init,
        train_step=train_step,
        score=score,
        tiny=TINY,
        samples=samples,
    )
)
