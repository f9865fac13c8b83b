"""The persistent compilation cache: where it lives, how it is turned off, and that a second
identical run loads its compiled programs from it (bit-identical results either way)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganad_jax import compile_cache


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "CACHE/jax"), ("1", "CACHE/jax"), ("0", None), ("off", None), ("FOLDER", "FOLDER")],
)
def test_folder_follows_the_environment(monkeypatch, tmp_path, value, expected):
    monkeypatch.setenv("GANAD_CACHE_DIR", str(tmp_path / "CACHE"))
    monkeypatch.setenv(compile_cache.ENV, value.replace("FOLDER", str(tmp_path / "FOLDER")))
    found = compile_cache.folder()
    if expected is None:
        assert found is None
    else:
        assert found == (tmp_path / expected).resolve()


TRAIN = """
import json, sys
import jax
events = []
jax.monitoring.register_event_listener(lambda name, **_: events.append(name))
from ganad_jax import cli
code = cli.main(["train", "egbad", "--data", "breast-cancer", "--out", sys.argv[1], "--quiet",
                 "--set", "epochs=1", "--set", "min_updates=0", "--set", "batch_size=32", "--set", "encoder_widths=8",
                 "--set", "generator_widths=8", "--set", "latent=2"])
hits = events.count("/jax/compilation_cache/cache_hits")
misses = events.count("/jax/compilation_cache/cache_misses")
cache = jax.config.jax_compilation_cache_dir
print(json.dumps({"code": code, "cache": cache, "hits": hits, "misses": misses}))
"""


def _train(tmp_path: Path, name: str, cache: str) -> dict:
    env = {**os.environ, compile_cache.ENV: cache, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    out = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-c", TRAIN, str(out)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    result["report"] = json.loads((out / "report.json").read_text())
    return result


@pytest.mark.slow
def test_second_run_loads_the_first_runs_programs(tmp_path):
    cache = tmp_path / "xla"
    first = _train(tmp_path, "first", str(cache))
    assert first["cache"] == str(cache)
    assert any(name.startswith("jit_") for name in os.listdir(cache))  # the train step at least
    assert first["hits"] == 0 and first["misses"] > 0
    second = _train(tmp_path, "second", str(cache))
    assert second["hits"] > 0  # what the first run wrote, the second loaded
    for key in ("auroc", "auprc", "f1", "threshold"):
        assert first["report"][key] == second["report"][key]


def test_zero_turns_it_off():
    env = {**os.environ, compile_cache.ENV: "0"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    probe = "from ganad_jax import compile_cache; import jax; print(compile_cache.enable(), "
    probe += "repr(jax.config.jax_compilation_cache_dir))"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["None", "None"]
