"""Bad input to `ganad`: exit status 2, exactly one line on stderr naming the problem, and the file
system exactly as it was (paths, sizes and hashes of everything under the working folder).

The table runs `ganad_jax.cli.main` in this process (one compile of the tiny run serves every
case); `test_the_installed_command_*` run the real `ganad` executable for the paths that only a
process shows: the exit status of an uncaught failure, and Ctrl-C.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganad_jax import runfolder
from ganad_jax.cli import main
from ganad_jax.data.preprocess import to_unit_range
from ganad_jax.train import elapsed_seconds

TINY = [
    "--set", "image_size=16", "--set", "latent=8", "--set", "features=8",
    "--set", "batch_size=16", "--set", "max_steps=4", "--set", "checkpoint_every=2",
]  # fmt: skip


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under `root` with its kind, size and content hash (links: their target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir",)
        else:
            data = path.read_bytes()
            found[rel] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return found


@pytest.fixture(scope="module")
def good_run(tmp_path_factory) -> Path:
    """A finished tiny GANomaly run (copied into each test's folder before use)."""
    out = tmp_path_factory.mktemp("good") / "run"
    assert main(["train", "ganomaly", "--out", str(out), "--quiet", *TINY]) == 0
    return out


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_run: Path) -> Path:
    """A working folder holding a copy of the good run, a user's folder of their own files, a
    symlink to it, a regular file and an empty folder."""
    root = tmp_path / "work"
    root.mkdir()
    shutil.copytree(good_run, root / "run")
    thesis = root / "thesis"
    (thesis / "chapters").mkdir(parents=True)
    (thesis / "thesis.tex").write_text("\\documentclass{book}\n")
    (thesis / "chapters" / "one.tex").write_text("weeks of work\n")
    (root / "link").symlink_to(thesis, target_is_directory=True)
    (root / "file.txt").write_text("not a folder\n")
    (root / "empty").mkdir()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(root / "wrong-size.png")
    monkeypatch.chdir(root)
    return root


def _edit_config(root: Path, change) -> None:
    path = root / "run" / "config.json"
    saved = json.loads(path.read_text())
    change(saved)
    path.write_text(json.dumps(saved))


def _truncate_checkpoints(root: Path) -> None:
    for path in (root / "run" / "checkpoints").rglob("*"):
        if path.is_file() and path.stat().st_size > 64:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


NEW = ["train", "ganomaly", "--out", "new", "--quiet", *TINY]
CASES = {
    # argument: (command, what the one line must contain, preparation of the folder)
    "unknown model": (["train", "no-such-model", "--out", "new"], "unknown model", None),
    "unknown data set": ([*NEW, "--data", "no-such-data"], "unknown data set", None),
    "unknown setting": ([*NEW, "--set", "no_such_key=1"], "unknown setting", None),
    "setting without =": ([*NEW, "--set", "epochs"], "expects key=value", None),
    "epochs not a number": ([*NEW, "--set", "epochs=abc"], "epochs expects int", None),
    "batch_size=0": ([*NEW, "--set", "batch_size=0"], "batch_size must be >= 1", None),
    "batch_size=-4": ([*NEW, "--set", "batch_size=-4"], "batch_size must be >= 1", None),
    "lr=nan": ([*NEW, "--set", "lr=nan"], "lr must be finite", None),
    "lr=0": ([*NEW, "--set", "lr=0"], "lr must be > 0", None),
    "epochs=0": ([*NEW, "--set", "epochs=0"], "epochs must be >= 1", None),
    "max_steps=0": ([*NEW, "--set", "max_steps=0"], "max_steps must be >= 1", None),
    "threshold_quantile=2": (
        [*NEW, "--set", "threshold_quantile=2"],
        "threshold_quantile must be in (0, 1)",
        None,
    ),
    "validation_fraction=0": (
        [*NEW, "--set", "validation_fraction=0"],
        "validation split is empty",
        None,
    ),
    "optimizers from the command line": (
        [*NEW, "--set", "optimizers=g:0.1"],
        "set it through the Python API",
        None,
    ),
    "extra terms from the command line": (
        [*NEW, "--set", "extra_terms.g.x=1"],
        "set it through the Python API",
        None,
    ),
    "a loss weight of a term the detector lacks": (
        [*NEW, "--set", "loss_weights.g.nope=1"],
        "names term 'nope'",
        None,
    ),
    "more devices than present": ([*NEW, "--devices", "64"], "64 devices requested", None),
    "seed too large for a key": ([*NEW, "--seed", str(2**32)], "seed must be in [0,", None),
    "negative seed": ([*NEW, "--seed", "-1"], "seed must be in [0,", None),
    "seed not a number": ([*NEW, "--seed", "x"], "invalid int value", None),
    "--out a symlink": (["train", "ganomaly", "--out", "link", *TINY], "is a symlink", None),
    "--out a file": (["train", "ganomaly", "--out", "file.txt", *TINY], "is a file", None),
    "--out a folder of other files": (
        ["train", "ganomaly", "--out", "thesis", *TINY],
        "holds no run",
        None,
    ),
    "--overwrite a folder of other files": (
        ["train", "ganomaly", "--out", "thesis", "--overwrite", *TINY],
        "holds no run",
        None,
    ),
    "--overwrite through a symlink": (
        ["train", "ganomaly", "--out", "link", "--overwrite", *TINY],
        "is a symlink",
        None,
    ),
    "--out . (the working folder)": (
        ["train", "ganomaly", "--out", ".", "--overwrite", *TINY],
        "holds no run",
        None,
    ),
    "--overwrite a run with a bad setting": (
        ["train", "ganomaly", "--out", "run", "--overwrite", *TINY, "--set", "batch_size=0"],
        "batch_size must be >= 1",
        None,
    ),
    "a run without --resume or --overwrite": (
        ["train", "ganomaly", "--out", "run", *TINY],
        "already holds a run",
        None,
    ),
    "--resume with another config": (
        ["train", "ganomaly", "--out", "run", "--resume", *TINY, "--set", "latent=9"],
        "--resume with a different config",
        None,
    ),
    "--resume in a folder with no run": (
        ["train", "ganomaly", "--out", "empty", "--resume", *TINY],
        "nothing to resume",
        None,
    ),
    "--resume on truncated checkpoints": (
        ["train", "ganomaly", "--out", "run", "--resume", *TINY, "--set", "max_steps=6"],
        "checkpoint",
        _truncate_checkpoints,
    ),
    "evaluate a folder of other files": (["evaluate", "thesis"], "not a run folder", None),
    "evaluate a config.json with an extra key": (
        ["evaluate", "run"],
        "unknown surprise",
        lambda root: _edit_config(root, lambda c: c.update(surprise=1)),
    ),
    "evaluate a config.json with a missing key": (
        ["evaluate", "run"],
        "missing seed",
        lambda root: _edit_config(root, lambda c: c.pop("seed")),
    ),
    "evaluate a config.json with an unknown config field": (
        ["evaluate", "run"],
        "invalid config",
        lambda root: _edit_config(root, lambda c: c["config"].update(no_such_field=1)),
    ),
    "evaluate a config.json with a bad value": (
        ["evaluate", "run"],
        "batch_size must be >= 1",
        lambda root: _edit_config(root, lambda c: c["config"].update(batch_size=0)),
    ),
    "score an image of another size": (
        ["score", "run", "wrong-size.png"],
        "wrong-size.png",
        None,
    ),
    "score a missing file": (["score", "run", "missing.png"], "missing.png", None),
    "score in a folder with no run": (["score", "thesis", "wrong-size.png"], "not a run", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, work, capfd):
    argv, message, prepare = CASES[case]
    if prepare is not None:
        prepare(work)
    capfd.readouterr()
    before = snapshot(work)
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    captured = capfd.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2, captured.err
    assert len(lines) == 1, captured.err
    assert message in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert snapshot(work) == before


def test_overwrite_keeps_the_old_run_until_the_new_one_succeeded(work, capfd):
    before = snapshot(work)
    # diverges within the first steps: the replacement fails after training started
    argv = ["train", "ganomaly", "--out", "run", "--overwrite", "--quiet", *TINY]
    assert main([*argv, "--set", "lr=1e30", "--set", "log_every=1"]) == 2
    assert "non-finite" in capfd.readouterr().err
    assert snapshot(work) == before
    old = json.loads((work / "run" / "report.json").read_text())
    assert main([*argv, "--set", "latent=9"]) == 0
    new = json.loads((work / "run" / "report.json").read_text())
    assert new["config"]["latent"] == 9 != old["config"]["latent"]
    assert runfolder.is_run(work / "run")
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".")) == []


def test_a_failed_new_run_leaves_nothing(work, capfd):
    before = snapshot(work)
    argv = ["train", "ganomaly", "--out", "runs/deep/new", "--quiet", *TINY]
    assert main([*argv, "--set", "lr=1e30", "--set", "log_every=1"]) == 2
    assert snapshot(work) == before
    assert main(["train", "ganomaly", "--out", "empty", "--quiet", *TINY, "--set", "lr=1e30"]) == 2
    assert snapshot(work) == before  # the empty folder stays, empty


def test_resume_before_the_first_checkpoint_starts_over(work, tmp_path):
    out = work / "fresh"
    argv = ["train", "ganomaly", "--out", str(out), "--quiet", *TINY]
    assert main(argv) == 0
    shutil.rmtree(out / "checkpoints")  # as if killed before its first checkpoint
    (out / "report.json").unlink()
    assert main([*argv, "--resume"]) == 0
    straight = json.loads((work / "run" / "report.json").read_text())
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["auroc"] == straight["auroc"]
    assert resumed["steps"] == resumed["planned_steps"] == 4


def _ganad(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(
        [sys.executable, "-m", "ganad_jax.cli", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.slow
def test_the_installed_command_prints_one_line_for_bad_input(tmp_path):
    process = _ganad("train", "ganomaly", "--set", "batch_size=0", cwd=tmp_path)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2
    assert err.strip().splitlines() == [
        "ganad: error: GANomalyConfig.batch_size must be >= 1, got 0"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ctrl_c_keeps_the_last_checkpoint_and_exits_130(tmp_path):
    out = tmp_path / "run"
    settings = [a if a != "max_steps=4" else "max_steps=100000" for a in TINY]
    settings = [a if a != "checkpoint_every=2" else "checkpoint_every=5" for a in settings]
    # Many epochs, so that the run cannot end on its own between its first checkpoint and the
    # signal (with a warm compilation cache the default 15 epochs of these tiny steps can).
    settings += ["--set", "epochs=1000"]
    process = _ganad("train", "ganomaly", "--out", str(out), "--quiet", *settings)
    deadline = time.monotonic() + 240
    while elapsed_seconds(out) is None:  # until the first checkpoint is complete
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    try:  # the handler runs once a compilation in flight returns: slow on a loaded machine
        _, err = process.communicate(timeout=300)
    finally:  # never leave the child running into the next test
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err
    resumed = [a if a != "max_steps=100000" else "max_steps=10" for a in settings]
    assert main(["train", "ganomaly", "--out", str(out), "--quiet", "--resume", *resumed]) == 0


def test_score_reproduces_the_test_scores_of_a_table_run(tmp_path, capsys):
    """Raw breast-cancer rows in their original units, as a CSV (columns shuffled, a label column
    added) and as a .npy, score exactly as the run's own test split did."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    out = tmp_path / "egbad"
    tiny = ["--set", "batch_size=16", "--set", "max_steps=3", "--set", "latent=4"]
    assert (
        main(["train", "egbad", "--data", "breast-cancer", "--out", str(out), "--quiet", *tiny])
        == 0
    )
    stored = np.load(out / "scores.npz")
    bunch = load_breast_cancer()
    ids = stored["test_ids"]
    frame = pd.DataFrame(bunch.data[ids], columns=bunch.feature_names)
    frame = frame[list(reversed(frame.columns))].assign(label=stored["test_labels"])
    frame.to_csv(tmp_path / "rows.csv", index=False)
    np.save(tmp_path / "rows.npy", bunch.data[ids])
    default = json.loads((out / "report.json").read_text())["score_head"]
    capsys.readouterr()
    for name in ("rows.csv", "rows.npy"):
        assert main(["score", str(out), str(tmp_path / name), "--json"]) == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        scores = np.array([line["score"] for line in lines], np.float32)
        np.testing.assert_array_equal(scores, stored[f"test/{default}"])


def test_score_takes_png_uint8_and_float_npy_alike(good_run, tmp_path, capsys):
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    np.save(tmp_path / "a-uint8.npy", pixels[..., None])
    np.save(tmp_path / "a-float.npy", to_unit_range(pixels[None])[0])  # already in [-1, 1]
    np.save(tmp_path / "batch.npy", np.stack([pixels[..., None]] * 3))
    files = [str(tmp_path / n) for n in ("a.png", "a-uint8.npy", "a-float.npy", "batch.npy")]
    capsys.readouterr()
    assert main(["score", str(good_run), *files, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["file"] for line in lines][3:] == [f"{files[3]}[{i}]" for i in range(3)]
    assert len({line["score"] for line in lines}) == 1
