"""ganad-jax: GAN-based anomaly detectors in JAX/Flax.

The estimators (`ganad_jax.GANomaly`, `ganad_jax.EGBAD`, ...) are imported on first use, so that
importing the package, and the `ganad` command's help and listings, do not start JAX.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ESTIMATORS = (
    "ALAD",
    "AnoGAN",
    "BiGAN",
    "CEBiGAN",
    "DEDGAN",
    "EGBAD",
    "Estimator",
    "FAnoGAN",
    "GANomaly",
    "MADGAN",
    "SkipGANomaly",
)

__all__ = [*_ESTIMATORS, "__version__"]

if TYPE_CHECKING:  # for type checkers and editors; at run time `__getattr__` imports them
    from ganad_jax.estimator import (  # noqa: F401
        ALAD,
        DEDGAN,
        EGBAD,
        MADGAN,
        AnoGAN,
        BiGAN,
        CEBiGAN,
        Estimator,
        FAnoGAN,
        GANomaly,
        SkipGANomaly,
    )


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        return getattr(importlib.import_module("ganad_jax.estimator"), name)
    raise AttributeError(f"module 'ganad_jax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_ESTIMATORS])
