"""tensorflow-datasets as a fallback source (the optional `tfds` extra), imported lazily.

A loader first reads the local layout under GANAD_DATA_DIR; when that is missing it asks
tensorflow-datasets, which downloads into its usual data dir (~/tensorflow_datasets or TFDS_DATA_DIR)
on a machine with internet. When neither works the error names the local layout to provide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ganad_jax.data import DataError, DataNotFound

T = TypeVar("T")


def tfds_arrays(name: str, split: str) -> tuple[dict[str, np.ndarray], Any]:
    """All of `split` of tfds data set `name` as numpy arrays, and the data set's info."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataNotFound(
            "tensorflow-datasets is not installed (pip install 'ganad-jax[tfds]')"
        ) from None
    try:
        data, info = tfds.load(name, split=split, batch_size=-1, with_info=True)
        return tfds.as_numpy(data), info
    except Exception as err:  # tfds raises many kinds (network, checksum, missing builder)
        raise DataNotFound(
            f"tensorflow-datasets could not load {name}/{split} ({type(err).__name__}: {err})"
        ) from None


def local_or_tfds(local: Callable[[], T], remote: Callable[[], T], layout: str) -> T:
    """`local()`, or `remote()` (tfds) when the local files are missing; `layout` names them."""
    try:
        return local()
    except DataNotFound as local_err:
        try:
            return remote()
        except DataNotFound as remote_err:
            raise DataError(
                f"{local_err}; and {remote_err}. Provide the local files: {layout}"
            ) from None
