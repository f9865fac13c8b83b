"""GAN ensembles: independent members equal lone detectors, every mode meets the detector contract
(the registry-wide checks of test_detectors.py, rerun on ensembles of a tiny base), CLI wiring."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import cases, replace, sample_inputs, tiny_config, trees_equal
from test_detectors import (  # noqa: F401  (rerun here on the `case` fixture below)
    test_batch_invariance,
    test_determinism,
    test_no_retracing,
    test_one_step,
    test_resume_equality,
    test_shapes,
)

from ganad_jax import detectors, runs, runspec
from ganad_jax.detectors.bigan import networks
from ganad_jax.detectors.ensemble import (
    EnsembleDetector,
    _rounds,
    ensemble,
    pair_state,
    parse_spec,
    split_state,
)
from ganad_jax.scoring import make_scorer, score_dataset
from ganad_jax.train import TrainOptions, fit

QUIET = TrainOptions(progress=False, log_every=1, max_steps=3)
# (base, mode, generators, discriminators, modality): the paper's mode, the released code's mode
# (on rows: its image case compiles for two minutes) and the all-pairs mode, unequal sides. The
# all-pairs case runs in the whole suite only (slow: it compiles six pair updates per step).
ENSEMBLES = [
    pytest.param(("ganomaly", "pair", 2, 2, None), id="ganomaly-pair-2-2"),
    pytest.param(("egbad", "code", 2, 3, "tabular"), id="egbad-code-2-3"),
    pytest.param(("ganomaly", "all", 2, 3, None), id="ganomaly-all-2-3", marks=pytest.mark.slow),
]


@pytest.fixture(scope="module", params=ENSEMBLES)
def case(request):
    """The registry-wide `case` for an ensemble of a tiny base detector."""
    name, mode, n_g, n_d, modality = request.param
    detector = ensemble(detectors.get(name), n_g, n_d, mode)
    config = tiny_config(name)
    x = sample_inputs(name, config, 4 * config.batch_size, modality=modality)
    state, history = fit(detector, config, x, seed=0, options=QUIET)
    return name, detector, config, x, state, history


def test_score_is_the_mean_over_pairs(case):
    _, detector, config, x, state, _ = case
    scores = score_dataset(make_scorer(detector, config), state, x, config.batch_size)
    pairs = [
        f"g{i}d{j}" for i in range(detector.n_generators) for j in range(detector.n_discriminators)
    ]
    base_heads = [h for h in scores.heads if "/" not in h]
    assert sorted(scores.heads) == sorted(
        base_heads + [f"{h}/{p}" for h in base_heads for p in pairs]
    )
    for head in base_heads:
        per_pair = np.stack([scores.heads[f"{head}/{p}"] for p in pairs])
        np.testing.assert_allclose(scores.heads[head], per_pair.mean(0), rtol=1e-5, atol=1e-6)
    # Each pair's head is the base detector's score of that pair's networks.
    i, j = detector.n_generators - 1, detector.n_discriminators - 1
    base = make_scorer(detector.base, config)(pair_state(detector, state, i, j), x[:8])
    np.testing.assert_allclose(
        base.value, scores.heads[f"{scores.default}/g{i}d{j}"][:8], rtol=1e-5, atol=1e-6
    )


def test_pair_mode_updates_one_generator_and_one_discriminator():
    config = tiny_config("ganomaly")
    detector = ensemble(detectors.get("ganomaly"), 2, 2, "pair")
    x = sample_inputs("ganomaly", config, config.batch_size)
    state = detector.init(config, jax.random.key(0), x)
    new, _ = detector.train_step(config, state, x, jax.random.key(1))
    for before, after in zip(split_state(detector, state), split_state(detector, new), strict=True):
        changed = [not trees_equal(_member(before, m), _member(after, m)) for m in range(2)]
        assert sum(changed) == 1


def _member(side, m):
    return jax.tree.map(lambda leaf: leaf[m], side)


def test_all_mode_rounds_meet_every_pair_once_in_disjoint_rounds():
    for n_g, n_d in [(1, 1), (2, 3), (3, 2), (3, 3), (1, 5), (4, 2)]:
        gens, discs = _rounds(n_g, n_d)
        assert gens.shape == (max(n_g, n_d), min(n_g, n_d)) == discs.shape
        pairs = {(int(i), int(j)) for i, j in zip(gens.ravel(), discs.ravel(), strict=True)}
        assert pairs == {(i, j) for i in range(n_g) for j in range(n_d)}
        for row_g, row_d in zip(gens, discs, strict=True):
            assert len(set(row_g)) == len(row_g) and len(set(row_d)) == len(row_d)


BASES = [name for name in ("ganomaly", "mad-gan") if name in detectors.names()]


@pytest.mark.parametrize("name", BASES)
def test_independent_member_equals_the_base_trained_alone(name):
    """Member i == the base detector trained by the same loop with its keys folded with i."""
    base = detectors.get(name)
    config = tiny_config(name)
    x = sample_inputs(name, config, 4 * config.batch_size)
    members = ensemble(base, 2, 2, "independent")
    state, _ = fit(members, config, x, seed=0, options=QUIET)
    scores = score_dataset(make_scorer(members, config), state, x, config.batch_size)
    for i in range(2):
        alone_detector = replace(
            base,
            init=lambda c, k, b, i=i: base.init(c, jax.random.fold_in(k, i), b),
            train_step=lambda c, s, b, k, i=i: base.train_step(c, s, b, jax.random.fold_in(k, i)),
        )
        alone, _ = fit(alone_detector, config, x, seed=0, options=QUIET)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(
                np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5
            ),
            pair_state(members, state, i, i),
            alone,
        )
        lone = score_dataset(make_scorer(base, config), alone, x, config.batch_size)
        for head, values in lone.heads.items():
            np.testing.assert_allclose(
                scores.heads[f"{head}/g{i}d{i}"], values, rtol=1e-4, atol=1e-5
            )


def test_bad_ensembles_are_refused():
    base = detectors.get("ganomaly")
    with pytest.raises(ValueError, match="as many generators as discriminators"):
        ensemble(base, 2, 3, "independent")
    with pytest.raises(ValueError, match="mode must be one of"):
        ensemble(base, 2, 2, "best")
    with pytest.raises(ValueError, match="GxD"):
        parse_spec("3")
    assert parse_spec("3X2") == (3, 2, "pair")
    assert parse_spec("3x3:all") == (3, 3, "all")


def test_run_spec_builds_and_reloads_an_ensemble(tmp_path):
    spec = runspec.make_spec(
        "ganomaly", settings=["latent=8", "devices=4"], ensemble="3x3", progress=False
    )
    assert isinstance(spec.detector, EnsembleDetector)
    assert (spec.detector.n_generators, spec.detector.mode) == (3, "pair")
    assert spec.identity()["ensemble"] == "3x3:pair" and spec.train.devices == 4
    (tmp_path / "config.json").write_text(json.dumps(spec.to_json()))
    loaded, _ = runs.load_spec(tmp_path)
    assert loaded.ensemble == "3x3:pair" and loaded.detector.spec == "3x3:pair"
    assert loaded.config == spec.config and loaded.train.devices == 4
    with pytest.raises(runs.RunError, match="as many generators"):
        runspec.make_spec("ganomaly", ensemble="2x3:independent")
    with pytest.raises(runs.RunError, match="'code' needs separate discriminator and generator"):
        runspec.make_spec("ganomaly", ensemble="2x2:code")  # refused before any data loads
    assert runspec.make_spec("ganomaly", settings=["ensemble=2x2:all"]).ensemble == "2x2:all"
    plain = runspec.make_spec("ganomaly", progress=False)
    assert plain.identity()["ensemble"] is None
    assert not isinstance(plain.detector, EnsembleDetector)


def test_cli_parses_ensemble_devices_and_distributed():
    from ganad_jax.cli import build_parser

    args = build_parser().parse_args(
        ["train", "ganomaly", "--ensemble", "3x3:all", "--devices", "4", "--distributed"]
    )
    assert (args.ensemble, args.devices, args.distributed) == ("3x3:all", 4, True)


@pytest.mark.parametrize("name,modality", cases(), ids=["/".join(c) for c in cases()])
def test_every_registered_detector_makes_an_ensemble(name, modality):
    """Shapes only (traced, not compiled): every detector's networks split into two sides."""
    config = tiny_config(name)
    x = sample_inputs(name, config, config.batch_size, modality=modality)
    detector = ensemble(detectors.get(name), 2, 3, "all")
    state = jax.eval_shape(lambda: detector.init(config, jax.random.key(0), x))
    gen, disc = split_state(detector, state)
    assert all(leaf.shape[0] == 2 for leaf in jax.tree.leaves(gen))
    assert all(leaf.shape[0] == 3 for leaf in jax.tree.leaves(disc))
    new, metrics = jax.eval_shape(
        lambda s: detector.train_step(config, s, x, jax.random.key(1)), state
    )
    assert jax.tree.structure(new) == jax.tree.structure(state)
    assert all(m.shape == () for m in metrics.values())
    scores = jax.eval_shape(lambda s: detector.score(config, s, x), state)
    assert all(v.shape == (len(x),) for v in scores.heads.values())
    if detector.samples is not None:
        fake = jax.eval_shape(lambda s: detector.samples(config, s, jax.random.key(2), x), state)
        assert fake.shape == x.shape


def _bce(logits, label):
    return optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)).mean()


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_code_mode_is_the_released_iteration(optimizer):
    """One code-mode step of a 2x2 EGBAD ensemble == the released code's `train_epoch` iteration
    (models/egbad_KDD99.py) written out here: each D_j on its loss averaged over both
    generators, then each G_i against the updated discriminators, with the base's optimiser.
    The cross-entropies are the base's halved sums (real and fake parts averaged; the code adds
    them); SGD, unlike Adam, also sees the scale of the averages. Dropout is 0, so only the
    prior draws follow the key scheme: pair p = i * J + j has split(fold_in(key, p), 4), D_j
    against G_i draws z from element 0, G_i from element 1 of pair (i, 0)."""
    lr = {"adam": 1e-2, "sgd": 0.5}[optimizer]
    sgd = {n: optax.sgd(lr) for n in ("e", "g", "d_xz")} if optimizer == "sgd" else {}
    config = tiny_config("egbad", dropout=0.0, lr=lr, optimizers=sgd)
    x = jnp.asarray(sample_inputs("egbad", config, config.batch_size, modality="tabular"))
    detector = ensemble(detectors.get("egbad"), 2, 2, "code")
    state = detector.init(config, jax.random.key(0), x)
    key = jax.random.key(1)
    new, metrics = jax.jit(lambda s, b, k: detector.train_step(config, s, b, k))(state, x, key)

    nets = networks(config, x)
    gen, disc = split_state(detector.base, state)
    gens = [_member(gen, i)["params"] for i in range(2)]
    discs = [_member(disc, j)["params"]["d_xz"] for j in range(2)]
    keys = [jax.random.split(jax.random.fold_in(key, p), 4) for p in range(4)]
    d_prior = {(i, j): keys[i * 2 + j][0] for i in range(2) for j in range(2)}
    g_prior = [keys[i * 2][1] for i in range(2)]

    def prior(k):
        return jax.random.normal(k, (len(x), config.latent))

    def logit(d, a, b):
        return nets["d_xz"].apply({"params": d}, a, b, train=True)[0]

    def e(g, a):
        return nets["e"].apply({"params": g["e"]}, a, train=True)

    def g_of(g, z):
        return nets["g"].apply({"params": g["g"]}, z, train=True)

    def optimise(params, grads):
        tx = sgd.get("d_xz") or optax.adam(lr, b1=config.beta1, b2=config.beta2)
        with jax.numpy_dtype_promotion("standard"):
            updates, _ = tx.update(grads, tx.init(params), params)
            return optax.apply_updates(params, updates)

    def d_loss(d, j):
        total = 0.0
        for i, g in enumerate(gens):
            z = prior(d_prior[i, j])
            fake = logit(d, g_of(g, z), z)
            total = total + 0.5 * (_bce(logit(d, x, e(g, x)), 1.0) + _bce(fake, 0.0))
        return total / 2

    d_losses, d_grads = zip(
        *(jax.value_and_grad(d_loss)(d, j) for j, d in enumerate(discs)), strict=True
    )
    new_discs = [optimise(d, grads) for d, grads in zip(discs, d_grads, strict=True)]

    def g_loss(g, i):
        z = prior(g_prior[i])  # one draw, met by both discriminators
        total = 0.0
        for d in new_discs:
            fake = logit(d, g_of(g, z), z)
            total = total + 0.5 * (_bce(fake, 1.0) + _bce(logit(d, x, e(g, x)), 0.0))
        return total / 2

    g_losses, g_grads = zip(
        *(jax.value_and_grad(g_loss)(g, i) for i, g in enumerate(gens)), strict=True
    )
    new_gens = [optimise(g, grads) for g, grads in zip(gens, g_grads, strict=True)]

    def close(a, b):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

    got_gen, got_disc = split_state(detector.base, new)
    for j in range(2):
        jax.tree.map(close, _member(got_disc, j)["params"]["d_xz"], new_discs[j])
    for i in range(2):
        jax.tree.map(close, _member(got_gen, i)["params"], new_gens[i])
    close(metrics["d_loss"], np.mean(d_losses))
    close(metrics["eg_loss"], np.mean(g_losses))
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new_gens[0], gens[0])
    assert min(jax.tree.leaves(moved)) > 1e-4  # the comparison is not of unchanged weights


def test_one_by_one_code_mode_is_the_base_step_of_pair_zero():
    """The documented keys: a 1x1 code ensemble takes the base step of fold_in(step_key, 0)
    (dropout on, so the dropout keys are checked too)."""
    config = tiny_config("egbad")
    x = jnp.asarray(sample_inputs("egbad", config, config.batch_size, modality="tabular"))
    base = detectors.get("egbad")
    detector = ensemble(base, 1, 1, "code")
    state = detector.init(config, jax.random.key(0), x)
    key = jax.random.key(1)
    new, metrics = jax.jit(lambda s, k: detector.train_step(config, s, x, k))(state, key)
    alone, alone_metrics = jax.jit(lambda s, k: base.train_step(config, s, x, k))(
        pair_state(detector, state, 0, 0), jax.random.fold_in(key, 0)
    )
    close = np.testing.assert_allclose
    jax.tree.map(
        lambda a, b: close(a, b, rtol=1e-6, atol=1e-7), pair_state(detector, new, 0, 0), alone
    )
    for name, value in alone_metrics.items():
        close(metrics[name], value, rtol=1e-6)


def test_egbad_discriminator_head_is_the_released_kdd_score():
    """Head "discriminator" is egbad_KDD99.py's score: BCELoss(D(x, E(x)), 1) per example,
    -log sigmoid(D's logit of the real pair), written here as PyTorch's BCELoss computes it."""
    config = tiny_config("egbad")
    x = jnp.asarray(sample_inputs("egbad", config, config.batch_size, modality="tabular"))
    egbad = detectors.get("egbad")
    state = egbad.init(config, jax.random.key(0), x)
    out = egbad.score(config, state, x)
    nets = networks(config, x)
    z_hat = nets["e"].apply({"params": state.params["e"]}, x, train=False)
    logit = nets["d_xz"].apply({"params": state.params["d_xz"]}, x, z_hat, train=False)[0]
    probability = 1 / (1 + np.exp(-np.asarray(logit, np.float64)))
    expected = -np.maximum(np.log(probability), -100)  # BCELoss clamps the log at -100
    np.testing.assert_allclose(out.heads["discriminator"], expected, rtol=1e-5, atol=1e-6)


def test_code_mode_refuses_what_it_cannot_train():
    ganomaly, egbad = detectors.get("ganomaly"), detectors.get("egbad")
    for make in (
        lambda: ensemble(ganomaly, 2, 2, "code"),
        lambda: parse_spec("3x3:code", ganomaly),
    ):
        with pytest.raises(ValueError, match="mode 'code'.*ganomaly") as err:
            make()
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=">= 1 generator"):
        parse_spec("0x2:code", egbad)
    assert parse_spec("3x2:code", egbad) == (3, 2, "code")
    assert parse_spec("3x2:code") == (3, 2, "code")  # no base: checked when it is built
    assert ensemble(detectors.get("alad"), 1, 2, "code").spec == "1x2:code"
