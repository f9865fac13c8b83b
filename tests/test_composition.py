"""Every detector is extended the same way: for every objective of every registered detector an
extra term and a reweighted default term change that objective's loss as the weighted sum says;
the moving average of the weights scores every detector; an extra term on a discriminator changes
its gradient by the hand-computed amount."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import sample_inputs, tiny_config, trees_equal

from ganad_jax import detectors, optim, runspec
from ganad_jax.detectors import bigan, gan, ganomaly, mad_gan
from ganad_jax.nn import apply

PROBE = 0.25

# One update per objective and step, so that the reported loss of an objective is the loss of
# the step's first update of it (WGAN's critic and MAD-GAN's generator update several times).
ONE_UPDATE = {"n_critic": 1, "generator_rounds": 1}


def _config(name: str, **overrides):
    cls = detectors.get(name).config_cls
    fields = {f.name for f in dataclasses.fields(cls)}
    return tiny_config(name, **{k: v for k, v in ONE_UPDATE.items() if k in fields}, **overrides)


def _step(detector, config, state, x):
    step = jax.jit(lambda s, b, k: detector.train_step(config, s, b, k))
    return step(state, x, jax.random.key(1))[1]


def _phase(name: str, objective: str) -> dict:
    """f-AnoGAN trains its encoder only after `gan_steps`: test "e" in that phase."""
    if name != "f-anogan":
        return {}
    return {"gan_steps": 0} if objective == "e" else {"gan_steps": 10}


@pytest.mark.parametrize("name", detectors.names())
def test_every_objective_takes_an_extra_term_and_a_new_weight(name):
    detector = detectors.get(name)
    base = _config(name)
    x = jnp.asarray(sample_inputs(name, base, base.batch_size))
    for objective, defaults in base.default_loss_weights().items():
        config = _config(name, **_phase(name, objective))
        state = detector.init(config, jax.random.key(0), x)
        before = _step(detector, config, state, x)
        term, weight = list(defaults.items())[-1]  # DED-GAN ramps its first term from 0
        extended = dataclasses.replace(
            config,
            loss_weights={objective: {term: 2 * weight}},
            extra_terms={objective: {"probe": lambda t: jnp.full(len(x), PROBE)}},
        )
        after = _step(detector, extended, state, x)
        expected = before[f"{objective}_loss"] + PROBE + weight * before[f"{objective}_{term}"]
        np.testing.assert_allclose(after[f"{objective}_loss"], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(after[f"{objective}_probe"], PROBE)


@pytest.mark.parametrize("name", detectors.names())
def test_every_detector_scores_with_the_moving_average(name):
    detector = detectors.get(name)
    config = _config(name, ema_decay=0.5)
    x = jnp.asarray(sample_inputs(name, config, config.batch_size))
    state = detector.init(config, jax.random.key(0), x)
    step = jax.jit(lambda s, k: detector.train_step(config, s, x, k)[0])
    for i in range(2):
        state = step(state, jax.random.key(i))
    averaged = optim.scoring_state(state)
    assert not trees_equal(averaged.params, state.params)
    no_averages = {name: () for name in state.opt_state}
    plain = state.replace(params=averaged.params, opt_state=no_averages)
    scores = detector.score(config, state, x).value
    np.testing.assert_allclose(scores, detector.score(config, plain, x).value, rtol=1e-6)


def _sgd(config, network: str):
    """`config` with plain SGD (lr 1) on `network`, so an update is minus the gradient."""
    return dataclasses.replace(config, optimizers={network: optax.sgd(1.0)})


def _d_update(detector, config, x, network="d"):
    state = detector.init(config, jax.random.key(0), x)
    new, _ = jax.jit(lambda s: detector.train_step(config, s, x, jax.random.key(1)))(state)
    return state, new.params[network]


def _check_gradient(detector, config, x, term, real_output, network="d"):
    """An extra term `PROBE * real_output(params, stats)` on objective "d" moves the SGD update of
    `network` by -PROBE * grad(mean real_output)."""
    config = _sgd(config, network)
    state, plain = _d_update(detector, config, x, network)
    extended = dataclasses.replace(config, extra_terms={"d": {"probe": term}})
    _, probed = _d_update(detector, extended, x, network)
    grads = jax.grad(lambda p: PROBE * real_output(p, state.batch_stats.get(network, {})).mean())(
        state.params[network]
    )
    expected = jax.tree.map(lambda p, g: p - g, plain, grads)
    for got, want in zip(jax.tree.leaves(probed), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "name, modality, networks, tensor",
    [
        ("dcgan", "tabular", gan.networks, "real_score"),
        ("ganomaly", "image", ganomaly.networks, "logit_real"),
    ],
)
def test_discriminator_extra_term_gradient(name, modality, networks, tensor):
    detector = detectors.get(name)
    config = _config(name)
    x = jnp.asarray(sample_inputs(name, config, config.batch_size, modality=modality))
    _, discriminator = networks(config, x)

    def real_output(params, stats):
        return apply(discriminator, params, stats, x, train=True)[0][0]

    _check_gradient(detector, config, x, lambda t: PROBE * t[tensor], real_output)


def test_bigan_discriminator_extra_term_gradient():
    detector = detectors.get("bigan")
    config = _config("bigan", dropout=0.0)
    x = jnp.asarray(sample_inputs("bigan", config, config.batch_size, modality="tabular"))
    modules = bigan.networks(config, x)
    state = detector.init(config, jax.random.key(0), x)
    z_hat, _ = apply(modules["e"], state.params["e"], state.batch_stats["e"], x, train=True)

    def real_logit(params, stats):
        return apply(modules["d_xz"], params, stats, x, z_hat, train=True)[0][0]

    term = lambda t: PROBE * t["real_logit"]  # noqa: E731
    _check_gradient(detector, config, x, term, real_logit, network="d_xz")


def test_mad_gan_discriminator_extra_term_gradient():
    detector = detectors.get("mad-gan")
    config = _config("mad-gan")
    x = jnp.asarray(sample_inputs("mad-gan", config, config.batch_size))
    _, discriminator = mad_gan.networks(config, x.shape[-1])

    def real_logits(params, stats):
        return apply(discriminator, params, stats, x, train=True)[0].mean(axis=1)

    term = lambda t: PROBE * t["real_logits"].mean(axis=1)  # noqa: E731
    _check_gradient(detector, config, x, term, real_logits)


def test_a_run_carries_python_overrides_under_its_settings():
    def latent_l1(t):
        return jnp.abs(t["z"] - t["z_hat"]).mean(axis=1)

    spec = runspec.make_spec(
        "ganomaly",
        "mnist-embedded",
        settings=["loss_weights.g.contextual=10"],
        progress=False,
        overrides={"extra_terms": {"g": {"l1": latent_l1}}, "loss_weights": {"g": {"l1": 0.5}}},
    )
    assert spec.config.extra_terms["g"]["l1"] is latent_l1
    assert spec.config.weights("g") == {
        "adversarial": 1.0,
        "contextual": 10.0,
        "encoder": 1.0,
        "l1": 0.5,
    }
    with pytest.raises(runspec.RunError, match="no field 'nope'"):
        runspec.make_spec("ganomaly", "mnist-embedded", overrides={"nope": 1})

    experiments = _experiments_run()
    row = experiments.Run(
        "ganomaly", "mnist-embedded", overrides={"extra_terms": {}}, extension="latent-l1"
    )
    assert row.command().endswith("--seed 0 + python:latent-l1")
    with pytest.raises(ValueError, match="extension"):
        experiments.Run("ganomaly", "mnist-embedded", overrides={"extra_terms": {}})


def _experiments_run():
    path = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    spec = importlib.util.spec_from_file_location("experiments_run_composition", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
