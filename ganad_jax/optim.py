"""One optimizer path for every network of every detector.

A config declares each network's default optimizer as data (`Spec`, from its
`optimizer_spec(network)`); `config.optimizers[network]` replaces it with any optax
transformation. `make` builds the network's transformation, followed by `track_average` when the
config's `ema_decay` is nonzero; `update` is the one update helper every train step uses, and
`scoring_state` the state whose weights every score reads (the moving averages where they are
kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

NAMES = ("adam", "rmsprop", "sgd")

RMSPROP_FORMS = {"optax": (0.9, 1e-8), "torch": (0.99, 1e-8), "tf": (0.9, 1e-10)}
"""RMSProp's forms and each one's default (decay, eps), every form with v the moving average
v = decay v + (1 - decay) g^2 and the step p -= lr g / denominator:

- "optax": `optax.rmsprop`'s, v starts at 0, denominator sqrt(v + eps);
- "torch": PyTorch's `torch.optim.RMSprop` (alpha 0.99, eps 1e-8), v starts at 0, denominator
  sqrt(v) + eps (epsilon outside the square root);
- "tf": TensorFlow 1's `tf.train.RMSPropOptimizer` (decay 0.9, epsilon 1e-10, momentum 0), v
  starts at 1 (its "rms" slot is made with `ones_initializer`, tensorflow/python/training/
  rmsprop.py), denominator sqrt(v + eps)."""


def check_form(form: str) -> str:
    """`form` if it is one of `RMSPROP_FORMS`, else ValueError."""
    if form not in RMSPROP_FORMS:
        raise ValueError(f"rmsprop form must be one of {', '.join(RMSPROP_FORMS)}, got {form!r}")
    return form


@dataclasses.dataclass(frozen=True)
class Spec:
    """A named optimizer and its hyper-parameters: "adam" (lr, b1, b2, eps), "rmsprop" (lr,
    decay, eps, `form`, one of `RMSPROP_FORMS`; optax's by default) or "sgd" (lr)."""

    name: str
    lr: float
    b1: float = 0.9
    b2: float = 0.999
    decay: float = 0.9
    eps: float = 1e-8
    form: str = "optax"

    @classmethod
    def rmsprop(cls, lr: float, form: str) -> Spec:
        """RMSProp in `form` with that form's default decay and eps (see `RMSPROP_FORMS`)."""
        decay, eps = RMSPROP_FORMS[check_form(form)]
        return cls("rmsprop", lr, decay=decay, eps=eps, form=form)

    def build(self) -> optax.GradientTransformation:
        """The optax transformation."""
        if self.name == "adam":
            return optax.adam(self.lr, b1=self.b1, b2=self.b2, eps=self.eps)
        if self.name == "rmsprop":
            check_form(self.form)
            # optax's own arguments give the other forms exactly: where epsilon goes and where
            # the moving average starts.
            return optax.rmsprop(
                self.lr,
                decay=self.decay,
                eps=self.eps,
                eps_in_sqrt=self.form != "torch",
                initial_scale=1.0 if self.form == "tf" else 0.0,
            )
        if self.name == "sgd":
            return optax.sgd(self.lr)
        raise ValueError(f"optimizer must be one of {', '.join(NAMES)}, got {self.name!r}")


class AverageState(NamedTuple):
    """The moving average of a network's weights that `track_average` keeps."""

    average: Any


def _identity(params: Any) -> Any:
    return params


def track_average(
    decay: float, constrain: Callable[[Any], Any] = _identity
) -> optax.GradientTransformation:
    """An optax transformation that passes the updates through unchanged and keeps an exponential
    moving average of the updated parameters in its state, as TensorFlow's
    `ExponentialMovingAverage` does: it starts at the initial weights and after every update
    moves by `average -= (1 - decay) * (average - params)`. `constrain` is what the train step
    does to the updated weights (WGAN's clipping), so the average follows the weights kept."""

    def init_fn(params: Any) -> AverageState:
        return AverageState(jax.tree.map(jnp.copy, params))

    def update_fn(updates: Any, state: AverageState, params: Any) -> tuple[Any, AverageState]:
        new = constrain(optax.apply_updates(params, updates))
        average = jax.tree.map(lambda a, p: a - (1 - decay) * (a - p), state.average, new)
        return updates, AverageState(average)

    return optax.GradientTransformation(init_fn, update_fn)


def make(
    config: Any,
    network: str,
    constrain: Callable[[Any], Any] = _identity,
    average: bool = True,
) -> optax.GradientTransformation:
    """The optimizer of `network`: `config.optimizers[network]` if given, else
    `config.optimizer_spec(network)`; followed by `track_average` when `config.ema_decay` > 0
    and `average` (False for what is not a network's weights, such as a latent search)."""
    if network in config.optimizers:
        optimizer = config.optimizers[network]
    else:
        optimizer = config.optimizer_spec(network).build()
    if config.ema_decay and average:
        return optax.chain(optimizer, track_average(config.ema_decay, constrain))
    return optimizer


def init(config: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The optimizer state of every network in `params`."""
    return {name: make(config, name).init(p) for name, p in params.items()}


def update(
    config: Any,
    network: str,
    params: Any,
    opt_state: Any,
    grads: Any,
    constrain: Callable[[Any], Any] = _identity,
) -> tuple[Any, Any]:
    """One optimizer update of `network`'s params, then `constrain` on the result; returns
    (params, opt_state)."""
    params, opt_state = step(make(config, network, constrain), params, opt_state, grads)
    return constrain(params), opt_state


def step(
    optimizer: optax.GradientTransformation, params: Any, opt_state: Any, grads: Any
) -> tuple[Any, Any]:
    """One update of `params` by `optimizer`; returns (params, opt_state). Every update of the
    package goes through here (train steps and latent searches).

    It runs under JAX's standard dtype promotion: optax combines its int32 step counts with
    float hyper-parameters (Adam's bias correction `b1 ** count`), which the strict promotion the
    test suite runs under refuses, while the package's own code stays strict."""
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state


def averaged_params(params: dict[str, Any], opt_state: dict[str, Any]) -> dict[str, Any]:
    """`params` with each network's moving average (see `track_average`) in place of its weights
    where its optimizer keeps one."""

    def is_average(node: Any) -> bool:
        return isinstance(node, AverageState)

    out = {}
    for name, weights in params.items():
        found = [
            node
            for node in jax.tree.leaves(opt_state.get(name, ()), is_leaf=is_average)
            if is_average(node)
        ]
        out[name] = found[0].average if found else weights
    return out


def scoring_state(state: Any) -> Any:
    """`state` with the weights to score with: the moving averages where `ema_decay` keeps them,
    else the trained weights (the same state)."""
    params = averaged_params(state.params, state.opt_state)
    if all(params[name] is state.params[name] for name in params):
        return state
    return state.replace(params=params)
