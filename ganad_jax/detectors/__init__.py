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
import importlib
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ganad_jax import catalog
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

    def is_discriminator(self, network: str) -> bool:
        """Whether `network`, a key of `State.params`, is one of the discriminators."""
        return any(network == d or network.startswith(f"{d}_") for d in self.discriminators)


_DETECTORS: dict[str, Detector] = {}


def register(detector: Detector) -> Detector:
    """Add a detector to the registry under its name, which `ganad_jax.catalog` must list."""
    catalog.entry(detector.name)
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


class AverageState(NamedTuple):
    """The moving average of a network's weights that `track_average` keeps."""

    average: Any


def track_average(decay: float) -> optax.GradientTransformation:
    """An optax transformation that passes the updates through unchanged and keeps an exponential
    moving average of the updated parameters in its state, as TensorFlow's
    `ExponentialMovingAverage` does: it starts at the initial weights and after every update
    moves by `average -= (1 - decay) * (average - params)`."""

    def init_fn(params: Any) -> AverageState:
        return AverageState(jax.tree.map(jnp.copy, params))

    def update_fn(updates: Any, state: AverageState, params: Any) -> tuple[Any, AverageState]:
        new = optax.apply_updates(params, updates)
        average = jax.tree.map(lambda a, p: a - (1 - decay) * (a - p), state.average, new)
        return updates, AverageState(average)

    return optax.GradientTransformation(init_fn, update_fn)


def make_optimizer(config: Any, network: str) -> optax.GradientTransformation:
    """The optimizer of `network`: the user's optax transformation from `config.optimizers` if
    given, else Adam with the config's learning rate and betas (the papers' choice); followed by
    `track_average` when the config has a nonzero `ema_decay`."""
    custom = getattr(config, "optimizers", None) or {}
    if network in custom:
        optimizer = custom[network]
    else:
        optimizer = optax.adam(config.lr, b1=config.beta1, b2=config.beta2)
    decay = getattr(config, "ema_decay", 0.0)
    return optax.chain(optimizer, track_average(decay)) if decay else optimizer


def averaged_params(state: State) -> dict[str, Any]:
    """`state.params` with each network's moving average (see `track_average`) in place of its
    weights where its optimizer keeps one: the weights to score with."""

    def is_average(node: Any) -> bool:
        return isinstance(node, AverageState)

    params = {}
    for name, weights in state.params.items():
        found = [
            node
            for node in jax.tree.leaves(state.opt_state[name], is_leaf=is_average)
            if is_average(node)
        ]
        params[name] = found[0].average if found else weights
    return params


def apply_updates(
    config: Any, network: str, params: Any, opt_state: Any, grads: Any
) -> tuple[Any, Any]:
    """One optimizer update of `network`'s params; returns (params, opt_state)."""
    updates, opt_state = make_optimizer(config, network).update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


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
    # weights of objectives and scores
    **dict.fromkeys(("alpha", "score_lambda", "dr_lambda"), UNIT),
    **dict.fromkeys(
        ("gp_weight", "discrimination_weight", "kappa", "map_sigma", "slope"), NON_NEGATIVE
    ),
}  # fmt: skip
"""The range of every numeric config field, by name; a registry-wide test checks that every
numeric field of every registered config has one."""


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
        if value_hint is float:
            for key, item in value.items():
                check_value(owner, f"{name}[{key!r}]", item, float, None)
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


def parse_value(config_cls: type, key: str, text: str) -> Any:
    """Parse `text` as the value of field `key` of `config_cls`, by the field's declared type."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    if key not in fields:
        raise ConfigError(
            f"{config_cls.__name__} has no field {key!r}; fields: {', '.join(sorted(fields))}"
        )
    hint = typing.get_type_hints(config_cls)[key]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # an optional field
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    base = hint
    try:
        if base is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return text.lower() in ("true", "1", "yes")
        if base in (int, float, str):
            return base(text)
        if typing.get_origin(base) in (Mapping, dict) and typing.get_args(base)[1:] == (float,):
            pairs = [item.split(":", 1) for item in text.split(",") if item]
            return {name.strip(): float(value) for name, value in pairs}
        if base in (tuple,) or typing.get_origin(base) is tuple:
            return tuple(int(v) for v in text.split(",") if v)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{key} expects {getattr(base, '__name__', base)}, got {text!r}"
        ) from None
    raise ConfigError(
        f"{key} holds Python objects and cannot be set from the command line; "
        "set it through the Python API"
    )


@jax.jit
def tree_is_finite(tree: Any) -> jnp.ndarray:
    """True when every floating leaf of `tree` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.floating)
    ]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)
