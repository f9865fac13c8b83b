"""GAN ensembles of any registered detector, over stacked parameters under `vmap`.

Han, Chen and Liu, "GAN Ensemble for Anomaly Detection", AAAI 2021, arXiv:2012.07988.

An ensemble holds I generators G_1..G_I and J discriminators D_1..D_J of one base detector: the
discriminators are the networks the base names in `Detector.discriminators` (e.g. "d", or EGBAD's
"d_xz"), the generator is all its other networks (e.g. GANomaly's "g", EGBAD's "e" and "g"). Each
side is stacked along a leading member axis (I or J long) in every leaf of `State.params`,
`State.batch_stats` and `State.opt_state`; `State.step` stays one scalar.

    objective   sum_{i,j} L_base(G_i, D_j)
    A(x)      = 1/|P| sum_{(i,j) in P} A_base(x; G_i, D_j)      (every head of the base score)

where P is the set of all I x J pairs (the paper) or, in the independent mode, the I pairs (i, i).
The per-pair scores are extra heads named "HEAD/gIdJ"; anomaly maps and reconstructions are the
means over P. Generated samples (where the base has them) come from the generators in turn.

Training modes ("pair", "all" and "independent": one base `train_step` per updated pair, the
base's own losses and optimisers):
- "pair" (the paper's Algorithm 1): each step one pair (i, j), drawn uniformly by key, is updated;
- "all": each step every pair is updated once, in max(I, J) rounds of min(I, J) disjoint pairs
  (round r pairs generator i with discriminator (i + r) mod max(I, J)), each round one mapped base
  step (`map_members`); the rounds run in that fixed order;
- "independent" (I == J): generator i only ever meets discriminator i, so member i is the base
  detector trained alone, and all members train in one mapped step;
- "code" (the released code's iteration, below): each step every discriminator is updated once,
  then every generator once, on losses averaged over the other side:

      D_j <- opt(D_j, grad_D_j 1/I sum_i L_D(G_i, D_j; x, z_ij))          for every j
      G_i <- opt(G_i, grad_G_i 1/J sum_j L_G(G_i, D_j'; x, z_i))           for every i

  with D_j' the updated discriminators, a fresh z_ij ~ prior per (i, j) on the discriminator side
  and one z_i per generator, met by every D_j'. L_D and L_G are the base's two objectives as pure
  losses (`SeparableLosses`: for the BiGAN family BiGAN, EGBAD, ALAD and CE-BiGAN, the
  `bigan.AdversarialStep` that is their train step, so the code mode and the base step
  differentiate the same loss functions); a base without them is refused with a ValueError when
  the ensemble is built (`ensemble`, or `parse_spec` given the base). A discriminator's BatchNorm
  statistics pass from its pass against G_i to the next (the code's running averages do); the
  generator side keeps those of its own update, as the base step does. The discriminators'
  updates are mapped, then the generators' (`map_members`), each member's networks with the
  base's optimiser (`optim.update`).

Keys (so that a member can be reproduced alone): member m (m < max(I, J)) is initialised by the
base `init` with `fold_in(init_key, m)`; generator i takes member i's generator networks and
discriminator j member j's discriminators. A pair's base step gets `fold_in(step_key, p)`, p its
index: p = i * J + j in the "pair", "all" and "code" modes, p = i in the independent mode; the
"pair" mode draws p from `fold_in(step_key, I * J)`. So independent member i equals the base
detector trained by the same loop with its init and step keys folded with i (tests/test_ensemble.py
checks it). In the code mode pair p's key is split as the base step splits its own
(`step_keys`: prior and dropout keys of the discriminators' objective, then of the generators'):
D_j's loss against G_i draws z_ij and its dropout from pair p's discriminator keys, G_i draws z_i
from pair (i, 0)'s generator prior key and meets D_j' with pair p's generator dropout key (pair
(i, j > 0)'s generator prior keys go unused). So a 1x1 code ensemble takes the base step of
`fold_in(step_key, 0)`, as a 1x1 ensemble of the other modes does. The base step sees the
ensemble's step counter; batch statistics, optimiser states and metrics are the base's (metrics
averaged over the updated pairs).

The released code (github.com/tufts-ml/GAN-Ensemble-for-Anomaly-Detection, models/egbad_mxn.py
and models/egbad_KDD99.py, `train_epoch`, as models/skipgan_mxn.py for Skip-GANomaly) does
not train pairs as Algorithm 1 does: each iteration updates every D_j once on the sum of its
cross-entropies against every G_i divided by n_G, then every generator (EGBAD: encoder and
decoder) once on its cross-entropies against every updated D_j divided by n_D, each D_j and each
G_i drawing its own batch (`next(iter(loader))`: the first batch of a fresh shuffle of its own
loader) and a fresh z per (D_j, G_i) and per G_i. The "code" mode is that iteration; "pair" is the
paper's algorithm as written, "all" and "independent" are ours. On KDD Cup 99 the code scores
EGBAD with D's cross-entropy of the real pair, -log D(x, E(x)) (EGBAD's head "discriminator", see
`egbad.py`), averaged over all pairs as every head is here.

Deviations from the released code, and why:
- members are mapped with `map_members` (vmapped, or unrolled for images on CPU) instead of a
  Python loop, which changes results only by float rounding;
- "code": every member sees the step's one batch, where the code draws one batch per member (and
  one for the discriminators' step and another for the generators' step). The trainer gives a
  step one batch of the epoch's permutation; a member's own batch would need the trainer to draw
  I + J batches per step. Shuffles of the step's batch per member would not be the code's
  independent batches (the same examples, and every loss here is order-invariant), and splitting
  the batch into I + J parts would shrink each member's batch; so none is done. (EGBAD's own
  step has the same difference from its code, see `egbad.py`.) Data order comes from the keys;
- "code": the losses are the base's, whose cross-entropies are the mean of the real and the fake
  part (BiGAN family: BCE / 2 + BCE / 2) where the code sums the two: half the code's loss, the
  same Adam update up to Adam's epsilon;
- "code": the code's E and G forward passes in the discriminators' step (and the discriminators'
  in the generators' step) also move their BatchNorm running averages; here, as in the base step,
  each network keeps the statistics of its own update only.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax import optim
from ganad_jax.catalog import ENSEMBLE_MODES
from ganad_jax.detectors import Detector, Scores, State

MODES = ENSEMBLE_MODES
_PARTS = ("params", "batch_stats", "opt_state")

Side = dict[str, dict[str, Any]]


@runtime_checkable
class SeparableLosses(Protocol):
    """What the "code" mode needs of a base detector's `train_step` (the BiGAN family's
    `bigan.AdversarialStep` has it): the step's keys, the prior, and its discriminator and
    generator objectives as pure losses of (config, generator params, discriminator params,
    statistics, x, z, dropout key), each returning (loss, (metrics, the trained side's new
    statistics)); params are {network: tree} of one side."""

    def step_keys(self, key: jax.Array) -> Any:
        """(d_prior, d_dropout, g_prior, g_dropout) keys of one step."""

    def prior(self, config: Any, key: jax.Array, x: jnp.ndarray) -> jnp.ndarray:
        """One latent draw per example of x."""

    def discriminator_loss(self, config: Any, *args: Any) -> tuple[jnp.ndarray, Any]:
        """The discriminators' objective."""

    def generator_loss(self, config: Any, *args: Any) -> tuple[jnp.ndarray, Any]:
        """The generator side's objective."""


@dataclasses.dataclass(frozen=True)
class EnsembleDetector(Detector):
    """A detector whose state stacks `n_generators` generators and `n_discriminators`
    discriminators of `base`; its config is the base's config."""

    base: Detector | None = None
    n_generators: int = 1
    n_discriminators: int = 1
    mode: str = "pair"

    @property
    def modalities(self) -> tuple[str, ...]:
        """The base's: an ensemble takes what its members take."""
        return self.base.modalities

    @property
    def description(self) -> str:
        """What it is, of which base."""
        return (
            f"GAN ensemble ({self.n_generators}x{self.n_discriminators}, {self.mode}; "
            f"Han et al., AAAI 2021) of {self.base.name}"
        )

    def check_member_shards(self, shards: int) -> None:
        """ValueError unless `shards` divides both sides' member counts."""
        if self.n_generators % shards or self.n_discriminators % shards:
            raise ValueError(
                f"ensemble_shards={shards} must divide the ensemble's "
                f"{self.n_generators} generators and {self.n_discriminators} discriminators"
            )

    @property
    def spec(self) -> str:
        """The ensemble's shape and mode as the command line writes it, e.g. "3x3:pair"."""
        return f"{self.n_generators}x{self.n_discriminators}:{self.mode}"


def parse_spec(text: str, base: Detector | None = None) -> tuple[int, int, str]:
    """(n_generators, n_discriminators, mode) from "GxD" or "GxD:MODE" (default mode "pair");
    with `base`, ValueError also where the mode cannot train that base."""
    shape, _, mode = text.partition(":")
    mode = mode or "pair"
    try:
        n_g, n_d = (int(v) for v in shape.lower().split("x"))
    except ValueError:
        raise ValueError(f"an ensemble is GxD or GxD:MODE (e.g. 3x3:all), got {text!r}") from None
    _check(n_g, n_d, mode, base)
    return n_g, n_d, mode


def _check(
    n_generators: int, n_discriminators: int, mode: str, base: Detector | None = None
) -> None:
    if n_generators < 1 or n_discriminators < 1:
        raise ValueError(
            f"an ensemble needs >= 1 generator and discriminator, got "
            f"{n_generators}x{n_discriminators}"
        )
    if mode not in MODES:
        raise ValueError(f"ensemble mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "independent" and n_generators != n_discriminators:
        raise ValueError(
            f"the independent mode pairs generator i with discriminator i: it needs as many "
            f"generators as discriminators, got {n_generators}x{n_discriminators}"
        )
    if mode == "code" and base is not None and not isinstance(base.train_step, SeparableLosses):
        raise ValueError(
            f"ensemble mode 'code' needs separate discriminator and generator losses (the BiGAN "
            f"family: bigan, egbad, alad, ce-bigan); {base.name} has one train step only"
        )


def split_state(detector: Detector, state: State) -> tuple[Side, Side]:
    """(generator side, discriminator side) of a state, each {part: {network: tree}}."""

    def side(is_discriminator: bool) -> Side:
        return {
            part: {
                name: tree
                for name, tree in getattr(state, part).items()
                if detector.is_discriminator(name) == is_discriminator
            }
            for part in _PARTS
        }

    return side(False), side(True)


def join_state(step: jnp.ndarray, generator: Side, discriminator: Side) -> State:
    """The state holding both sides (inverse of `split_state`)."""
    return State(step=step, **{part: {**generator[part], **discriminator[part]} for part in _PARTS})


def _take(side: Side, index: Any) -> Side:
    return jax.tree.map(lambda leaf: leaf[index], side)


def _mean(metrics: list[dict[str, jnp.ndarray]]) -> dict[str, jnp.ndarray]:
    return jax.tree.map(lambda *values: jnp.mean(jnp.stack(values)), *metrics)


MAPPINGS = ("auto", "vmap", "unrolled")
"""How `map_members` maps: "auto" (the faster of the two for the backend and data), "vmap" or
"unrolled"."""


def map_members(fn: Any, x: jnp.ndarray, *stacked: Any, mapping: str = "auto") -> Any:
    """`jax.vmap(fn)(*stacked)` over the leading member axis, for members that see the batch `x`.

    For images on CPU ("auto") the members run one after the other instead (unrolled, then
    stacked): XLA:CPU turns per-member convolution kernels under vmap into grouped convolutions
    that run at a fraction of the plain speed (measured with `ganad bench --ensemble`: about 3x
    the cost per member vmapped, 0.9x unrolled), while the matmuls of table and series networks
    batch well. Both give the same values up to float rounding; unrolled, each member is the
    computation one member alone runs (`mapping` "vmap" or "unrolled" forces one)."""
    if mapping not in MAPPINGS:
        raise ValueError(f"mapping must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    if mapping == "vmap" or (mapping == "auto" and (jax.default_backend() != "cpu" or x.ndim != 4)):
        return jax.vmap(fn)(*stacked)
    n = jax.tree.leaves(stacked)[0].shape[0]
    outs = [fn(*(jax.tree.map(lambda leaf, i=i: leaf[i], s) for s in stacked)) for i in range(n)]
    return jax.tree.map(lambda *values: jnp.stack(values), *outs)


def pair_state(
    detector: EnsembleDetector, state: State, generator: int, discriminator: int
) -> State:
    """The base detector's state made of generator `generator` and discriminator `discriminator`
    of an ensemble state (member i of an independent ensemble is pair (i, i))."""
    gen, disc = split_state(detector.base, state)
    return join_state(state.step, _take(gen, generator), _take(disc, discriminator))


def _rounds(n_generators: int, n_discriminators: int) -> tuple[np.ndarray, np.ndarray]:
    """(generators, discriminators), each (rounds, pairs): every pair once, rounds disjoint."""
    size = max(n_generators, n_discriminators)
    gens, discs = [], []
    for r in range(size):
        pairs = [
            (i, (i + r) % size) for i in range(n_generators) if (i + r) % size < n_discriminators
        ]
        gens.append([i for i, _ in pairs])
        discs.append([j for _, j in pairs])
    return np.asarray(gens, np.int32), np.asarray(discs, np.int32)


def ensemble(
    detector: Detector, n_generators: int, n_discriminators: int, mode: str = "pair"
) -> EnsembleDetector:
    """`detector` as a GAN ensemble of `n_generators` x `n_discriminators` (see the module doc);
    the result satisfies the detector contract and takes the base detector's config."""
    _check(n_generators, n_discriminators, mode, detector)
    base = detector
    n_g, n_d = n_generators, n_discriminators

    def split(state: State) -> tuple[Side, Side]:
        gen, disc = split_state(base, state)
        if not jax.tree.leaves(disc["params"]) or not jax.tree.leaves(gen["params"]):
            raise ValueError(
                f"{base.name}: an ensemble needs generator and discriminator networks; the state "
                f"has {sorted(state.params)}, the detector names {base.discriminators} as "
                "discriminators"
            )
        return gen, disc

    def init(config: Any, key: jax.Array, sample_batch: jnp.ndarray) -> State:
        """Initialise max(I, J) base members from fold_in(key, m) and keep I generators and J
        discriminators of them."""
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(max(n_g, n_d)))
        members = jax.vmap(lambda k: base.init(config, k, sample_batch))(keys)
        gen, disc = split(members)
        return join_state(jnp.zeros((), jnp.int32), _take(gen, slice(n_g)), _take(disc, slice(n_d)))

    def update(config, step, gen, disc, x, keys):
        """One base step per (generator, discriminator) of the stacked sides, vmapped."""

        def one(g, d, k):
            new, metrics = base.train_step(config, join_state(step, g, d), x, k)
            new_g, new_d = split_state(base, new)
            return new_g, new_d, metrics

        return map_members(one, x, gen, disc, keys)

    def update_pairs(config, step, gen, disc, x, gens, discs, key):
        """Gather the pairs (gens[k], discs[k]) (no index twice), update them, scatter back."""
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, gens * n_d + discs)
        new_g, new_d, metrics = update(config, step, _take(gen, gens), _take(disc, discs), x, keys)

        def scatter(side, new, index):
            return jax.tree.map(lambda leaf, value: leaf.at[index].set(value), side, new)

        return scatter(gen, new_g, gens), scatter(disc, new_d, discs), metrics

    def optimise(config, side, grads):
        """A member's side after one optimiser update of each of its networks."""
        params, opt_state = {}, {}
        for n in side["params"]:
            params[n], opt_state[n] = optim.update(
                config, n, side["params"][n], side["opt_state"][n], grads[n]
            )
        return params, opt_state

    def code_update(config, gen, disc, x, key):
        """The released code's iteration (see the module doc): every discriminator on its loss
        averaged over the generators, then every generator against the updated discriminators."""
        losses = base.train_step
        pairs = np.arange(n_g * n_d).reshape(n_g, n_d)  # [i, j] = i * J + j

        def pair_keys(p):
            """The base step keys of fold_in(key, p) for each pair index in `p` (any shape)."""
            flat = jax.vmap(lambda q: losses.step_keys(jax.random.fold_in(key, q)))(p.ravel())
            return jax.tree.map(lambda k: k.reshape(p.shape), flat)

        def discriminator(d, priors, dropouts):
            """D_j: mean of its loss against each G_i (its statistics passed on from one to the
            next, as the code's running averages are)."""

            def loss(params):
                stats, values, metrics = d["batch_stats"], [], []
                for i in range(n_g):
                    g = _take(gen, i)
                    z = losses.prior(config, priors[i], x)
                    stats = {**g["batch_stats"], **stats}
                    value, (m, stats) = losses.discriminator_loss(
                        config, g["params"], params, stats, x, z, dropouts[i]
                    )
                    values.append(value)
                    metrics.append(m)
                return sum(values) / n_g, (_mean(metrics), stats)

            grads, (metrics, stats) = jax.grad(loss, has_aux=True)(d["params"])
            params, opt_state = optimise(config, d, grads)
            return {"params": params, "batch_stats": stats, "opt_state": opt_state}, metrics

        d_keys = pair_keys(pairs.T)  # [j, i]: discriminator j's row
        disc, d_metrics = map_members(discriminator, x, disc, d_keys.d_prior, d_keys.d_dropout)

        def generator(g, priors, dropouts):
            """G_i: one z (from pair (i, 0)'s key), met by each updated D_j; mean of the
            losses."""
            z = losses.prior(config, priors[0], x)

            def loss(params):
                values, aux = [], []
                for j in range(n_d):
                    d = _take(disc, j)
                    stats = {**g["batch_stats"], **d["batch_stats"]}
                    value, out = losses.generator_loss(
                        config, params, d["params"], stats, x, z, dropouts[j]
                    )
                    values.append(value)
                    aux.append(out)
                # The generator side's new statistics are the same against every D_j (its
                # networks see the same x and z): the first's are kept.
                return sum(values) / n_d, (_mean([m for m, _ in aux]), aux[0][1])

            grads, (metrics, stats) = jax.grad(loss, has_aux=True)(g["params"])
            params, opt_state = optimise(config, g, grads)
            return {"params": params, "batch_stats": stats, "opt_state": opt_state}, metrics

        g_keys = pair_keys(pairs)  # [i, j]: generator i's row
        gen, g_metrics = map_members(generator, x, gen, g_keys.g_prior, g_keys.g_dropout)
        return gen, disc, {**d_metrics, **g_metrics}

    def train_step(
        config: Any, state: State, x: jnp.ndarray, key: jax.Array
    ) -> tuple[State, dict[str, jnp.ndarray]]:
        """Update the mode's pairs with base steps (or, in the code mode, every member once);
        metrics are means over the updated pairs."""
        gen, disc = split(state)
        if mode == "code":
            gen, disc, metrics = code_update(config, gen, disc, x, key)
        elif mode == "independent":
            keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(n_g))
            gen, disc, metrics = update(config, state.step, gen, disc, x, keys)
        elif mode == "pair":
            p = jax.random.randint(jax.random.fold_in(key, n_g * n_d), (1,), 0, n_g * n_d)
            gen, disc, metrics = update_pairs(
                config, state.step, gen, disc, x, p // n_d, p % n_d, key
            )
        else:
            # Unrolled rather than a lax.scan: XLA:CPU runs a training update inside a loop body
            # many times slower than the same update in straight-line code.
            rounds = []
            for gens, discs in zip(*_rounds(n_g, n_d), strict=True):
                gen, disc, metrics = update_pairs(
                    config, state.step, gen, disc, x, gens, discs, key
                )
                rounds.append(metrics)
            metrics = jax.tree.map(lambda *values: jnp.stack(values), *rounds)
        new = join_state(state.step + 1, gen, disc)
        return new, jax.tree.map(jnp.mean, metrics)

    def score(config: Any, state: State, x: jnp.ndarray) -> Scores:
        """Mean of the base scores over the mode's pairs, plus one head per pair."""
        gen, disc = split(state)

        def pair(g, d):
            return base.score(config, join_state(state.step, g, d), x)

        if mode == "independent":
            out = map_members(pair, x, gen, disc)
            names = [f"g{i}d{i}" for i in range(n_g)]
        else:
            gens, discs = np.divmod(np.arange(n_g * n_d), n_d)
            out = map_members(pair, x, _take(gen, gens), _take(disc, discs))
            names = [f"g{i}d{j}" for i in range(n_g) for j in range(n_d)]
        heads = {name: v.mean(axis=0) for name, v in out.heads.items()}
        for head, values in out.heads.items():
            heads.update({f"{head}/{pair_name}": values[k] for k, pair_name in enumerate(names)})
        return Scores(
            heads=heads,
            default=out.default,
            anomaly_map=None if out.anomaly_map is None else out.anomaly_map.mean(axis=0),
            reconstruction=None if out.reconstruction is None else out.reconstruction.mean(axis=0),
        )

    def samples(config: Any, state: State, key: jax.Array, like: jnp.ndarray) -> jnp.ndarray:
        """len(like) generated samples, sample k from generator k mod I (key folded with i)."""
        gen, disc = split(state)
        first_disc = _take(disc, 0)
        keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(n_g))
        out = jax.vmap(
            lambda g, k: base.samples(config, join_state(state.step, g, first_disc), k, like)
        )(gen, keys)
        rows = jnp.arange(like.shape[0])
        return out[rows % n_g, rows]

    return EnsembleDetector(
        name=f"{base.name}-ensemble{n_g}x{n_d}-{mode}",
        config_cls=base.config_cls,
        init=init,
        train_step=train_step,
        score=score,
        tiny=base.tiny,
        discriminators=base.discriminators,
        samples=None if base.samples is None else samples,
        base=base,
        n_generators=n_g,
        n_discriminators=n_d,
        mode=mode,
    )
