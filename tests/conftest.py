"""Strict JAX settings for every test: x64 off, rank promotion raises, dtype promotion strict (no
implicit mixing of dtypes), key reuse checked (a PRNG key used twice raises), four fake CPU
devices; warnings are errors (pyproject's `filterwarnings` names the exceptions); the
persistent compilation cache on, as for the `ganad` command (`GANAD_COMPILATION_CACHE=0` runs the
suite cold), so that modules compiling the same step share it, and a second run of the suite
loads what the first compiled."""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", False)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_debug_key_reuse", True)

from ganad_jax import compile_cache  # noqa: E402

compile_cache.enable()


@pytest.fixture
def data_dir():
    """The real data sets (GANAD_DATA_DIR); skips the test where it is unset."""
    value = os.environ.get("GANAD_DATA_DIR")
    if not value:
        pytest.skip("GANAD_DATA_DIR is unset: the real data sets are not available")
    return value
