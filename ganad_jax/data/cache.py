"""A cache of decoded arrays (compressed .npz) in a user folder, never next to the data.

The folder is `GANAD_CACHE_DIR` (default ~/.cache/ganad_jax). An entry's name holds a fingerprint
of its source files (path, size, modification time) and of the decoding parameters, so a changed
file or setting decodes afresh; a broken or unwritable cache only costs the decoding time.
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganad_jax.data import DataError

CACHE_VERSION = 1
"""Part of every entry's fingerprint: raise it when a decoder's output changes."""


def cache_dir() -> Path:
    """The cache folder: `GANAD_CACHE_DIR`, or ~/.cache/ganad_jax; never inside GANAD_DATA_DIR."""
    path = Path(os.environ.get("GANAD_CACHE_DIR") or "~/.cache/ganad_jax").expanduser().resolve()
    data = os.environ.get("GANAD_DATA_DIR")
    if data and path.is_relative_to(Path(data).expanduser().resolve()):
        raise DataError(
            f"the cache folder {path} lies inside GANAD_DATA_DIR={data}; set GANAD_CACHE_DIR "
            "to a folder outside the data"
        )
    return path


def fingerprint(sources: Sequence[Path], **params: Any) -> str:
    """A short hash of the source files' path, size and modification time, and of `params`."""
    digest = hashlib.sha256(repr((CACHE_VERSION, sorted(params.items()))).encode())
    for path in sources:
        try:
            stat = path.stat()
        except OSError:
            raise DataError(f"missing {path}") from None
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def cached_arrays(
    tag: str,
    sources: Sequence[Path],
    build: Callable[[], dict[str, np.ndarray]],
    **params: Any,
) -> dict[str, np.ndarray]:
    """The arrays `build()` returns, read from the cache when `sources` and `params` are unchanged."""
    path = cache_dir() / f"{tag}-{fingerprint(sources, **params)}.npz"
    if path.exists():
        try:
            # The file is opened here, so that it is closed when np.load fails on a broken entry
            # (np.load given a path leaves it open then).
            with path.open("rb") as file, np.load(file, allow_pickle=False) as stored:
                return {key: stored[key] for key in stored.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            pass  # a broken entry is rebuilt below
    arrays = build()
    try:
        _write(path, arrays)
    except OSError as err:
        warnings.warn(f"could not write the data cache {path}: {err}", stacklevel=2)
    return arrays


def _write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Written to a temporary name and renamed, so a reader never sees half a file. Level 1
    # compression: decoded images barely compress further and writing stays fast.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for key, value in arrays.items():
                with archive.open(f"{key}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asarray(value), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
