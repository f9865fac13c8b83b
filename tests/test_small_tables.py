"""Defaults that work on small tables: every detector that takes rows trains with its defaults on
a 150-row table, with its batch clamped to the training set and its epochs raised to its minimum
of updates, and says so (stderr, the estimator's attributes, the run's report); the arithmetic of
`train.plan_training` and its messages."""

from __future__ import annotations

import json
import math

import jax
import numpy as np
import pytest
from helpers import tiny_config
from sklearn.metrics import roc_auc_score

from ganad_jax import catalog, detectors
from ganad_jax.cli import main
from ganad_jax.data.preprocess import hold_out
from ganad_jax.estimator import Estimator
from ganad_jax.train import TrainOptions, fit, make_train_step, plan_training

TABLE_DETECTORS = [name for name in catalog.names() if "tabular" in catalog.entry(name).modalities]
FAST_MIN_UPDATES = 250
"""More than any table detector's default epochs make on 135 rows (at most 200), so every fast
fit shows the raised epochs, and few enough steps to keep the module quick."""


def _estimator_classes() -> dict[str, type[Estimator]]:
    classes = {}
    stack = list(Estimator.__subclasses__())
    while stack:
        cls = stack.pop()
        classes.setdefault(cls.model, cls)
        stack.extend(cls.__subclasses__())
    return classes


ESTIMATORS = {
    name: _estimator_classes().get(name) or type(f"Test{name}", (Estimator,), {"model": name})
    for name in TABLE_DETECTORS
}
"""The library's estimator of each table detector (the GAN building blocks have none: a plain
subclass with their name serves)."""


@pytest.fixture(scope="module")
def table():
    """150 normal rows of 8 features to fit; a test set of 50 normals and 50 rows shifted by 3."""
    rng = np.random.default_rng(0)
    train = rng.normal(size=(150, 8))
    test = np.concatenate([rng.normal(size=(50, 8)), rng.normal(3.0, 1.0, (50, 8))])
    return train, test, np.repeat([0, 1], 50)


def _fit_and_check(name: str, table, capfd, **overrides):
    """Fit `name`'s estimator on the table and check what it reports of its training."""
    train, test, labels = table
    estimator = ESTIMATORS[name](**overrides)
    config = estimator.config
    n = len(hold_out(len(train), estimator.validation_fraction, salt=estimator.seed)[0])
    capfd.readouterr()
    estimator.fit(train)
    err = capfd.readouterr().err

    multiple = getattr(config, "batch_multiple", 1)
    batch = config.batch_size if n >= config.batch_size else n - n % multiple
    per_epoch = n // batch
    updates = max(config.min_updates, config.epochs * per_epoch)
    assert estimator.batch_size_used_ == batch
    assert estimator.epochs_used_ == math.ceil(updates / per_epoch)
    assert estimator.steps_ == estimator.epochs_used_ * per_epoch
    assert config.min_updates <= estimator.steps_ < config.min_updates + per_epoch
    notes = estimator.training_notes_
    assert any(note.startswith("the training set has") for note in notes) == (config.batch_size > n)
    assert any(f"training {estimator.epochs_used_} epochs" in note for note in notes)
    assert err.splitlines() == [f"ganad: note: {note}" for note in notes]

    scores = estimator.score_samples(test)
    assert scores.shape == (len(test),) and np.all(np.isfinite(scores))
    return estimator, roc_auc_score(labels, scores)


@pytest.mark.parametrize("name", TABLE_DETECTORS)
def test_every_table_detector_trains_on_150_rows(name, table, capfd):
    """Defaults, but a small minimum of updates (the true defaults: the slow test below)."""
    _fit_and_check(name, table, capfd, min_updates=FAST_MIN_UPDATES)


@pytest.mark.slow
@pytest.mark.parametrize("name", TABLE_DETECTORS)
def test_every_table_detector_trains_with_its_defaults_on_150_rows(name, table, capfd):
    estimator, auroc = _fit_and_check(name, table, capfd)
    assert estimator.steps_ >= detectors.get(name).config_cls().min_updates > 0
    print(
        f"{name}: {estimator.steps_} updates, batch {estimator.batch_size_used_}, AUROC {auroc:.3f}"
    )


def _plan(name: str, n: int, options: TrainOptions | None = None, shards: int = 1, **config):
    detector = detectors.get(name)
    config = detector.config_cls(**config)
    return plan_training(detector, config, n, options or TrainOptions(), shards)


def test_epochs_are_raised_to_the_minimum_of_updates():
    plan = _plan("anogan", 300)  # 25 epochs of batch 128: 2 steps each
    assert (plan.steps_per_epoch, plan.epochs_used, plan.total_steps) == (2, 1000, 2000)
    assert plan.notes() == [
        "25 epochs of 2 steps make 50 updates, fewer than anogan's minimum of 2000 "
        "(min_updates): training 1000 epochs = 2000 updates"
    ]
    plan = _plan("anogan", 2200)  # 17 steps an epoch: whole epochs, so 118 of them
    assert (plan.epochs_used, plan.total_steps) == (118, 2006)
    assert _plan("anogan", 300, TrainOptions(max_steps=300)).total_steps == 300


def test_runs_with_enough_updates_or_no_minimum_are_planned_as_configured():
    for plan in (_plan("anogan", 20_000), _plan("anogan", 300, min_updates=0)):
        assert plan.epochs_used == plan.epochs == 25
        assert plan.batch_size_used == plan.batch_size == 128
        assert plan.total_steps == plan.n // 128 * 25 and plan.notes() == []
        assert plan.shortfall(plan.total_steps) is None


def test_a_small_training_set_is_one_batch_of_a_valid_size():
    plan = _plan("dcgan", 100)
    assert plan.batch_size_used == 100 and plan.steps_per_epoch == 1
    assert plan.notes()[0] == (
        "the training set has 100 samples, fewer than batch_size 128: each step takes 100"
    )
    plan = _plan("wgan-gp", 193)  # n_critic 5: f-AnoGAN's failure on a 214-row table
    assert plan.batch_size_used == 190
    assert plan.notes()[0].endswith("each step takes 190 (the largest multiple of 5 that fits)")
    assert _plan("wgan-gp", 193, shards=4).batch_size_used == 180  # also a multiple of 4 shards
    with pytest.raises(ValueError, match=r"training set \(4\) is smaller than one batch: .* 5"):
        _plan("wgan-gp", 4)
    with pytest.raises(ValueError, match="empty"):
        _plan("dcgan", 0)


def test_a_model_with_fewer_updates_than_the_minimum_is_flagged():
    capped = _plan("anogan", 300, TrainOptions(max_steps=300))
    assert capped.shortfall(300) == (
        "the model was trained for 300 updates, below anogan's minimum of 2000 (min_updates): "
        "max_steps=300 stopped it"
    )
    plan = _plan("anogan", 300)
    assert "early stopping ended the run or kept an earlier state" in plan.shortfall(1500)
    assert plan.shortfall(2000) is None and plan.shortfall(2002) is None


def test_fit_trains_the_plan_and_says_so_once(capfd):
    rows = np.random.default_rng(0).normal(size=(12, 5)).astype(np.float32)
    config = tiny_config("egbad", batch_size=16, min_updates=5)  # 12 rows: one batch of 12
    capfd.readouterr()
    state, _ = fit(
        detectors.get("egbad"), config, rows, seed=0, options=TrainOptions(progress=False)
    )
    assert int(state.step) == 5
    assert capfd.readouterr().err.splitlines() == [
        "ganad: note: the training set has 12 samples, fewer than batch_size 16: each step "
        "takes 12",
        "ganad: note: 1 epoch of 1 step makes 1 update, fewer than egbad's minimum of 5 "
        "(min_updates): training 5 epochs = 5 updates",
    ]
    quiet = TrainOptions(progress=False, max_steps=3)
    fit(detectors.get("egbad"), config, rows, seed=0, options=quiet)
    assert capfd.readouterr().err.splitlines()[-1] == (
        "ganad: warning: the model was trained for 3 updates, below egbad's minimum of 5 "
        "(min_updates): max_steps=3 stopped it"
    )


def test_a_batch_that_fits_trains_with_the_step_it_always_had():
    detector, config = detectors.get("egbad"), tiny_config("egbad")
    assert make_train_step(detector, config) is make_train_step(detector, config, 8)


def test_the_clamped_batch_is_a_multiple_of_the_data_shards():
    rows = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    config = tiny_config("egbad", batch_size=16, min_updates=2)
    options = TrainOptions(progress=False, devices=len(jax.devices()))  # 4 fake CPU devices
    plan = plan_training(detectors.get("egbad"), config, 10, options, len(jax.devices()))
    assert plan.batch_size_used == 8
    state, _ = fit(detectors.get("egbad"), config, rows, seed=0, options=options, announce=False)
    assert int(state.step) == 2


def test_a_run_records_its_clamped_batch_and_evaluates_and_resumes_alike(tmp_path, capfd):
    out = tmp_path / "run"
    argv = ["train", "egbad", "--data", "breast-cancer", "--out", str(out), "--quiet"]
    settings = ["batch_size=100000", "epochs=1", "min_updates=3", "latent=4", "encoder_widths=8"]
    argv += [arg for s in settings for arg in ("--set", s)]
    capfd.readouterr()
    assert main(argv) == 0
    notes = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ganad:")]
    assert notes == [
        "ganad: note: the training set has 161 samples, fewer than batch_size 100000: each "
        "step takes 161",
        "ganad: note: 1 epoch of 1 step makes 1 update, fewer than egbad's minimum of 3 "
        "(min_updates): training 3 epochs = 3 updates",
    ]
    report = json.loads((out / "report.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["batch_size"] == report["config"]["batch_size"] == 100000
    assert (report["batch_size_used"], report["epochs_used"]) == (161, 3)
    assert report["steps"] == report["planned_steps"] == 3
    assert report["training_notes"] == [line.removeprefix("ganad: note: ") for line in notes]
    text = (out / "report.md").read_text()
    assert "Scored after 3 of 3 training steps, batch 161." in text
    assert "The training set has 161 samples, fewer than batch_size 100000" in text

    assert main(["evaluate", str(out)]) == 0
    assert main([*argv, "--resume"]) == 0  # the config as given: the same identity
    for again in (json.loads((out / "report.json").read_text()),):
        assert {k: again[k] for k in ("batch_size_used", "epochs_used", "steps", "auroc")} == {
            k: report[k] for k in ("batch_size_used", "epochs_used", "steps", "auroc")
        }
