"""The BiGAN family (BiGAN, EGBAD, ALAD, CE-BiGAN): what the registry-wide suite does not check."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config, trees_equal

from ganad_jax import detectors, losses, optim, runspec
from ganad_jax.nn.joint import DenseStack, ProjectionDiscriminator
from ganad_jax.train import TrainOptions, fit


def _state(name: str, modality: str, **overrides):
    config = tiny_config(name, **overrides)
    x = jnp.asarray(sample_inputs(name, config, config.batch_size, modality=modality))
    return detectors.get(name), config, x, detectors.get(name).init(config, jax.random.key(0), x)


def test_networks_follow_the_rank_of_the_data():
    _, _, _, rows = _state("egbad", "tabular")
    _, _, _, images = _state("egbad", "image")
    assert "MLP_0" in rows.params["e"] and "Encoder_0" in images.params["e"]
    assert "MLP_0" in rows.params["g"] and "Decoder_0" in images.params["g"]
    assert "Dense_0" in rows.params["d_xz"]["x_body"]
    assert "Conv_0" in images.params["d_xz"]["x_body"]
    assert set(rows.params) == {"e", "g", "d_xz"}


def test_egbad_heads_combine_reconstruction_and_discrimination():
    detector, config, x, state = _state("egbad", "tabular")
    heads = detector.score(config, state, x).heads
    a = config.score_weight
    np.testing.assert_allclose(
        heads["fm"], (1 - a) * heads["reconstruction"] + a * heads["feature"], rtol=1e-6
    )
    np.testing.assert_allclose(
        heads["cross_entropy"],
        (1 - a) * heads["reconstruction"] + a * heads["discrimination"],
        rtol=1e-6,
    )
    assert detector.score(config, state, x).default == "fm"


def test_alad_has_three_discriminators_and_four_scores():
    detector, config, x, state = _state("alad", "tabular")
    assert set(state.params) == {"e", "g", "d_xz", "d_xx", "d_zz"}
    scores = detector.score(config, state, x)
    assert set(scores.heads) == {"fm", "l1", "l2", "logits"} and scores.default == "fm"
    new, metrics = detector.train_step(config, state, x, jax.random.key(1))
    assert {"d_adversarial", "d_cycle_x", "d_cycle_z", "eg_cycle_x", "eg_cycle_z"} <= set(metrics)

    no_zz = tiny_config("alad", latent_discriminator=False)
    assert "cycle_z" not in no_zz.weights("eg") and "cycle_z" not in no_zz.weights("d")
    state = detector.init(no_zz, jax.random.key(0), x)
    assert "d_zz" not in state.params
    _, metrics = detector.train_step(no_zz, state, x, jax.random.key(1))
    assert "eg_cycle_z" not in metrics


@pytest.mark.slow
def test_alad_spectral_norm_state_lives_in_batch_stats():
    # Images default to spectral normalisation (as the paper's code); its power-iteration vectors
    # are state: updated by training, left alone by scoring.
    detector, config, x, state = _state("alad", "image")
    paths = jax.tree_util.tree_flatten_with_path(state.batch_stats["d_xx"])[0]
    assert any("SpectralNorm" in jax.tree_util.keystr(path) for path, _ in paths)
    before = jax.tree.map(np.asarray, state.batch_stats["d_zz"])
    detector.score(config, state, x)
    new, _ = detector.train_step(config, state, x, jax.random.key(1))
    after = jax.tree.map(np.asarray, new.batch_stats["d_zz"])
    assert any(jax.tree.leaves(jax.tree.map(lambda a, b: not np.array_equal(a, b), before, after)))
    _, _, _, plain = _state("alad", "image", spectral_norm=False)
    assert not plain.batch_stats["d_zz"]


def test_cebigan_trains_on_consistency_with_a_projection_discriminator():
    detector, config, x, state = _state("ce-bigan", "tabular")
    projection = state.params["d_xz"]["Dense_0"]["kernel"]  # V of <V z, phi(x)>
    assert projection.shape == (config.latent, config.discriminator_width)
    _, metrics = detector.train_step(config, state, x, jax.random.key(1))
    assert {"eg_adversarial", "eg_consistency_x", "eg_consistency_z"} <= set(metrics)


def test_track_average_follows_tensorflows_moving_average():
    params = {"w": jnp.array([1.0, -2.0])}
    optimizer = optim.track_average(0.9)
    state = optimizer.init(params)
    updates = {"w": jnp.array([0.5, 0.5])}
    same, state = optimizer.update(updates, state, params)
    assert same is updates
    # average -= (1 - decay) * (average - updated params), starting at the initial weights
    np.testing.assert_allclose(state.average["w"], [1.0 + 0.1 * 0.5, -2.0 + 0.1 * 0.5])


def test_ema_decay_scores_with_the_averaged_weights():
    detector, config, x, state = _state("egbad", "tabular", ema_decay=0.5)
    for i in range(3):
        state, _ = detector.train_step(config, state, x, jax.random.key(i))
    averaged = optim.averaged_params(state.params, state.opt_state)
    assert not np.allclose(
        averaged["g"]["MLP_0"]["Dense_0"]["kernel"], state.params["g"]["MLP_0"]["Dense_0"]["kernel"]
    )
    no_averages = {name: () for name in state.opt_state}
    scores = detector.score(config, state, x).value
    np.testing.assert_allclose(
        scores,
        detector.score(config, state.replace(params=averaged, opt_state=no_averages), x).value,
        rtol=1e-6,
    )
    trained = detector.score(config, state.replace(opt_state=no_averages), x).value
    assert not np.allclose(scores, trained)
    untracked = _state("egbad", "tabular")[3]
    assert jax.tree.all(
        jax.tree.map(
            np.array_equal,
            optim.averaged_params(untracked.params, untracked.opt_state),
            untracked.params,
        )
    )


@pytest.mark.slow
def test_moving_average_is_checkpointed_and_resumed(tmp_path):
    config = tiny_config("egbad", ema_decay=0.5)
    x = sample_inputs("egbad", config, 4 * config.batch_size, modality="tabular")
    quiet = TrainOptions(progress=False, max_steps=3)
    straight, _ = fit(detectors.get("egbad"), config, x, seed=0, options=quiet)
    fit(
        detectors.get("egbad"),
        config,
        x,
        seed=0,
        run_dir=tmp_path,
        options=dataclasses.replace(quiet, max_steps=2, checkpoint_every=1),
    )
    resumed, _ = fit(
        detectors.get("egbad"), config, x, seed=0, run_dir=tmp_path, options=quiet, resume=True
    )
    assert trees_equal(optim.scoring_state(straight).params, optim.scoring_state(resumed).params)
    assert not trees_equal(optim.scoring_state(resumed).params, resumed.params)


def test_projection_discriminator_conditions_by_inner_product():
    d = ProjectionDiscriminator(DenseStack((6,)), width=5)
    x, z = jnp.ones((3, 4)), jax.random.normal(jax.random.key(0), (3, 2))
    variables = d.init(jax.random.key(1), x, z, train=False)
    logit, phi = d.apply(variables, x, z, train=False)
    v = variables["params"]["Dense_0"]["kernel"]  # V: z -> phi's space
    psi = variables["params"]["Dense_1"]
    expected = phi @ psi["kernel"][:, 0] + psi["bias"][0] + jnp.sum((z @ v) * phi, axis=-1)
    np.testing.assert_allclose(logit, expected, rtol=1e-5, atol=1e-6)


def test_swapped_labels_give_the_encoder_generator_loss():
    real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, 3.0])
    eg = losses.discriminator_cross_entropy(fake, real)
    bce = losses.generator_non_saturating  # BCE(logit, 1)
    np.testing.assert_allclose(eg, 0.5 * (bce(fake) + bce(-real)), rtol=1e-6)


def test_experiment_tables_group_seeds_and_read_dotted_metrics(tmp_path, monkeypatch):
    path = Path(__file__).parent.parent / "experiments" / "run.py"
    spec = importlib.util.spec_from_file_location("experiments_run", path)
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiments_run", run)  # dataclasses look it up there
    spec.loader.exec_module(run)
    assert run.metric({"oracle": {"oracle_top_k_f1": 0.5}}, "oracle.oracle_top_k_f1") == 0.5
    runs = [run.Run("egbad", "kddcup99", ("epochs=1",), seed) for seed in (0, 1)]
    rows = [
        {"command": r.command(), "group": r.group(), "f1": f1}
        | {"threshold_source": "validation", "train_seconds": 1.0}
        for r, f1 in zip(runs, (0.5, 0.7), strict=True)
    ]
    run.write_results(run.Experiment("t", tuple(runs), ("f1",)), rows, tmp_path)
    table = (tmp_path / "t.md").read_text()
    assert "| `ganad train egbad --data kddcup99 --set epochs=1` | 0.6000 ± 0.1414 | 2 |" in table
    assert json.loads((tmp_path / "t.json").read_text())["rows"][1]["f1"] == 0.7
    long = run.Run("alad", "arrhythmia", tuple(f"option_{i}=value" for i in range(20)))
    assert len(run.folder_name(long.command())) <= 200
    assert run.folder_name(runs[0].command()) == runs[0].command().replace(" ", "_")


@pytest.mark.slow
def test_alad_early_stops_on_arrhythmia_validation_normals(data_dir, tmp_path):
    from ganad_jax import runs

    settings = ("epochs=3", "validate_every=2", "patience=1", "batch_size=32")
    spec = runspec.make_spec("alad", "arrhythmia", 0, settings, progress=False)
    report = runs.train_run(spec, tmp_path / "run")
    logged = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["step"] for row in logged if "validation_loss" in row][:1] == [2]
    assert (tmp_path / "run" / "best").is_dir()
    assert 0.0 <= report["auroc"] <= 1.0
