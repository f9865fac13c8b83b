"""ganad-jax: GAN-based anomaly detectors in JAX/Flax."""

__version__ = "0.1.0"

from ganad_jax.estimator import (
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

__all__ = [
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
    "__version__",
]
