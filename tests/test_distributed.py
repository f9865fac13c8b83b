"""Two real processes on localhost (jax.distributed, gloo CPU collectives) train like one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
from helpers import sample_inputs, tiny_config

from ganad_jax import detectors
from ganad_jax.train import TrainOptions, fit

STEPS = 2
WORKER = """
import sys
import numpy as np
from ganad_jax import distributed
distributed.initialize(f"127.0.0.1:{sys.argv[1]}", num_processes=2, process_id=int(sys.argv[2]))
import jax
from helpers import sample_inputs, tiny_config
from ganad_jax import detectors
from ganad_jax.train import TrainOptions, fit
assert jax.device_count() == 2 and jax.local_device_count() == 1
config = tiny_config("ganomaly")
x = sample_inputs("ganomaly", config, 4 * config.batch_size + 1)
options = TrainOptions(progress=False, log_every=1, max_steps=int(sys.argv[4]), devices=0)
state, _ = fit(detectors.get("ganomaly"), config, x, seed=0, options=options)
leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(state.params)]
np.savez(sys.argv[3], *leaves)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    tests = Path(__file__).parent
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=1",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]),
    }
    port = _free_port()
    outputs = [tmp_path / f"process{i}.npz" for i in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(port), str(i), str(outputs[i]), str(STEPS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]
    try:
        logs = [w.communicate(timeout=600)[0].decode()[-3000:] for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, log in zip(workers, logs, strict=True):
        assert w.returncode == 0, log

    config = tiny_config("ganomaly")
    x = sample_inputs("ganomaly", config, 4 * config.batch_size + 1)
    options = TrainOptions(progress=False, log_every=1, max_steps=STEPS)
    alone, _ = fit(detectors.get("ganomaly"), config, x, seed=0, options=options)
    expected = [np.asarray(leaf) for leaf in jax.tree.leaves(alone.params)]
    for path in outputs:
        got = np.load(path)
        assert len(got.files) == len(expected)
        for i, value in enumerate(expected):
            np.testing.assert_allclose(got[f"arr_{i}"], value, rtol=1e-4, atol=1e-5)
