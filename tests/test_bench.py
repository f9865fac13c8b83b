"""`ganad bench` runs on tiny shapes and prints the documented JSON; the analytic FLOP count
matches the design note's figures and XLA's cost analysis of the plain formulation."""

from __future__ import annotations

import functools
import importlib.util
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganad_jax import bench, bench_cli
from ganad_jax.detectors import ganomaly
from ganad_jax.nn import layers
from ganad_jax.nn.dcgan import Decoder, Discriminator, Encoder
from ganad_jax.nn.flops import count_macs

KEYS = ("train_per_s", "score_per_s", "compile_s", "model_gflop_per_s", "peak_gflop_per_s")
QUICK = ["--tiny", "--repeats", "2", "--steps", "1", "--warmup", "1"]


def _run_json(capsys, argv: list[str]) -> dict:
    assert bench_cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_json_and_table(capsys):
    """One tiny run, side by side with PyTorch where it is installed."""
    with_torch = importlib.util.find_spec("torch") is not None
    result = _run_json(capsys, ["ganomaly", "--json", *QUICK, *(["--torch"] if with_torch else [])])
    for key in (*KEYS, "peak_fraction"):
        assert result[key] > 0, key
    assert result["shape"] == [16, 16, 1] and result["batch"] == 8
    assert result["train_per_s_min"] <= result["train_per_s"] <= result["train_per_s_max"]
    if with_torch:
        assert result["torch_train_per_s"] > 0 and result["score_speedup"] > 0
    table = bench.format_table([result])
    assert "ganomaly" in table and ("torch train/s" in table) == with_torch


@pytest.mark.slow
def test_bench_search_and_ensemble_figures(capsys):
    """A latent-search detector gets its batched search timed against per-sample loops; with
    --ensemble, n x n ensembles are timed against the detector alone."""
    argv = ["anogan", "--modality", "tabular", "--json", *QUICK, "--ensemble", "1,2"]
    result = _run_json(capsys, [*argv, "--search-steps", "2"])
    assert result["search_steps"] == 2 and result["search_gflop_per_item"] > 0
    for key in ("search_per_s", "search_loop_per_s", "search_image_loop_per_s"):
        assert result[key] > 0, key
    assert result["search_speedup"] == result["search_per_s"] / result["search_loop_per_s"]
    assert [row["members"] for row in result["ensemble"]] == [1, 2]
    assert [row["pair_updates_per_step"] for row in result["ensemble"]] == [1, 2]
    assert all(row["train_per_s"] > 0 and row["cost_per_update"] > 0 for row in result["ensemble"])
    table = bench.format_table([result])
    assert "latent search" in table and "2x2" in table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["no-such-model"], "no-such-model"),
        (["ganomaly", "--modality", "tabular"], "ganomaly takes image"),
        (["ganomaly", "--modality", "text"], "--modality must be one of"),
        (["ganomaly", "--ensemble", "3x3"], "--ensemble expects"),
        (["ganomaly", "--ensemble", "0"], "must be >= 1"),
        (["egbad", "--seeds", "0,2"], "--seeds sizes must be >= 1"),
    ],
)
def test_bench_rejects_bad_input(capsys, argv, message):
    assert bench_cli.main(argv) == 2
    assert message in capsys.readouterr().err


def _forward(module, x, abstract: bool = False):
    """(apply function, variables) of a module in inference mode; shapes only if `abstract`."""
    init = functools.partial(module.init, jax.random.key(0), train=False)
    variables = jax.eval_shape(init, x) if abstract else init(x)
    return lambda v, x: module.apply(v, x, train=False), variables


def test_published_counts_match_the_design_note():
    """GANomaly at 32x32x1, nf=64, nz=100: 17.4 M multiply-adds per encoder and decoder pass,
    17.0 M per discriminator pass, about 310 M per training step and image."""
    x, z = jnp.zeros((1, 32, 32, 1)), jnp.zeros((1, 100))
    assert count_macs(*_forward(Encoder(100, 64), x, abstract=True), x) == 17_448_960
    assert count_macs(*_forward(Decoder(32, 1, 64), z, abstract=True), z) == 17_448_960
    assert count_macs(*_forward(Discriminator(64), x, abstract=True), x) == 17_043_456
    config = ganomaly.GANomalyConfig()
    state = jax.eval_shape(functools.partial(ganomaly.init, config), jax.random.key(0), x)
    step = functools.partial(ganomaly.train_step, config)
    assert count_macs(step, state, x, jax.random.key(0)) == pytest.approx(310e6, rel=0.01)


def _xla_macs(fn, *args) -> float:
    return jax.jit(fn).lower(*args).compile().cost_analysis()["flops"] / 2


@pytest.mark.slow
def test_exact_count_matches_xla_cost_analysis():
    """Without border padding, on the plain formulation, the count is what XLA counts: within 3%
    (XLA adds elementwise FLOPs) for each network's forward and backward pass; within 5% for whole
    steps, where XLA also computes the discriminator's identical forward passes on x once (CSE)."""
    x = jax.random.normal(jax.random.key(0), (4, 16, 16, 1))
    networks = [(Encoder(32, 32), x), (Discriminator(32), x)]
    networks.append((Decoder(16, 1, 32), jnp.ones((4, 32))))
    config = ganomaly.GANomalyConfig(**{**ganomaly.DETECTOR.tiny, "features": 32, "latent": 32})
    state = ganomaly.init(config, jax.random.key(0), x)
    with layers.plain_formulation():  # fresh functions below: tracing caches ignore the context
        for module, inputs in networks:
            apply, variables = _forward(module, inputs)
            grads = jax.grad(lambda v, x, apply=apply: jnp.sum(apply(v, x)[0]), argnums=(0, 1))
            exact = count_macs(grads, variables, inputs, count_padding=False)
            assert _xla_macs(grads, variables, inputs) == pytest.approx(exact, rel=0.03)
        step = functools.partial(ganomaly.train_step, config)
        score = functools.partial(ganomaly.score, config)
        for fn, args in ((step, (state, x, jax.random.key(0))), (score, (state, x))):
            exact = count_macs(fn, *args, count_padding=False)
            assert _xla_macs(fn, *args) == pytest.approx(exact, rel=0.05)


def test_bench_seeds_times_many_seeds_against_one_run(capsys):
    result = _run_json(
        capsys, ["egbad", "--modality", "tabular", "--json", *QUICK, "--seeds", "1,2"]
    )
    rows = result["seeds"]
    assert [row["seeds"] for row in rows] == [1, 2]
    for row in rows:
        assert row["train_per_s"] > 0
        np.testing.assert_allclose(row["time_per_seed"], row["time_vs_one"] / row["seeds"])
    assert "many seeds in one program" in bench.format_table([result])
