"""ganad-jax: GAN-based anomaly detectors in JAX/Flax."""

__version__ = "0.1.0"

from ganad_jax.estimator import Estimator, GANomaly

__all__ = ["Estimator", "GANomaly", "__version__"]
