"""JAX's persistent compilation cache, on by default for the `ganad` command and the estimators.

A second run of the same detector with the same shapes then loads its compiled steps from disk
instead of compiling them again (see `experiments/bench.md` for the time it saves). The cache
lives in `GANAD_CACHE_DIR/jax` (default ~/.cache/ganad_jax/jax). `GANAD_COMPILATION_CACHE=0`
turns it off; any other value but 1 names the folder to use. A cache folder chosen through JAX's
own setting (`JAX_COMPILATION_CACHE_DIR` or `jax.config`) is left as it is.

Cached programs are the compiled programs themselves, so results are bit-identical with the cache
on or off; an unwritable folder only costs the compile time (JAX warns and compiles).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "GANAD_COMPILATION_CACHE"
MIN_COMPILE_SECONDS = 0.1
"""Programs that compile faster than this are not written (JAX's default is 1 s, which would
leave out most scoring functions; smaller ones are not worth the file)."""

OFF = ("0", "false", "off", "no")


def folder() -> Path | None:
    """Where compiled programs are cached, or None when `GANAD_COMPILATION_CACHE` turns it off."""
    value = os.environ.get(ENV, "").strip()
    if value.lower() in OFF:
        return None
    if value and value != "1":
        return Path(value).expanduser()
    from ganad_jax.data.cache import cache_dir

    return cache_dir() / "jax"


def enable() -> Path | None:
    """Turn the persistent cache on (unless off, or already configured); return its folder."""
    import jax

    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    path = folder()
    if path is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return path
