"""Multi-process (multi-host) runs: join JAX's distributed runtime from the environment.

One process runs per host (or per GPU); after `initialize()` every process sees all devices of all
processes, `train.fit` with `TrainOptions(devices=0)` builds one mesh over them, each process places
only its own rows of the training set on its devices, every process takes part in checkpoints (orbax
writes them once, process 0 seals them with checksums) and only process 0 writes logs and reports.

A process that dies takes the others down: gloo fails their next collective at once, and the
coordinator counts a process dead after `heartbeat_timeout_s` without a heartbeat (jax's default
waits 100 s), which ends every other process with an error instead of a wait.

Where the coordinator comes from, in order: the arguments; JAX_COORDINATOR_ADDRESS (host:port of
process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID; else what JAX detects itself on SLURM, Open MPI,
Cloud TPU pods and Kubernetes (GKE TPU) clusters.
"""

from __future__ import annotations

import os

import jax
import numpy as np

ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
HEARTBEAT_TIMEOUT_S = 30
"""Seconds without a heartbeat after which a process counts as dead and the run stops."""


def requested() -> bool:
    """Whether the environment asks for a multi-process run (JAX_COORDINATOR_ADDRESS is set)."""
    return bool(os.environ.get("JAX_COORDINATOR_ADDRESS"))


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S,
) -> None:
    """Join the distributed runtime (once per process, before any other JAX call)."""
    if jax.distributed.is_initialized():
        return
    # CPU devices reduce across processes only with a collectives library; GPUs and TPUs ignore it.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS"),
        num_processes=num_processes if num_processes is not None else _env_int(ENV_VARS[1]),
        process_id=process_id if process_id is not None else _env_int(ENV_VARS[2]),
        heartbeat_timeout_seconds=heartbeat_timeout_s,
    )
    # Here every process has just connected (initialize waits for all of them), so the CPU
    # collectives' context, which gives up after 30 s waiting for a late process, is built now
    # and not at a first collective that one process may reach much later than the others.
    barrier("ganad-initialize")


def is_primary() -> bool:
    """True in the process that writes run folders, logs and reports (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier `name` (no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast_from_primary(value: int) -> int:
    """Process 0's `value`, in every process (a collective: every process must call it)."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    return int(multihost_utils.broadcast_one_to_all(np.int32(value)))
