"""The training loop: keys, data order, the NaN guard and its checkpoints."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors
from ganad_jax.checkpoint import Checkpoints
from ganad_jax.train import TrainingDiverged, TrainOptions, epoch_permutation, fit, steps_per_epoch


def test_epoch_permutation_is_a_keyed_permutation():
    key = jax.random.key(0)
    a = np.asarray(epoch_permutation(key, 0, 10))
    assert sorted(a.tolist()) == list(range(10))
    np.testing.assert_array_equal(a, epoch_permutation(key, 0, 10))
    assert not np.array_equal(a, epoch_permutation(key, 1, 10))


def test_steps_per_epoch_rejects_empty_and_tiny_sets():
    assert steps_per_epoch(130, 64) == 2
    with pytest.raises(ValueError, match="empty"):
        steps_per_epoch(0, 64)
    with pytest.raises(ValueError, match="smaller than one batch"):
        steps_per_epoch(10, 64)


def test_nan_guard_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    # The generator's learning rate turns NaN from its 5th update on.
    lr = lambda count: jnp.where(count < 4, 1e-4, jnp.nan)  # noqa: E731
    config = tiny_config("ganomaly", epochs=5, optimizers={"g": optax.sgd(lr)})
    x = sample_inputs("ganomaly", config, 4 * config.batch_size)
    options = TrainOptions(progress=False, log_every=1, checkpoint_every=2, max_steps=10)
    with pytest.raises(
        TrainingDiverged, match="non-finite .* at step 5; .*last good checkpoint: step 4"
    ):
        fit(detectors.get("ganomaly"), config, x, seed=0, run_dir=tmp_path, options=options)
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    assert checkpoints.latest_step() == 4
    checkpoints.close()
    logged = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(logged) == 4


def _early_stopping_case(**config_overrides):
    """EGBAD's tiny config on random rows, validation normals from the same distribution."""
    config = tiny_config("egbad", epochs=10, **config_overrides)
    x = sample_inputs("egbad", config, 4 * config.batch_size, modality="tabular")
    validation = sample_inputs("egbad", config, 13, seed=1, modality="tabular")
    return detectors.get("egbad"), config, x, validation


def _validation_rows(history):
    return [(row["step"], row["validation_loss"]) for row in history if "validation_loss" in row]


def test_early_stopping_keeps_the_best_state_and_stops_after_patience():
    # A zero learning rate keeps every evaluation equal to the first, which stays the best.
    frozen = {name: optax.sgd(0.0) for name in ("e", "g", "d_xz")}
    detector, config, x, validation = _early_stopping_case(optimizers=frozen)
    options = TrainOptions(progress=False, validate_every=2, patience=3)
    state, history = fit(detector, config, x, seed=0, options=options, validation_x=validation)
    assert [step for step, _ in _validation_rows(history)] == [2, 4, 6, 8]
    assert int(state.step) == 2


def test_early_stopping_returns_the_lowest_validation_loss_and_resumes(tmp_path):
    from helpers import trees_equal

    from ganad_jax.scoring import make_scorer, score_dataset
    from ganad_jax.train import restore

    detector, config, x, validation = _early_stopping_case()
    options = TrainOptions(progress=False, log_every=1, validate_every=1, max_steps=6)
    state, history = fit(detector, config, x, seed=0, options=options, validation_x=validation)
    rows = _validation_rows(history)
    best_step, best_loss = min(rows, key=lambda row: row[1])
    assert int(state.step) == best_step
    scores = score_dataset(make_scorer(detector, config), state, validation, config.batch_size)
    assert float(np.mean(scores.value)) == best_loss

    first = TrainOptions(progress=False, validate_every=1, checkpoint_every=2, max_steps=3)
    fit(detector, config, x, seed=0, run_dir=tmp_path, options=first, validation_x=validation)
    again = TrainOptions(progress=False, validate_every=1, checkpoint_every=2, max_steps=6)
    resumed, _ = fit(
        detector,
        config,
        x,
        seed=0,
        run_dir=tmp_path,
        options=again,
        resume=True,
        validation_x=validation,
    )
    assert trees_equal(resumed, state)
    assert trees_equal(restore(detector, config, tmp_path, x[: config.batch_size]), state)


def test_validation_statistics_are_not_decided_by_a_few_extreme_rows():
    from ganad_jax.train import VALIDATION_STATISTICS

    values = np.array([1.0] * 18 + [1000.0] * 2)  # 10 % of the rows score far above the rest
    assert VALIDATION_STATISTICS["mean"](values) == 100.9
    assert VALIDATION_STATISTICS["median"](values) == 1.0
    assert VALIDATION_STATISTICS["trimmed_mean"](values) == 1.0  # the middle 80 %
    with pytest.raises(ValueError, match="validation_statistic must be one of"):
        TrainOptions(validation_statistic="max")


def test_early_stopping_on_the_median_keeps_the_lowest_median():
    from ganad_jax.scoring import make_scorer, score_dataset

    detector, config, x, validation = _early_stopping_case()
    options = TrainOptions(
        progress=False, validate_every=1, max_steps=4, validation_statistic="median"
    )
    state, history = fit(detector, config, x, seed=0, options=options, validation_x=validation)
    best_step, best_loss = min(_validation_rows(history), key=lambda row: row[1])
    assert int(state.step) == best_step
    scores = score_dataset(make_scorer(detector, config), state, validation, config.batch_size)
    assert float(np.median(scores.value)) == best_loss


def test_the_report_says_stopping_and_threshold_share_the_validation_normals():
    from ganad_jax import runs, runspec
    from ganad_jax.train import plan_training

    spec = runspec.make_spec(
        "alad",
        "breast-cancer",
        settings=["validate_every=5", "validation_statistic=median"],
        progress=False,
    )
    assert spec.train.validation_statistic == "median"
    plan = plan_training(spec.detector, spec.config, 200)
    notes = runs.training_summary(plan, plan.total_steps, spec.train)["training_notes"]
    assert any("lowest median" in n and "the threshold is also fitted on" in n for n in notes)


def test_a_training_curve_logs_validation_scores_and_the_test_auroc_diagnostic(tmp_path):
    import json

    from ganad_jax import runs, runspec

    settings = ("batch_size=16", "max_steps=4", "curve_every=2")
    spec = runspec.make_spec("egbad", "breast-cancer", 0, settings, progress=False)
    report = runs.train_run(spec, tmp_path / "run")
    rows = [
        json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    curve = [r for r in rows if "test_auroc_diagnostic" in r]
    assert [r["step"] for r in curve] == [2, 4]
    # the last point is the evaluated state: the report's AUROC, the saved validation scores' mean
    assert curve[-1]["test_auroc_diagnostic"] == pytest.approx(report["auroc"], abs=1e-12)
    with np.load(tmp_path / "run" / "scores.npz") as scores:
        validation = scores[f"validation/{report['score_head']}"]
    assert curve[-1]["validation_mean_score"] == pytest.approx(float(validation.mean()), rel=1e-6)
    assert "training_curve" in report["plots"]
    assert (tmp_path / "run" / "plots" / "training_curve.png").stat().st_size > 0
