"""Reading user files to score: images (PNG, JPEG, ...) and .npy arrays, checked against a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganad_jax.data.preprocess import resize_images, to_unit_range
from ganad_jax.runs import RunError


def read_inputs(paths: list[Path], shape: tuple[int, ...], resize: bool = False) -> np.ndarray:
    """Stack the inputs in `paths` as float32 in the run's input range and `shape`.

    Images are uint8 files scaled to [-1, 1]; .npy files hold one sample or a batch already in the
    model's input range. A size or channel mismatch is an error unless `resize` (images only).
    """
    samples = []
    for path in paths:
        if not path.exists():
            raise RunError(f"{path}: no such file")
        if path.suffix == ".npy":
            array = np.load(path).astype(np.float32)
            batch = array if array.shape[1:] == shape else array[None]
        else:
            batch = _read_image(path, shape, resize)
        if batch.shape[1:] != shape:
            raise RunError(
                f"{path}: shape {tuple(batch.shape[1:])}, the run was trained on {shape}"
                + ("" if path.suffix == ".npy" else " (use --resize to resize images)")
            )
        if not np.all(np.isfinite(batch)):
            raise RunError(f"{path}: holds NaN or inf values")
        samples.append(batch)
    return np.concatenate(samples)


def _read_image(path: Path, shape: tuple[int, ...], resize: bool) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image = image.convert("L" if shape[-1] == 1 else "RGB") if resize else image.copy()
    except (UnidentifiedImageError, OSError) as err:
        raise RunError(f"{path}: not a readable image ({err})") from None
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        raise RunError(f"{path}: expected 8-bit pixels, found {pixels.dtype}")
    pixels = pixels[None] if pixels.ndim == 2 else pixels[None]
    if resize:
        pixels = resize_images(pixels, shape[0])
    return to_unit_range(pixels)
