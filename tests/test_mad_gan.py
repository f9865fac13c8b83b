"""MAD-GAN specifics: LSTM networks, the vmapped inversion, the DR-score, and the time-series
helpers of ganad_jax.evaluation.series (point mapping, point-adjust, alarm rates, PCA) and a per-fold protocol run."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import data as datasets
from ganad_jax import detectors, runs, runspec
from ganad_jax.data import Dataset, Source, Split, Windows
from ganad_jax.data import series as data_series
from ganad_jax.detectors import mad_gan
from ganad_jax.evaluation import series
from ganad_jax.nn.recurrent import SequenceDiscriminator, SequenceGenerator


@pytest.fixture(scope="module")
def trained():
    """Tiny config, windows and a state after a few training steps."""
    config = tiny_config("mad-gan")
    x = jnp.asarray(sample_inputs("mad-gan", config, config.batch_size))
    state = mad_gan.init(config, jax.random.key(0), x)
    step = jax.jit(lambda s, b, k: mad_gan.train_step(config, s, b, k))
    for i in range(3):
        state, _ = step(state, x, jax.random.key(i))
    return config, x, state


def test_networks_shapes_and_any_length():
    generator, discriminator = SequenceGenerator(3, 8, layers=2), SequenceDiscriminator(8)
    z = jnp.ones((2, 5, 4))
    g_params = generator.init(jax.random.key(0), z)
    out = generator.apply(g_params, z)
    assert out.shape == (2, 5, 3) and float(jnp.abs(out).max()) <= 1.0
    longer = generator.apply(g_params, jnp.ones((2, 9, 4)))  # same params, any length
    assert longer.shape == (2, 9, 3)
    d_params = discriminator.init(jax.random.key(1), out)
    assert discriminator.apply(d_params, out).shape == (2, 5)


def test_generator_rounds_update_generator(trained):
    config, x, state = trained
    new, metrics = mad_gan.train_step(config, state, x, jax.random.key(9))
    assert set(metrics) >= {"d_loss", "g_loss", "g_adversarial"}
    moved = jax.tree.leaves(
        jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, new.params)
    )
    assert all(moved)


def test_inversion_is_per_window_and_reduces_error(trained):
    config, x, state = trained
    g_params = state.params["g"]
    generator, _ = mad_gan.networks(config, x.shape[-1])
    config_long = tiny_config("mad-gan", inversion_steps=30)
    z_batch = mad_gan.invert(config_long, state, x)
    z_one = mad_gan.invert(config_long, state, x[2:3])
    np.testing.assert_allclose(z_batch[2:3], z_one, rtol=1e-5, atol=1e-5)
    no_search = mad_gan.invert(tiny_config("mad-gan", inversion_steps=0), state, x)

    def error(z):
        return float(jnp.mean(jnp.square(generator.apply({"params": g_params}, z) - x)))

    assert error(z_batch) < error(no_search)


def test_dr_score_combines_heads(trained):
    config, x, state = trained
    out = mad_gan.score(config, state, x)
    assert out.default == "dr"
    w = config.score_weight
    expected = (1 - w) * out.heads["reconstruction"] + w * out.heads["discrimination"]
    np.testing.assert_allclose(out.heads["dr"], expected, rtol=1e-5)
    assert out.anomaly_map.shape == x.shape
    np.testing.assert_allclose(out.anomaly_map.mean(axis=(1, 2)), out.heads["dr"], rtol=1e-5)
    assert bool(jnp.all(out.heads["discrimination"] >= 0))


def test_config_checks():
    cls = detectors.get("mad-gan").config_cls
    for bad in ({"score_head": "latent"}, {"score_weight": 1.5}, {"output_activation": "relu"}):
        with pytest.raises(ValueError):
            cls(**bad)
    with pytest.raises(ValueError, match="windows"):
        mad_gan.init(cls(), jax.random.key(0), jnp.zeros((2, 10)))


def _windows(length, starts, labels):
    return Windows(length, np.zeros(len(starts), np.int32), np.asarray(starts), (labels,), ("r",))


def test_step_point_scores_average_covering_windows():
    windows = _windows(3, [0, 2], np.zeros(5, np.int8))
    steps = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]])
    (points,) = series.step_point_scores(windows, steps)
    np.testing.assert_allclose(points, [1.0, 2.0, (3.0 + 10.0) / 2, 20.0, 30.0])
    (same,) = series.step_point_scores(windows, np.repeat(steps[..., None], 4, axis=2))
    np.testing.assert_allclose(same, points)
    with pytest.raises(ValueError):
        series.step_point_scores(windows, steps[:, :2])


def test_point_adjust_and_alarm_rates():
    labels = np.array([0, 1, 1, 1, 0, 1, 1, 0])
    predicted = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(series.point_adjust(labels, predicted), [1, 1, 1, 1, 0, 0, 0, 0])
    rates = series.alarm_rates(labels, predicted)
    assert rates == {"far": 1 / 3, "mar": 4 / 5}
    metrics = series.point_metrics(labels, predicted.astype(float), 0.5)
    assert metrics["f1"] < metrics["oracle_point_adjusted_f1"]


def test_pca_fitted_on_training_only():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(40, 6, 4)).astype(np.float32)
    train[..., 3] = 2 * train[..., 0]  # rank 3
    test = rng.normal(size=(10, 6, 4)).astype(np.float32) + 100.0
    splits = {
        "train": Split(train, np.zeros(40, np.int8)),
        "validation": Split(train[:5], np.zeros(5, np.int8)),
        "test": Split(test, np.ones(10, np.int8)),
    }
    ds = Dataset("toy", "time-series", "series", options={}, **splits)
    reduced = series.with_pca(ds, 2)
    assert reduced.train.x.shape == (40, 6, 2) and reduced.test.x.shape == (10, 6, 2)
    np.testing.assert_allclose(reduced.train.x.reshape(-1, 2).mean(axis=0), 0, atol=1e-4)
    assert reduced.options["pca_components"] == 2
    points = train.reshape(-1, 4)
    np.testing.assert_allclose(series.pca_residual_scores(points, points, 0.999), 0, atol=1e-8)
    assert series.pca_residual_scores(points, test.reshape(-1, 4)).min() > 1.0


@pytest.mark.slow
def test_per_fold_protocol_trains_and_evaluates_one_model_per_fold(tmp_path, monkeypatch):
    """A protocol with folds (SKAB's leaderboard) trains one model per fold, thresholds each on
    its own training points, pools the point metrics with a PCA baseline, and `evaluate_run`
    restores the fold checkpoints to the same report."""
    rng = np.random.default_rng(0)
    t = np.arange(460)[:, None]
    runs_ = []
    for r in range(2):
        x = np.sin(t / (5 + r) + np.arange(3)) + 0.05 * rng.normal(size=(460, 3))
        labels = np.zeros(460, np.int8)
        labels[430:445] = 1
        x[430:445] += 2.0
        runs_.append((f"run{r}", x, labels))

    def load(*, window, step):
        return data_series._skab_leaderboard(runs_, window, step, "standard", {})

    source = Source("toy-folds", load, {"window": 6, "step": 3}, "series", "two toy runs")
    monkeypatch.setitem(datasets._SOURCES, "toy-folds", source)
    settings = [f"{k}={v}" for k, v in detectors.get("mad-gan").tiny.items()]
    spec = runspec.make_spec("mad-gan", "toy-folds", 0, settings, progress=False)
    report = runs.train_run(spec, tmp_path / "run")
    assert list(report["folds"]) == ["skab:run0", "skab:run1"]
    assert (tmp_path / "run/folds/01/checkpoints").is_dir()
    assert set(report["baseline"]) == {"pca_q", "window_nn"}
    assert set(report["baseline"]["pca_q"]) >= {"f1", "far", "mar", "auroc"}
    assert report["baseline"]["window_nn"].keys() == report["baseline"]["pca_q"].keys()
    assert 0 <= report["f1"] <= 1 and report["threshold_source"].startswith("training points")
    assert report["heads"]["dr"]["auroc"] == report["auroc"]
    again = runs.evaluate_run(spec, tmp_path / "run")
    assert again["f1"] == report["f1"] and again["folds"] == report["folds"]
