"""The detector contract and the registry.

A detector is a frozen config dataclass plus three pure functions over pytrees:

- ``init(config, key, sample_batch) -> State``
- ``train_step(config, state, batch, key) -> (State, metrics)``, jitted once by the trainer with the
  config closed over and the state donated
- ``score(config, state, batch) -> Scores``, per-example score heads (BatchNorm in inference mode,
  so a sample's score never depends on its neighbours)

The trainer, the CLI, the tests and the benchmarks iterate over the registry.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ganad_jax import catalog, losses, optim
from ganad_jax.errors import GanadError


@flax.struct.dataclass
class State:
    """Training state: per-network params, BatchNorm statistics and optimizer states, and the step."""

    step: jnp.ndarray
    params: dict[str, Any]
    batch_stats: dict[str, Any]
    opt_state: dict[str, Any]


@flax.struct.dataclass
class Scores:
    """Per-example score heads, the name of the default head, and optional per-pixel outputs.

    `anomaly_map` is (N, H, W) for image detectors; `reconstruction` is the detector's rendering of
    the input (N, H, W, C) where it has one, for reports.
    """

    heads: dict[str, jnp.ndarray]
    default: str = flax.struct.field(pytree_node=False)
    anomaly_map: jnp.ndarray | None = None
    reconstruction: jnp.ndarray | None = None

    @property
    def value(self) -> jnp.ndarray:
        """The default head: the score used for metrics and thresholds."""
        return self.heads[self.default]


@dataclasses.dataclass(frozen=True)
class Detector:
    """A registered detector: its config class, its three functions and what data it accepts.

    `tiny` holds config overrides that make the networks small, for tests and smoke benchmarks.
    `discriminators` names the keys of `State.params` (and of its batch_stats and opt_state) that
    are discriminators, each with its "NAME_*" variants ("d" covers "d_xz", "d_zz"); the other keys
    are the generator side. Ensembles mix the two sides.
    `samples`, for detectors built on a generator, is `samples(config, state, key, like)`:
    len(like) generated samples shaped like the real batch `like` (runs plot them).
    `search`, for detectors that score by a latent search, is `search(config, state, x)`:
    `(objective, z0, targets, optimizer, steps)`, the arguments of `search.latent_search` that
    scoring `x` runs (`ganad bench` times it against a per-sample loop).
    """

    name: str
    config_cls: type
    init: Callable[..., State]
    train_step: Callable[..., tuple[State, dict[str, jnp.ndarray]]]
    score: Callable[..., Scores]
    tiny: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    discriminators: tuple[str, ...] = ("d",)
    samples: Callable[..., jnp.ndarray] | None = None
    search: Callable[..., tuple] | None = None

    @property
    def modalities(self) -> tuple[str, ...]:
        """The data it takes ("image", "tabular", "series"), from `ganad_jax.catalog`."""
        return catalog.entry(self.name).modalities

    @property
    def description(self) -> str:
        """Its one-line description with its paper, from `ganad_jax.catalog`."""
        return catalog.entry(self.name).description

    def check_member_shards(self, shards: int) -> None:
        """The sharding hook: ValueError unless the leading axis of every leaf of this detector's
        state stacks members that split evenly over `shards` devices of the mesh's "ensemble"
        axis (the trainer then shards them there). A plain detector has no members; ensembles
        override this."""
        raise ValueError(f"ensemble_shards={shards} needs an ensemble, {self.name} is none")

    def is_discriminator(self, network: str) -> bool:
        """Whether `network`, a key of `State.params`, is one of the discriminators."""
        return any(network == d or network.startswith(f"{d}_") for d in self.discriminators)


_DETECTORS: dict[str, Detector] = {}


def _on_scoring_state(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn(config, state, ...)` run on `optim.scoring_state(state)`."""

    @functools.wraps(fn)
    def wrapped(config: Any, state: State, *args: Any) -> Any:
        return fn(config, optim.scoring_state(state), *args)

    return wrapped


def register(detector: Detector) -> Detector:
    """Add a detector to the registry under its name, which `ganad_jax.catalog` must list.

    Its `score`, `samples` and `search` are registered to run on `optim.scoring_state(state)`, so
    every detector scores with the moving averages of its weights when `ema_decay` keeps them."""
    catalog.entry(detector.name)
    wrapped = {
        name: _on_scoring_state(getattr(detector, name))
        for name in ("score", "samples", "search")
        if getattr(detector, name) is not None
    }
    detector = dataclasses.replace(detector, **wrapped)
    _DETECTORS[detector.name] = detector
    return detector


def names() -> list[str]:
    """Names of all registered detectors (from the catalog: nothing is imported)."""
    return catalog.names()


def get(name: str) -> Detector:
    """The detector registered as `name`, importing its module on first use; KeyError with the
    known names otherwise."""
    if name not in _DETECTORS:
        importlib.import_module(f"ganad_jax.detectors.{catalog.entry(name).module}")
    return _DETECTORS[name]


TermFn = Callable[[Mapping[str, jnp.ndarray]], jnp.ndarray]
"""An extra term: a function of a step's named tensors returning one value per example."""


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """The fields every detector's config has; each detector's config derives from it.

    - `HEADS` (a class variable) names the score heads `score()` returns, the default first;
      `score_head` picks the head that metrics and thresholds use. Where a score combines a
      residual with a discriminator-side part, `score_weight` is the weight of the
      discriminator-side part (features, discrimination or latent distance) and the residual
      weighs 1 - `score_weight`, in every detector but f-AnoGAN (whose paper adds its parts).
    - `RANGES` (a class variable) overrides entries of `FIELD_RANGES` for this config.
    - `batch_size`, `epochs`, `min_updates` (the fewest train steps a run makes: its epochs are
      raised to make them; 0 trains the epochs as given), `lr`, `beta1`, `beta2`.
    - `optimizers` replaces the default optimizer of any network (a key of `State.params`, or
      a detector's own, such as AnoGAN's "search") with any optax transformation; the defaults
      are data (`optimizer_spec`), built by `ganad_jax.optim`.
    - `loss_weights` reweighs named terms per objective ({"g": {"contextual": 10.0}}); the
      others keep the paper's weights (`default_loss_weights`). An objective is named by the
      networks it updates ("g", "d", "e", or "eg" where E and G share one loss).
    - `extra_terms` adds terms per objective ({"d": {"hinge": fn}}): `fn` maps the step's named
      tensors (listed in each detector's docstring) to one value per example; an extra term
      weighs 1 unless `loss_weights` gives it another weight.
    - `ema_decay` > 0 keeps an exponential moving average of every network's weights with that
      decay and scores (and samples) with it; 0 uses the trained weights.
    """

    HEADS: ClassVar[tuple[str, ...]] = ()
    RANGES: ClassVar[Mapping[str, Range]] = {}

    batch_size: int = 64
    epochs: int = 15
    min_updates: int = 0
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    optimizers: Mapping[str, optax.GradientTransformation] = dataclasses.field(default_factory=dict)
    loss_weights: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    extra_terms: Mapping[str, Mapping[str, TermFn]] = dataclasses.field(default_factory=dict)
    ema_decay: float = 0.0
    score_head: str = ""

    def __post_init__(self) -> None:
        check_fields(self, {**FIELD_RANGES, **self.RANGES})
        owner = type(self).__name__
        if self.score_head not in self.HEADS:
            raise ConfigError(
                f"{owner}.score_head must be one of {', '.join(self.HEADS)}, "
                f"got {self.score_head!r}"
            )
        defaults = self.default_loss_weights()
        for field in ("loss_weights", "extra_terms"):
            unknown = sorted(set(getattr(self, field)) - set(defaults))
            if unknown:
                raise ConfigError(
                    f"{owner}.{field} names objective {unknown[0]!r}; objectives: "
                    f"{', '.join(sorted(defaults))}"
                )
        for name, fns in self.extra_terms.items():
            for term, fn in fns.items():
                if not callable(fn):
                    raise ConfigError(f"{owner}.extra_terms[{name!r}][{term!r}] is not callable")
        for name, weights in self.loss_weights.items():
            known = set(defaults[name]) | set(self.extra_terms.get(name, {}))
            unknown = sorted(set(weights) - known)
            if unknown:
                raise ConfigError(
                    f"{owner}.loss_weights[{name!r}] names term {unknown[0]!r}; terms: "
                    f"{', '.join(sorted(known))}"
                )

    def default_loss_weights(self) -> dict[str, dict[str, float]]:
        """The paper's weight of every named term, per objective (each detector declares it)."""
        raise NotImplementedError

    def optimizer_spec(self, network: str) -> optim.Spec:
        """The default optimizer of `network`: Adam with the config's lr and betas (the papers'
        choice); detectors with other defaults override this."""
        return optim.Spec("adam", self.lr, b1=self.beta1, b2=self.beta2)

    def weights(self, objective: str) -> dict[str, float]:
        """The weight of every term of `objective`: the defaults, then `loss_weights`, with each
        extra term at 1 unless `loss_weights` weighs it."""
        return {
            **self.default_loss_weights()[objective],
            **dict.fromkeys(self.extra_terms.get(objective, {}), 1.0),
            **self.loss_weights.get(objective, {}),
        }

    @property
    def batch_multiple(self) -> int:
        """What every batch size must be a multiple of (1; GANs with several critic updates
        per step override it)."""
        return 1


def objective(
    config: DetectorConfig,
    name: str,
    terms: Mapping[str, jnp.ndarray],
    tensors: Mapping[str, jnp.ndarray],
    scale: Mapping[str, jnp.ndarray] | None = None,
) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
    """The loss of objective `name`: its per-example `terms` and the config's `extra_terms` of
    it (functions of `tensors`), reduced to batch means and summed with `config.weights(name)`;
    `scale` multiplies some weights by values computed in the step. Returns (loss, {term: batch
    mean})."""
    extra = config.extra_terms.get(name, {})
    terms = {**terms, **{term: fn(tensors) for term, fn in extra.items()}}
    weights = config.weights(name)
    for term, factor in (scale or {}).items():
        weights[term] = weights[term] * factor
    return losses.weighted_sum(terms, weights)


def reconstruction_outputs(x: jnp.ndarray, x_hat: jnp.ndarray) -> dict[str, jnp.ndarray | None]:
    """`Scores`' per-pixel map |x - x_hat| (channel mean) and the reconstruction x_hat, for images
    (rank 4) only: None for rows."""
    if x.ndim != 4:
        return {"anomaly_map": None, "reconstruction": None}
    return {"anomaly_map": jnp.abs(x - x_hat).mean(axis=-1), "reconstruction": x_hat}


def new_state(config: Any, params: dict[str, Any], batch_stats: dict[str, Any]) -> State:
    """The state at step 0 of networks `params` with their statistics and optimizer states."""
    return State(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=batch_stats,
        opt_state=optim.init(config, params),
    )


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-serialisable view of a config; optax transformations and callables become their names."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        return f"<{type(value).__name__}>"

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


class ConfigError(GanadError, ValueError):
    """A config key that does not exist, a value of the wrong type or out of its range."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric option may take: `low` < value (or <= with `closed_low`), value <
    `high` (or <= with `closed_high`); None leaves a side open."""

    low: float | None = None
    high: float | None = None
    closed_low: bool = True
    closed_high: bool = False

    def holds(self, value: float) -> bool:
        """Whether `value` lies in the range."""
        if self.low is not None and (
            value < self.low or (value == self.low and not self.closed_low)
        ):
            return False
        return self.high is None or value < self.high or (value == self.high and self.closed_high)

    def describe(self) -> str:
        """The range in interval notation, e.g. "in (0, 1)" or ">= 1"."""
        if self.high is None:
            return f"{'>=' if self.closed_low else '>'} {_number(self.low)}"
        left, right = "[" if self.closed_low else "(", "]" if self.closed_high else ")"
        return f"in {left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


COUNT = Range(1)
NON_NEGATIVE_COUNT = Range(0)
POSITIVE = Range(0, closed_low=False)
NON_NEGATIVE = Range(0)
FRACTION = Range(0, 1)
UNIT = Range(0, 1, closed_high=True)
SEED = Range(0, 2**32)
"""`jax.random.key` takes seeds below 2**32; larger ones would wrap onto smaller seeds' keys."""

FIELD_RANGES: dict[str, Range] = {
    # sizes and counts
    **dict.fromkeys(
        (
            "batch_size", "epochs", "image_size", "latent", "features", "hidden", "window",
            "n_critic", "discriminator_width", "discriminator_layers", "generator_layers",
            "generator_rounds", "encoder_widths", "generator_widths", "xx_widths", "zz_widths",
        ),
        COUNT,
    ),
    **dict.fromkeys(
        ("adversarial_ramp_steps", "gan_steps", "inversion_steps", "search_steps", "min_updates"),
        NON_NEGATIVE_COUNT,
    ),
    **dict.fromkeys(("search_seed", "inversion_seed"), SEED),
    # optimisation
    **dict.fromkeys(("lr", "d_lr", "encoder_lr", "search_lr", "inversion_lr", "clip"), POSITIVE),
    **dict.fromkeys(("beta1", "beta2", "dropout", "cycle_dropout", "ema_decay"), FRACTION),
    # the score's weight (a convex one but for f-AnoGAN's, see its RANGES), smoothing, slopes
    "score_weight": UNIT,
    **dict.fromkeys(("map_sigma", "slope"), NON_NEGATIVE),
}  # fmt: skip
"""The range of every numeric config field, by name (a config's `RANGES` may override one); a
registry-wide test checks that every numeric field of every registered config has one."""


def check_value(owner: str, name: str, value: Any, hint: Any, valid: Range | None) -> Any:
    """`value` as field `name` of `owner` holds it (a list for a tuple field becomes a tuple);
    ConfigError naming the field, the value and what is allowed when its type or range is wrong."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return value
        (hint,) = [a for a in args if a is not type(None)]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"{owner}.{name} expects true or false, got {value!r}")
        return bool(value)
    if hint in (int, float):
        integral = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
        if not integral and not (hint is float and isinstance(value, (float, np.floating))):
            raise ConfigError(f"{owner}.{name} expects {hint.__name__}, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{owner}.{name} must be finite, got {value!r}")
        if valid is not None and not valid.holds(value):
            raise ConfigError(f"{owner}.{name} must be {valid.describe()}, got {value!r}")
        return int(value) if hint is int else value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{owner}.{name} expects a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            raise ConfigError(f"{owner}.{name} expects a tuple, got {value!r}")
        return tuple(check_value(owner, name, v, args[0], valid) for v in value)
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{owner}.{name} expects a mapping, got {value!r}")
        value_hint = args[1] if len(args) == 2 else Any
        if value_hint is float or typing.get_origin(value_hint) in (Mapping, dict):
            for key, item in value.items():
                check_value(owner, f"{name}[{key!r}]", item, value_hint, None)
        return value
    return value


def check_fields(config: Any, ranges: Mapping[str, Range] = FIELD_RANGES) -> None:
    """Check every field of a frozen dataclass against its type hint and its range in `ranges`
    (called first in each config root's `__post_init__`, and by the run options)."""
    hints = typing.get_type_hints(type(config))
    owner = type(config).__name__
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        checked = check_value(owner, field.name, value, hints[field.name], ranges.get(field.name))
        if checked is not value:
            object.__setattr__(config, field.name, checked)


def _plain_hint(hint: Any) -> Any:
    """`hint` without an Optional around it."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return hint


def _parse_scalar(hint: Any, text: str) -> Any:
    if hint is bool:
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError
        return text.lower() in ("true", "1", "yes")
    return hint(text)


def parse_value(config_cls: type, key: str, text: str) -> Any:
    """Parse `text` as the value of field `key` of `config_cls`, by the field's declared type.

    Scalars (bool, int, float, str) and tuples of them (comma-separated) are accepted; a
    mapping of weights is set one entry at a time with a dotted key ("loss_weights.g.contextual"
    gives {"g": {"contextual": value}}, which `merge_setting` folds into earlier entries). Other
    fields (optax transformations, functions) are refused: they go through the Python API."""
    name, _, path = key.partition(".")
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if name not in fields:
        raise ConfigError(
            f"{config_cls.__name__} has no field {name!r}; fields: {', '.join(sorted(fields))}"
        )
    hint = _plain_hint(typing.get_type_hints(config_cls)[name])
    keys = path.split(".") if path else []
    for depth in range(len(keys)):  # one mapping level per dotted key
        if typing.get_origin(hint) not in (Mapping, dict):
            raise ConfigError(f"{'.'.join([name, *keys[:depth]])} is not a mapping")
        hint = typing.get_args(hint)[1]
    if _weights(hint):
        raise ConfigError(f"{key} is a mapping: set one entry with --set {key}.NAME=VALUE")
    element = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else hint
    if element not in (bool, int, float, str):
        raise ConfigError(
            f"{key} holds Python objects and cannot be set from the command line; "
            "set it through the Python API"
        )
    try:
        if typing.get_origin(hint) is tuple:
            value: Any = tuple(_parse_scalar(element, v) for v in text.split(",") if v)
        else:
            value = _parse_scalar(element, text)
    except ValueError:
        raise ConfigError(f"{key} expects {element.__name__}, got {text!r}") from None
    for part in reversed(keys):
        value = {part: value}
    return value


def _weights(hint: Any) -> bool:
    """Whether `hint` is a mapping of numbers, or of such mappings (a dotted setting's field)."""
    if typing.get_origin(hint) not in (Mapping, dict):
        return False
    value = typing.get_args(hint)[1]
    return value is float or _weights(value)


def merge_setting(old: Any, new: Any) -> Any:
    """`new` over `old`, merging nested mappings (two dotted settings of one field)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        return {**old, **{k: merge_setting(old.get(k), v) for k, v in new.items()}}
    return new


@jax.jit
def tree_is_finite(tree: Any) -> jnp.ndarray:
    """True when every floating leaf of `tree` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.floating)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
