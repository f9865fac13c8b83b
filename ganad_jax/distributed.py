"""Multi-process (multi-host) runs: join JAX's distributed runtime from the environment.

One process runs per host (or per GPU); after `initialize()` every process sees all devices of all
processes, `train.fit` with `TrainOptions(devices=0)` builds one mesh over them, each process places
only its own rows of the training set on its devices, every process takes part in checkpoints (orbax
writes them once) and only process 0 writes logs and reports.

Where the coordinator comes from, in order: the arguments; JAX_COORDINATOR_ADDRESS (host:port of
process 0), JAX_NUM_PROCESSES and JAX_PROCESS_ID; else what JAX detects itself on SLURM, Open MPI,
Cloud TPU pods and Kubernetes (GKE TPU) clusters.
"""

from __future__ import annotations

import os

import jax

ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


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
    )


def is_primary() -> bool:
    """True in the process that writes run folders, logs and reports (process 0)."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches the barrier `name` (no-op in a single process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)
