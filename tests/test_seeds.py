"""Many seeds as one compiled program (`ganad_jax.seeds`): each member is the run of its seed."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors
from ganad_jax.detectors import ConfigError
from ganad_jax.scoring import make_scorer, score_dataset
from ganad_jax.seeds import fit_seeds, member, parse_seeds, sequential_step
from ganad_jax.train import TrainingDiverged, TrainOptions, fit

OPTIONS = TrainOptions(max_steps=3, log_every=1, progress=False)


def _assert_same_run(detector, config, x, single, member, exact):
    """Parameters bit for bit where `exact` is "params" or "all", else to float rounding;
    BatchNorm statistics and scores bit for bit where `exact` is "all", else to float rounding
    (their reductions may fuse differently)."""

    def close(a, b):
        if exact == "all":
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        else:
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-5, atol=2e-6)

    compare = np.testing.assert_array_equal if exact else close
    for a, b in zip(jax.tree.leaves(single.params), jax.tree.leaves(member.params), strict=True):
        compare(np.asarray(a), np.asarray(b))
    stats = zip(
        jax.tree.leaves(single.batch_stats), jax.tree.leaves(member.batch_stats), strict=True
    )
    for a, b in stats:
        close(a, b)
    scorer = make_scorer(detector, config)
    for a, b in zip(
        score_dataset(scorer, single, x, config.batch_size).heads.values(),
        score_dataset(scorer, member, x, config.batch_size).heads.values(),
        strict=True,
    ):
        close(a, b)


@pytest.mark.parametrize(
    ("name", "modality", "mapping", "exact"),
    [
        ("egbad", "tabular", "auto", None),
        ("egbad", "tabular", "unrolled", "params"),
        ("egbad", "tabular", "sequential", "all"),
        pytest.param("ganomaly", "image", "auto", "params", marks=pytest.mark.slow),
        pytest.param("ganomaly", "image", "sequential", "all", marks=pytest.mark.slow),
    ],
)
def test_each_seed_is_the_run_of_that_seed(name, modality, mapping, exact, tmp_path):
    # "auto" vmaps tables over the seeds (equal to float rounding) and unrolls images on CPU;
    # unrolled, a member is the computation of its run alone (bit for bit in these tiny steps,
    # not guaranteed in larger ones); sequential runs the single run's own compiled step
    detector, config = detectors.get(name), tiny_config(name)
    options = dataclasses.replace(OPTIONS, seed_mapping=mapping)
    x = sample_inputs(name, config, 3 * config.batch_size, modality=modality)
    dirs = [tmp_path / "seed-0", tmp_path / "seed-1"]
    results = fit_seeds(
        detector, config, x, seeds=(0, 1), run_dirs=dirs, options=options, announce=False
    )
    for result, folder in zip(results, dirs, strict=True):
        single, history = fit(
            detector, config, x, seed=result.seed, options=OPTIONS, announce=False
        )
        _assert_same_run(detector, config, x, single, result.state, exact)
        assert int(result.state.step) == 3 and result.diverged is None
        assert [h["step"] for h in result.history] == [h["step"] for h in history]
        assert (folder / "metrics.jsonl").read_text().count("\n") == 3
        assert (folder / "checkpoints").is_dir()
    first, second = (jax.tree.leaves(r.state.params)[0] for r in results)
    assert not np.array_equal(np.asarray(first), np.asarray(second))  # the seeds differ


def test_a_diverging_seed_stops_alone():
    # a step whose loss is NaN where the member's largest kernel starts with a positive weight:
    # which seeds diverge depends on their initialisation (here seeds 2 and 3), and each
    # single-seed run says which
    detector, config = detectors.get("egbad"), tiny_config("egbad")
    first = lambda params: max(jax.tree.leaves(params), key=np.size).ravel()[0]  # noqa: E731

    def train_step(config, state, batch, key):
        new, metrics = detector.train_step(config, state, batch, key)
        flag = jnp.where(first(state.params) > 0, jnp.nan, 0.0)
        return new, {**metrics, "d_loss": metrics["d_loss"] + flag}

    flaky = dataclasses.replace(detector, train_step=train_step)
    x = sample_inputs("egbad", config, 2 * config.batch_size, modality="tabular")
    seeds = (0, 1, 2, 3)
    results = fit_seeds(flaky, config, x, seeds=seeds, options=OPTIONS, announce=False)
    outcomes = []
    for result in results:
        try:
            single, _ = fit(flaky, config, x, seed=result.seed, options=OPTIONS, announce=False)
        except TrainingDiverged:
            assert result.state is None and "non-finite d_loss at step 1" in result.diverged
            outcomes.append("diverged")
        else:
            _assert_same_run(flaky, config, x, single, result.state, exact=None)
            outcomes.append("trained")
    assert set(outcomes) == {"diverged", "trained"}, outcomes


def test_parse_seeds_reads_lists_and_ranges_and_refuses_the_rest():
    assert parse_seeds("0,1,2") == (0, 1, 2)
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    for bad, message in (("1,x", "like 0,1,2"), ("3-1", "backwards"), ("0,0", "twice")):
        with pytest.raises(ValueError, match=message):
            parse_seeds(bad)


def test_seeds_refuse_a_device_mesh():
    config = tiny_config("egbad")
    with pytest.raises(ConfigError, match="one device"):
        fit_seeds(
            detectors.get("egbad"), config, np.zeros((8, 4), np.float32), seeds=(0, 1),
            options=TrainOptions(devices=2),
        )  # fmt: skip


def test_ganad_train_seeds_writes_a_run_per_seed_and_a_report_over_them(tmp_path, capsys):
    import json

    from ganad_jax.cli import main

    tiny = ["--data", "breast-cancer", "--quiet", "--set", "batch_size=16", "--set", "max_steps=3"]
    tiny += ["--set", "curve_every=3"]  # each seed logs its training curve
    out = tmp_path / "seeds"
    assert main(["train", "egbad", "--seeds", "0-1", "--out", str(out), *tiny]) == 0
    assert "2 of 2 seeds: AUROC" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["seeds"] == [0, 1] and report["diverged"] == {}
    assert (out / "plots" / "roc_seeds.png").stat().st_size > 0
    aurocs = []
    for seed in (0, 1):
        single = tmp_path / f"single-{seed}"
        assert main(["train", "egbad", "--seed", str(seed), "--out", str(single), *tiny]) == 0
        alone = json.loads((single / "report.json").read_text())
        member = json.loads((out / f"seed-{seed}" / "report.json").read_text())
        assert member["seed"] == seed and "training_curve" in member["plots"]
        np.testing.assert_allclose(member["auroc"], alone["auroc"], atol=1e-3)
        aurocs.append(member["auroc"])
        assert main(["evaluate", str(out / f"seed-{seed}")]) == 0  # a complete run of its own
    auroc = report["metrics"]["auroc"]
    np.testing.assert_allclose(auroc["mean"], np.mean(aurocs), rtol=1e-12)
    np.testing.assert_allclose(auroc["std"], np.std(aurocs, ddof=1), rtol=1e-12)
    assert auroc["min"] == min(aurocs) and auroc["max"] == max(aurocs)
    assert [row["seed"] for row in report["per_seed"]] == [0, 1]
    assert "| auroc |" in (out / "report.md").read_text()
    assert main(["evaluate", str(out)]) == 2
    assert "holds a multi-seed run" in capsys.readouterr().err
    assert main(["train", "egbad", "--seeds", "0,1", "--resume", "--out", str(out), *tiny]) == 2
    assert "--resume does not take --seeds" in capsys.readouterr().err


def test_experiment_runs_that_differ_only_by_seed_train_as_one_program(monkeypatch):
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    spec = importlib.util.spec_from_file_location("experiments_run_seeds", path)
    run = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiments_run_seeds", run)  # dataclasses look it up there
    spec.loader.exec_module(run)
    runs = (
        run.Run("egbad", "kddcup99", ("epochs=1",), 0),
        run.Run("mad-gan", "skab", ("epochs=1",), 0),  # SKAB's leaderboard: a model per file
        run.Run("egbad", "kddcup99", ("epochs=1",), 1),
        run.Run("mad-gan", "skab", ("epochs=1",), 1),
        run.Run("egbad", "kddcup99", ("epochs=2",), 0),
        run.Run("mad-gan", "skab", ("protocol=time-series",), 0),
        run.Run("mad-gan", "skab", ("protocol=time-series",), 1),
    )
    assert run.seed_groups(runs) == [[0, 2], [1], [3], [4], [5, 6]]
    assert (
        run.seeds_command(runs[0], (0, 1))
        == "ganad train egbad --data kddcup99 --seeds 0,1 --set epochs=1"
    )


def test_a_sweep_trains_each_value_as_its_own_run(tmp_path, capsys):
    import json

    from ganad_jax.cli import main
    from ganad_jax.seeds import fit_members

    detector = detectors.get("egbad")
    configs = [tiny_config("egbad", lr=lr) for lr in (1e-4, 1e-3)]
    x = sample_inputs("egbad", configs[0], 3 * configs[0].batch_size, modality="tabular")
    results = fit_members(detector, configs, x, seeds=(0, 0), options=OPTIONS, announce=False)
    for config, result in zip(configs, results, strict=True):  # unrolled: bit for bit
        single, _ = fit(detector, config, x, seed=0, options=OPTIONS, announce=False)
        _assert_same_run(detector, config, x, single, result.state, exact="params")
    with pytest.raises(ConfigError, match="different training plans"):
        fit_members(
            detector, [configs[0], tiny_config("egbad", batch_size=4)], x, seeds=(0, 0),
            options=OPTIONS,
        )  # fmt: skip

    tiny = ["--data", "breast-cancer", "--quiet", "--set", "batch_size=16", "--set", "max_steps=3"]
    out = tmp_path / "sweep"
    assert main(["train", "egbad", "--sweep", "lr=1e-4,1e-3", "--out", str(out), *tiny]) == 0
    assert "lr swept: 1e-4: AUROC" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["sweep"] == "lr" and report["values"] == ["1e-4", "1e-3"]
    for value, row in zip(("1e-4", "1e-3"), report["per_value"], strict=True):
        alone = tmp_path / f"lr-{value}"
        assert main(["train", "egbad", "--set", f"lr={value}", "--out", str(alone), *tiny]) == 0
        expected = json.loads((alone / "report.json").read_text())
        member = json.loads((out / f"lr={value}" / "report.json").read_text())
        assert member["config"]["lr"] == float(value)
        np.testing.assert_allclose(row["auroc"], expected["auroc"], rtol=1e-6)
    assert "| lr |" in (out / "report.md").read_text()
    capsys.readouterr()
    assert (
        main(["train", "egbad", "--sweep", "max_steps=2,3", "--out", str(tmp_path / "x"), *tiny])
        == 2
    )
    assert "--sweep takes a config setting" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:  # argparse refuses it
        main(["train", "egbad", "--sweep", "lr=1e-3", *tiny])
    assert exited.value.code == 2 and "--sweep expects KEY=V1,V2" in capsys.readouterr().err


def test_sequential_step_donates_each_members_state_and_copies_none():
    # stacked states would be sliced out and stacked again every step (a copy of every member)
    one = jax.jit(lambda state, data, perm, index, key: (state + 1.0, {"m": state.sum()}),
                  donate_argnums=0)  # fmt: skip
    states = [jnp.zeros(4), jnp.ones(4)]
    step = sequential_step([one, one])
    new, metrics = step(states, None, jnp.zeros((2, 1)), 0, jnp.zeros(2))
    assert isinstance(new, list) and [float(s[0]) for s in new] == [1.0, 2.0]
    assert all(s.is_deleted() for s in states)  # donated in place, not copied from a stack
    np.testing.assert_array_equal(np.asarray(metrics["m"]), [0.0, 4.0])
    assert member(new, 1) is new[1]
