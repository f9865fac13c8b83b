"""Batch-invariant scoring of a whole data set: the layer below training (early stopping scores the
validation normals) and evaluation (metrics, thresholds, reports)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ganad_jax.detectors import Detector, Scores, State


@dataclasses.dataclass(frozen=True)
class ScoreArrays:
    """Scores of a whole data set as numpy arrays (maps and reconstructions only if kept)."""

    heads: dict[str, np.ndarray]
    default: str
    anomaly_map: np.ndarray | None = None
    reconstruction: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray:
        """The default head."""
        return self.heads[self.default]


def make_scorer(detector: Detector, config: Any) -> Callable[[State, jnp.ndarray], Scores]:
    """The detector's score function, jitted once with the config closed over."""
    return jax.jit(lambda state, batch: detector.score(config, state, batch))


def score_dataset(
    scorer: Callable[[State, jnp.ndarray], Scores],
    state: State,
    x: np.ndarray,
    batch_size: int,
    keep_maps: bool = False,
) -> ScoreArrays:
    """Score `x` in fixed-size batches; the last batch is padded (with copies of its first row) and
    the padding dropped, so every sample is scored and one compiled shape serves all batches."""
    if len(x) == 0:
        raise ValueError("nothing to score: the data set is empty")
    heads: dict[str, list[np.ndarray]] = {}
    maps, recons = [], []
    default = None
    for start in range(0, len(x), batch_size):
        chunk = x[start : start + batch_size]
        real = len(chunk)
        if real < batch_size:
            pad = np.repeat(chunk[:1], batch_size - real, axis=0)
            chunk = np.concatenate([chunk, pad])
        out = scorer(state, jnp.asarray(chunk))
        default = out.default
        for name, value in jax.device_get(out.heads).items():
            heads.setdefault(name, []).append(np.asarray(value)[:real])
        if keep_maps and out.anomaly_map is not None:
            maps.append(np.asarray(out.anomaly_map)[:real])
        if keep_maps and out.reconstruction is not None:
            recons.append(np.asarray(out.reconstruction)[:real])
    return ScoreArrays(
        heads={k: np.concatenate(v) for k, v in heads.items()},
        default=default,
        anomaly_map=np.concatenate(maps) if maps else None,
        reconstruction=np.concatenate(recons) if recons else None,
    )
