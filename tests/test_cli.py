"""The `ganad` command end to end on the embedded data, and every bad input it must refuse."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ganad_jax import data
from ganad_jax.cli import main

TINY = [
    "--set", "image_size=16", "--set", "latent=8", "--set", "features=8",
    "--set", "batch_size=16", "--set", "max_steps=4", "--set", "checkpoint_every=2",
]  # fmt: skip
REPORT_KEYS = {
    "model", "data", "protocol", "seed", "auroc", "auprc", "precision", "recall", "f1",
    "threshold", "threshold_source", "train_seconds", "config",
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny GANomaly run on the embedded MNIST digits."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert main(["train", "ganomaly", "--out", str(out), "--quiet", *TINY]) == 0
    return out


def test_train_writes_report_and_plots(run):
    report = json.loads((run / "report.json").read_text())
    assert REPORT_KEYS <= set(report)
    assert report["protocol"] == "one-class-anomalous"
    assert 0.0 <= report["auroc"] <= 1.0
    assert report["threshold_source"].startswith("validation normals")
    for name in ("roc", "pr", "histogram", "examples"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 0
    assert (run / "report.md").exists()
    assert len((run / "metrics.jsonl").read_text().splitlines()) >= 1


def test_report_holds_the_threshold_sensitivity_table(run):
    report = json.loads((run / "report.json").read_text())
    rows = report["threshold_sensitivity"]
    assert [row["quantile"] for row in rows] == [0.95, 0.975, 0.99, 0.995]
    scores = np.load(run / "scores.npz")
    validation = scores[f"validation/{report['score_head']}"]
    labels, test = scores["test_labels"], scores[f"test/{report['score_head']}"]
    for row in rows:
        threshold = np.quantile(validation, row["quantile"])
        assert row["threshold"] == pytest.approx(threshold)
        assert row["validation_fpr"] == pytest.approx(np.mean(validation > threshold))
        flagged = test > threshold
        recall = flagged[labels == 1].mean()
        assert row["recall"] == pytest.approx(recall)
    assert rows[0]["validation_fpr"] >= rows[-1]["validation_fpr"]
    assert "Threshold sensitivity" in (run / "report.md").read_text()
    assert any((run / "tensorboard").iterdir())


def test_evaluate_reproduces_the_report(run, capsys):
    before = json.loads((run / "report.json").read_text())
    assert main(["evaluate", str(run), "--oracle"]) == 0
    after = json.loads((run / "report.json").read_text())
    assert after["auroc"] == before["auroc"]
    assert "oracle_best_f1" in after["oracle"]


def test_resume_continues_to_the_same_result(run, tmp_path):
    straight = json.loads((run / "report.json").read_text())
    out = tmp_path / "resumed"
    half = [a if a != "max_steps=4" else "max_steps=2" for a in TINY]
    assert main(["train", "ganomaly", "--out", str(out), "--quiet", *half]) == 0
    assert main(["train", "ganomaly", "--out", str(out), "--quiet", "--resume", *TINY]) == 0
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["auroc"] == straight["auroc"]
    assert resumed["threshold"] == straight["threshold"]


def test_score_files(run, tmp_path, capsys):
    images = []
    for i, value in enumerate((0, 255)):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.full((16, 16), value, np.uint8)).save(path)
        images.append(str(path))
    assert main(["score", str(run), *images, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines] == images
    assert all(np.isfinite(line["score"]) for line in lines)


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ganomaly" in out and "mnist-embedded" in out


def _refused(capsys, argv, message, tmp_path=None):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganad: error:") and message in err
    assert len(err.strip().splitlines()) == 1
    if tmp_path is not None:
        assert not (tmp_path / "out").exists(), "nothing may be written for bad input"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nope"], "unknown model 'nope'"),
        (["train", "ganomaly", "--data", "nope"], "unknown data set 'nope'"),
        (["train", "ganomaly", "--set", "nope=1"], "unknown setting 'nope'"),
        (["train", "ganomaly", "--set", "epochs=many"], "epochs expects int"),
        (["train", "ganomaly", "--set", "image_size=20"], "power of two"),
        (["train", "ganomaly", "--set", "anomaly_class=42"], "anomaly_class=42 does not exist"),
        (  # a training set smaller than one batch is one batch, unless no multiple fits
            ["train", "wgan", "--data", "breast-cancer"]
            + ["--set", "n_critic=100000", "--set", "batch_size=100000"],
            "smaller than one batch",
        ),
    ],
)
def test_bad_training_input(capsys, tmp_path, argv, message):
    _refused(capsys, [*argv, "--out", str(tmp_path / "out")], message, tmp_path)


def test_nan_and_empty_training_data(capsys, tmp_path, monkeypatch):
    def broken(*, image_size=None, kind="nan"):
        x = np.zeros((0 if kind == "empty" else 32, 16, 16, 1), np.float32)
        if kind == "nan":
            x[3, 2, 2, 0] = np.nan
        split = data.Split(x, np.zeros(len(x), np.int8))
        return data.Dataset("broken", "test", "image", split, split, split, {})

    monkeypatch.setitem(
        data._SOURCES, "broken", data.Source("broken", broken, {"kind": "nan"}, "image", "")
    )
    out = ["--out", str(tmp_path / "out")]
    _refused(capsys, ["train", "ganomaly", "--data", "broken", *out], "NaN or inf", tmp_path)
    _refused(
        capsys,
        ["train", "ganomaly", "--data", "broken", "--set", "kind=empty", *out],
        "empty",
        tmp_path,
    )


def test_run_folder_without_or_with_corrupt_checkpoint(capsys, run, tmp_path):
    _refused(capsys, ["evaluate", str(tmp_path)], "not a run folder")
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "checkpoints")
    _refused(capsys, ["evaluate", str(copy)], "no checkpoint")
    shutil.copytree(run / "checkpoints", copy / "checkpoints")
    for path in (copy / "checkpoints").rglob("*"):
        if path.is_file() and path.stat().st_size > 0 and "ocdbt" not in path.name:
            path.write_bytes(b"garbage")
    _refused(capsys, ["evaluate", str(copy)], "no intact checkpoint left")


def test_resume_with_another_config_is_refused(capsys, run):
    _refused(
        capsys,
        ["train", "ganomaly", "--out", str(run), "--resume", *TINY, "--set", "latent=9"],
        "different config",
    )
    _refused(capsys, ["train", "ganomaly", "--out", str(run), *TINY], "already holds a run")


def test_score_refuses_wrong_size_channels_and_nan(capsys, run, tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(small)
    _refused(capsys, ["score", str(run), str(small)], "the run was trained on (16, 16, 1)")
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(rgb)
    _refused(capsys, ["score", str(run), str(rgb)], "(16, 16, 3)")
    bad = tmp_path / "nan.npy"
    np.save(bad, np.full((16, 16, 1), np.nan, np.float32))
    _refused(capsys, ["score", str(run), str(bad)], "NaN or inf")
    assert main(["score", str(run), str(small), "--resize"]) == 0


def test_data_list_and_show(capsys, tmp_path):
    assert main(["data", "list"]) == 0
    assert "mnist-embedded" in capsys.readouterr().out
    assert main(["data", "show", "digits", "--out", str(tmp_path), "--set", "anomaly_class=3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["test_anomalies"] > 0
    assert (tmp_path / "digits.png").stat().st_size > 0
    _refused(capsys, ["data", "show", "digits", "--set", "anomaly_class=x"], "anomaly_class")


def test_every_data_option_is_kept():
    from ganad_jax.runspec import make_spec

    spec = make_spec(
        "ganomaly", "mnist-embedded", settings=["anomaly_class=3", "validation_fraction=0.2"]
    )
    assert spec.data_options == {
        **spec.data_options,
        "anomaly_class": 3,
        "validation_fraction": 0.2,
    }


def test_data_set_threshold_quantile_is_the_default():
    """kddcup99's protocol implies a 0.99 quantile; a --set still wins; others keep 0.95."""
    from ganad_jax.runspec import make_spec

    assert make_spec("egbad", "kddcup99").evaluation.threshold_quantile == 0.99
    told = make_spec("egbad", "kddcup99", settings=["threshold_quantile=0.9"])
    assert told.evaluation.threshold_quantile == 0.9
    assert make_spec("ganomaly", "mnist-embedded").evaluation.threshold_quantile == 0.95


def test_bench_subcommand(capsys):
    assert main(["bench", "ganomaly", "--tiny", "--json", "--repeats", "1", "--steps", "1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"train_per_s", "score_per_s", "compile_s", "peak_fraction"} <= set(result)
