"""Per-head report metrics, the reference baselines and the experiment harness's baseline and
peer rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from ganad_jax.evaluation import baselines
from ganad_jax.evaluation.metrics import evaluate_scores
from ganad_jax.scoring import ScoreArrays


def test_every_head_is_thresholded_at_its_own_validation_quantile():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 30 + [1] * 10)
    test = {"a": rng.normal(size=40) + labels, "b": 100 * rng.normal(size=40) - 50 * labels}
    validation = {"a": rng.normal(size=25), "b": 100 * rng.normal(size=25)}
    result = evaluate_scores(
        labels, ScoreArrays(test, "a"), ScoreArrays(validation, "a"), 0.9, oracle=True
    )
    for name in ("a", "b"):
        head = result["heads"][name]
        threshold = np.quantile(validation[name], 0.9)
        assert head["threshold"] == pytest.approx(threshold)
        assert head["f1"] == pytest.approx(skm.f1_score(labels, test[name] > threshold))
        top = np.zeros(40, int)
        top[np.argsort(-test[name])[:10]] = 1
        assert head["oracle_top_k_f1"] == pytest.approx(skm.f1_score(labels, top))
        assert head["auroc"] == pytest.approx(skm.roc_auc_score(labels, test[name]))
    assert result["f1"] == result["heads"]["a"]["f1"]
    assert result["oracle"]["oracle_top_k_f1"] == result["heads"]["a"]["oracle_top_k_f1"]
    without = evaluate_scores(labels, ScoreArrays(test, "b"), ScoreArrays(validation, "b"), 0.9)
    assert "oracle" not in without and "oracle_top_k_f1" not in without["heads"]["b"]
    assert without["threshold"] == pytest.approx(np.quantile(validation["b"], 0.9))


def test_pca_baseline_is_the_residual_off_the_top_standardised_components():
    rng = np.random.default_rng(1)
    # three directions of variance 16, 9, 0.04 (after standardising, by construction below)
    train = rng.normal(size=(500, 3)) @ np.diag([4.0, 3.0, 0.2]) @ _rotation(3, 2)
    train = np.concatenate([train, np.full((500, 1), 5.0)], axis=1)  # a constant column
    x = rng.normal(size=(7, 4))
    mean, std = train.mean(0), train.std(0)
    std[std == 0] = 1.0
    z = (train - mean) / std
    _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    share = np.cumsum(s**2) / np.sum(s**2)
    k = int(np.searchsorted(share, baselines.PCA_VARIANCE) + 1)
    basis = vt[:k]
    centred = (x - mean) / std - z.mean(0)
    expected = np.sum((centred - centred @ basis.T @ basis) ** 2, axis=1)
    np.testing.assert_allclose(baselines.fit("pca", train)(x), expected, rtol=1e-8)
    assert np.allclose(baselines.fit("pca", train)(train).mean(), np.sum(s[k:] ** 2) / 500)


def test_isolation_forest_baseline_is_seeded_and_ranks_outliers_high():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(300, 5))
    x = np.concatenate([rng.normal(size=(20, 5)), rng.normal(size=(5, 5)) + 8.0])
    a, b = baselines.fit("iforest", train, 3)(x), baselines.fit("iforest", train, 3)(x)
    np.testing.assert_array_equal(a, b)
    assert a[20:].min() > a[:20].max()
    assert not np.array_equal(a, baselines.fit("iforest", train, 4)(x))
    images = rng.normal(size=(50, 4, 4, 1))
    assert baselines.fit("pca", images)(images[:3]).shape == (3,)
    with pytest.raises(ValueError, match="baseline must be one of pca, iforest, knn"):
        baselines.fit("lof", train)


def test_knn_baseline_is_the_distance_to_the_nearest_training_normal(monkeypatch):
    monkeypatch.setattr(baselines, "KNN_BLOCK", 3)  # several blocks, the last one short
    rng = np.random.default_rng(5)
    train, x = rng.uniform(-1, 1, (40, 4, 4, 1)), rng.uniform(-1, 1, (7, 4, 4, 1))
    x[2] = train[11]  # a training normal itself is at distance 0
    expected = np.linalg.norm(x.reshape(7, 1, 16) - train.reshape(1, 40, 16), axis=-1).min(axis=1)
    got = baselines.fit("knn", train)(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    assert got[2] < 1e-3


def test_experiment_baseline_rows_are_evaluated_as_runs_are(tmp_path, monkeypatch):
    run = _experiments_run(monkeypatch)
    baseline = run.Baseline("pca", "breast-cancer", ("threshold_quantile=0.9", "oracle=true"), 1)
    assert baseline.command() == (
        "baseline pca --data breast-cancer --seed 1 --set threshold_quantile=0.9 --set oracle=true"
    )
    report = baseline.report()
    assert report["threshold_source"].endswith("0.9 quantile (n=18)")
    assert report["heads"]["pca"]["f1"] == report["f1"] and "oracle" in report
    assert run.metric(report, "threshold_sensitivity.2.quantile") == 0.99
    assert run.metric(report, "threshold_sensitivity.9.f1") is None
    assert run.metric(report, "heads.cross_entropy.f1") is None
    rows = [run.row(baseline, report, ("auroc", "heads.cross_entropy.f1"))]
    run.write_results(run.Experiment("t", (), ("auroc", "heads.cross_entropy.f1")), rows, tmp_path)
    line = (tmp_path / "t.md").read_text().splitlines()[6]
    assert line.startswith(f"| `{baseline.command()}` | {report['auroc']:.4f} | — |")


def test_experiment_baseline_rows_apply_every_data_setting(monkeypatch):
    # two data keys: the second must not reset the first to its default (protocol)
    run = _experiments_run(monkeypatch)
    loaded = []
    monkeypatch.setattr(run.baselines, "fit", lambda method, x, seed: lambda y: np.zeros(len(y)))
    real_load = run.datasets.load
    monkeypatch.setattr(
        run.datasets, "load", lambda *a, **o: loaded.append(o) or real_load(*a, **o)
    )
    settings = ("protocol=one-class-normal", "normal_class=3", "image_size=8")
    run.Baseline("knn", "digits", settings).report()
    assert loaded[0]["protocol"] == "one-class-normal" and loaded[0]["normal_class"] == 3
    assert loaded[0]["image_size"] == 8


FAKE_PEER = """
import sys
import numpy as np
split, scores = np.load(sys.argv[1]), sys.argv[2]
with open(scores + ".calls", "a") as f:
    f.write(" ".join(sys.argv[3:]) + "\\n")
total = lambda x: x.reshape(len(x), -1).sum(axis=1)
np.savez(scores, validation=total(split["validation"]), test=total(split["test"]),
         updates=np.int64(len(split["train"])), versions=np.array("fake 1.0"))
"""


def test_experiment_peer_rows_run_the_script_once_and_are_evaluated_as_runs_are(
    tmp_path, monkeypatch
):
    run = _experiments_run(monkeypatch)
    (tmp_path / "fake.py").write_text(FAKE_PEER)
    monkeypatch.setattr(run, "PEERS", tmp_path)
    monkeypatch.delenv("GANAD_PEER_PYTHON", raising=False)
    peer = run.Peer("fake", "breast-cancer", ("threshold_quantile=0.9",), 2, ("--epochs", "3"))
    assert peer.command() == (
        "peer fake --data breast-cancer --seed 2 --set threshold_quantile=0.9 --epochs 3"
    )
    folder = tmp_path / "row"
    report = peer.report(folder)
    ds, _ = run.load_split("breast-cancer", ())
    total = [x.reshape(len(x), -1).sum(axis=1) for x in (ds.test.x, ds.validation.x)]
    expected = evaluate_scores(
        ds.test.y, ScoreArrays({"fake": total[0]}, "fake"),
        ScoreArrays({"fake": total[1]}, "fake"), 0.9,
    )  # fmt: skip
    assert report["auroc"] == expected["auroc"] and report["f1"] == expected["f1"]
    assert report["updates"] == len(ds.train.x) and report["peer"] == "fake 1.0"
    assert peer.report(folder) == report  # read back, not rerun
    calls = (folder / "scores.npz.calls").read_text().splitlines()
    assert calls == ["--seed 2 --epochs 3"] and not (folder / "split.npz").exists()
    rows = [{**run.row(peer, report, ("auroc",)), "peer": report["peer"]}]
    run.write_results(run.Experiment("t", (), ("auroc",)), rows, tmp_path)
    assert "Peer rows ran with fake 1.0." in (tmp_path / "t.md").read_text()


def test_experiment_keep_rows_trains_only_what_the_committed_table_lacks(tmp_path, monkeypatch):
    run = _experiments_run(monkeypatch)
    (tmp_path / "fake.py").write_text(FAKE_PEER)
    monkeypatch.setattr(run, "PEERS", tmp_path)
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.delenv("GANAD_PEER_PYTHON", raising=False)
    runs = tuple(run.Run("ganomaly", "mnist", ("anomaly_class=3",), seed=s) for s in (0, 1, 2))
    peers = tuple(run.Peer("fake", "breast-cancer", (), s) for s in (0, 1))
    trained = []
    monkeypatch.setattr(
        run.runs, "train_run", lambda spec, folder, **kw: trained.append(kw.get("seeds"))
    )
    monkeypatch.setattr(
        run, "load", lambda path: run.Experiment("t", runs, ("auroc",), peers=peers)
    )
    committed = [
        {**run.row(r, {"auroc": 0.5, "threshold_source": "v", "train_seconds": 1.0}, ("auroc",))}
        for r in (runs[0], runs[1], peers[0])
    ]  # fmt: skip
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "t.json").write_text(run.json.dumps({"rows": committed}))
    run.main(["t.py", "--out", str(tmp_path / "out"), "--keep-rows"])
    assert trained == [None]  # seed 2 alone, not the committed seeds 0 and 1
    calls = list((tmp_path / "out" / "t").glob("*/scores.npz.calls"))
    assert len(calls) == 1 and calls[0].read_text() == "--seed 1\n"  # only the new peer
    table = run.json.loads((tmp_path / "results" / "t.json").read_text())["rows"]
    assert [line["command"] for line in table] == [
        runs[0].command(),
        runs[1].command(),
        peers[0].command(),
        peers[1].command(),
    ]
    assert [line.get("kept", False) for line in table] == [True, True, True, False]
    assert "3 of the 4 rows were kept" in (tmp_path / "results" / "t.md").read_text()


def test_experiment_curves_figure_labels_each_run_by_what_sets_it_apart(tmp_path, monkeypatch):
    run = _experiments_run(monkeypatch)
    drawn = {}
    monkeypatch.setattr(run, "plot_training_curves", lambda path, curves: drawn.update(curves))
    runs = (
        run.Run("ganomaly", "mnist", ("anomaly_class=1", "curve_every=5")),
        run.Run("ganomaly", "mnist", ("anomaly_class=3", "curve_every=5"), seed=1),
    )
    experiment = run.Experiment("t", runs)
    (tmp_path / "t.md").write_text("# t\n")
    run.write_curves(experiment, {1: ([5], [0.2], [0.6])}, tmp_path)
    assert drawn == {"ganomaly": ([5], [0.2], [0.6])}  # a lone curve: nothing sets it apart
    drawn.clear()
    run.write_curves(experiment, {0: ([5], [0.1], [0.5]), 1: ([5], [0.2], [0.6])}, tmp_path)
    assert list(drawn) == ["--seed 0 --set anomaly_class=1", "--seed 1 --set anomaly_class=3"]
    assert "2 runs that logged one" in (tmp_path / "t.md").read_text()
    assert "`t_curves.png`" in (tmp_path / "t.md").read_text()


def _rotation(n: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return q


def _experiments_run(monkeypatch):
    path = Path(__file__).resolve().parents[1] / "experiments" / "run.py"
    spec = importlib.util.spec_from_file_location("experiments_run_baselines", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "experiments_run_baselines", module)
    spec.loader.exec_module(module)
    return module
