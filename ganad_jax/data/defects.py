"""Inspection images with pixel masks: MVTec-AD-layout folders, glass, KolektorSDD, image folders.

All follow the `mvtec` protocol: train on good images only (validation held back from them), test
on defective images plus good images the training never sees, with (N, H, W) uint8 pixel masks
(1 = defect, all zeros for good images) where the data set has masks. Where a layout has no
train/good images of its own, a fixed, seed-independent part of its good images is set aside for
training (glass: `train_good_fraction`; KolektorSDD and folders: all good images except
`test_good_fraction`). Sample ids are file paths relative to the data set's folder.

Images are brought to `image_size` (default 256) by stretching or by padding to a square (`fit`),
with `channels` 1 or 3 (0: grayscale when every image is, else RGB).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ganad_jax.data import DataError, DataNotFound, Dataset, Source, Split, data_dir, register
from ganad_jax.data.cache import cached_arrays
from ganad_jax.data.preprocess import check_fraction, fit_square, hold_out, to_unit_range

DEFAULT_SIZE = 256
"""Image size when the caller gives none (MVTec images are up to 1024 pixels a side)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
NORMAL_NAMES = ("good", "normal", "ok")


@dataclasses.dataclass(frozen=True)
class _Item:
    """One image: its file, class index and mask source (a mask image, YOLO polygons, none)."""

    path: Path
    cls: int
    mask: Path | None = None


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _subfolders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def read_polygons(path: Path) -> list[list[tuple[float, float]]]:
    """YOLO segmentation labels: one polygon per line, `class x1 y1 x2 y2 ...` in [0, 1]."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(
            f"missing YOLO label file {path} (an empty file marks a defect-free image)"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: cannot read the YOLO label file ({err})") from None
    polygons = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()[1:]]
        except ValueError:
            raise DataError(f"{path}:{number}: expected 'class x1 y1 x2 y2 ...' numbers") from None
        if len(values) < 6 or len(values) % 2:
            raise DataError(
                f"{path}:{number}: a polygon needs an even number (>= 6) of coordinates"
            )
        polygons.append(list(zip(values[::2], values[1::2], strict=True)))
    return polygons


def _mask(source: Path | None, size_wh: tuple[int, int], where: Path) -> Image.Image:
    """A 0/255 mask at the image's size from a mask image or YOLO polygons (none: all zeros)."""
    mask = Image.new("L", size_wh)
    if source is None:
        return mask
    if source.suffix == ".txt":
        draw = ImageDraw.Draw(mask)
        for polygon in read_polygons(source):
            draw.polygon([(x * size_wh[0], y * size_wh[1]) for x, y in polygon], fill=255)
        return mask
    try:
        with Image.open(source) as image:
            mask = image.convert("L").point(lambda v: 255 if v >= 128 else 0)
    except FileNotFoundError:
        raise DataError(f"missing mask {source} for {where}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{source}: cannot decode the mask ({err})") from None
    if mask.size != size_wh:
        raise DataError(f"{source}: mask is {mask.size}, its image {where} is {size_wh}")
    return mask


def _decode(items: Sequence[_Item], size: int, fit: str, channels: int) -> dict[str, np.ndarray]:
    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(items), size, size, *(() if channels == 1 else (3,))), np.uint8)
    masks = np.zeros((len(items), size, size), np.uint8)
    for i, item in enumerate(items):
        try:
            with Image.open(item.path) as image:
                image = image.convert(mode)
        except (OSError, SyntaxError, ValueError) as err:
            raise DataError(f"{item.path}: cannot decode the image ({err})") from None
        images[i] = np.asarray(fit_square(image, size, fit, Image.BILINEAR))
        if item.mask is not None:
            mask = _mask(item.mask, image.size, item.path)
            masks[i] = np.asarray(fit_square(mask, size, fit, Image.NEAREST)) > 0
    return {"images": images, "masks": masks}


def _channels(items: Sequence[_Item], channels: int) -> int:
    if channels in (1, 3):
        return channels
    if channels != 0:
        raise DataError(f"channels must be 0 (auto), 1 or 3, got {channels}")
    for item in items:
        try:
            with Image.open(item.path) as image:
                if image.mode not in GRAY_MODES:
                    return 3
        except (OSError, SyntaxError, ValueError) as err:
            raise DataError(f"{item.path}: cannot decode the image ({err})") from None
    return 1


def defect_dataset(
    name: str,
    root: Path,
    items: Sequence[_Item],
    class_names: Sequence[str],
    parts: tuple[np.ndarray, np.ndarray],
    *,
    has_masks: bool,
    image_size: int | None,
    fit: str,
    channels: int,
    validation_fraction: float,
    options: dict,
) -> Dataset:
    """The `mvtec` protocol over decoded `items`, given (train pool, test) index arrays.

    The train pool must hold good images only (class 0); validation is held back from it.
    """
    check_fraction("validation_fraction", validation_fraction)
    pool, test = parts
    keep, val = hold_out(len(pool), validation_fraction, salt=11)
    for item in items:
        if item.mask is not None and not item.mask.exists():
            what = "YOLO label file" if item.mask.suffix == ".txt" else "mask"
            raise DataError(f"missing {what} {item.mask} for {item.path}")
    size = image_size or DEFAULT_SIZE
    requested_channels, channels = channels, _channels(items, channels)
    sources = [i.path for i in items] + sorted({i.mask for i in items if i.mask is not None})
    decoded = cached_arrays(
        "defects",
        sources,
        lambda: _decode(items, size, fit, channels),
        size=size,
        fit=fit,
        channels=channels,
    )
    classes = np.array([i.cls for i in items], np.int16)
    ids = np.array([str(i.path.relative_to(root)) for i in items])

    def split(idx: np.ndarray, with_masks: bool) -> Split:
        return Split(
            to_unit_range(decoded["images"][idx]),
            (classes[idx] != 0).astype(np.int8),
            masks=decoded["masks"][idx] if with_masks and has_masks else None,
            classes=classes[idx],
            ids=ids[idx],
        )

    return Dataset(
        name=name,
        protocol="mvtec",
        modality="image",
        train=split(pool[keep], False),
        validation=split(pool[val], False),
        test=split(test, True),
        options={
            **options,
            "validation_fraction": validation_fraction,
            "fit": fit,
            "channels": requested_channels,
        },
        class_names=tuple(str(c) for c in class_names),
    )


def _mvtec(name: str, root: Path, *, train_good_fraction: float, **common) -> Dataset:
    if not root.is_dir():
        raise DataNotFound(f"{root} is not a folder (expected the MVTec AD layout)")
    check_fraction("train_good_fraction", train_good_fraction)
    defects = [d for d in _subfolders(root / "test") if d != "good"]
    class_names = ("good", *defects)
    has_masks = (root / "ground_truth").is_dir()
    items = [_Item(p, 0) for p in _images_in(root / "train" / "good")]
    n_train = len(items)
    items += [_Item(p, 0) for p in _images_in(root / "test" / "good")]
    for c, defect in enumerate(defects, 1):
        masks = root / "ground_truth" / defect
        for p in _images_in(root / "test" / defect):
            items.append(_Item(p, c, masks / f"{p.stem}_mask.png" if has_masks else None))
    test_good = np.arange(n_train, n_train + sum(i.cls == 0 for i in items[n_train:]))
    _, moved = hold_out(len(test_good), train_good_fraction, salt=13)
    pool = np.concatenate([np.arange(n_train), test_good[moved]])
    if not len(pool):
        raise DataError(
            f"{root}: no normal training images: expected {root / 'train' / 'good'}/*.png"
            + (
                "; set train_good_fraction to train on a part of test/good instead"
                if len(test_good)
                else f" (and found no {root / 'test' / 'good'} either)"
            )
        )
    test = np.setdiff1d(np.arange(n_train, len(items)), test_good[moved])
    if not len(test):
        raise DataError(f"{root}: no test images: expected {root / 'test'}/<defect>/*.png")
    options = {"train_good_fraction": train_good_fraction}
    return defect_dataset(
        name, root, items, class_names, (pool, test), has_masks=has_masks, options=options, **common
    )


def load_mvtec(
    *,
    arg: str,
    image_size: int | None = None,
    validation_fraction: float = 0.1,
    train_good_fraction: float = 0.0,
    fit: str = "stretch",
    channels: int = 0,
) -> Dataset:
    """A folder in the MVTec AD layout: train/good, test/<defect>, ground_truth/<defect>/*_mask."""
    return _mvtec(
        f"mvtec:{arg}",
        Path(arg).expanduser(),
        train_good_fraction=train_good_fraction,
        image_size=image_size,
        fit=fit,
        channels=channels,
        validation_fraction=validation_fraction,
    )


def load_glass(
    *,
    image_size: int | None = None,
    validation_fraction: float = 0.1,
    train_good_fraction: float = 0.5,
    fit: str = "stretch",
    channels: int = 0,
) -> Dataset:
    """The shared glass set (MVTec layout, test/ only): half its 18 good images train by default."""
    return _mvtec(
        "glass",
        data_dir() / "glass_mvtec",
        train_good_fraction=train_good_fraction,
        image_size=image_size,
        fit=fit,
        channels=channels,
        validation_fraction=validation_fraction,
    )


def _carve_good(classes: np.ndarray, test_good_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train pool, test): a fixed `test_good_fraction` of good images and all others test."""
    check_fraction("test_good_fraction", test_good_fraction)
    good = np.flatnonzero(classes == 0)
    pool, held = hold_out(len(good), test_good_fraction, salt=17)
    test = np.sort(np.concatenate([good[held], np.flatnonzero(classes != 0)]))
    return good[pool], test


def load_kolektorsdd(
    *,
    image_size: int | None = None,
    validation_fraction: float = 0.1,
    test_good_fraction: float = 0.3,
    fit: str = "stretch",
    channels: int = 0,
) -> Dataset:
    """KolektorSDD with YOLO polygon labels (empty label file = good), masks from the polygons."""
    root = data_dir() / "kolektorsdd"
    paths = sorted(p for p in root.glob("**/images/*/*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise DataNotFound(f"no images under {root}: expected <root>/**/images/<split>/*.jpg")
    items = []
    for p in paths:
        label = p.parent.parent.parent / "labels" / p.parent.name / f"{p.stem}.txt"
        items.append(_Item(p, int(bool(read_polygons(label))), label))
    classes = np.array([i.cls for i in items])
    return defect_dataset(
        "kolektorsdd",
        root,
        items,
        ("good", "defect"),
        _carve_good(classes, test_good_fraction),
        has_masks=True,
        image_size=image_size,
        fit=fit,
        channels=channels,
        validation_fraction=validation_fraction,
        options={"test_good_fraction": test_good_fraction},
    )


def load_folder(
    *,
    arg: str,
    image_size: int | None = None,
    validation_fraction: float = 0.1,
    test_good_fraction: float = 0.3,
    normal_class: str = "auto",
    fit: str = "stretch",
    channels: int = 0,
) -> Dataset:
    """Any folder of images: normal ones in good/ (or normal/, ok/), anomalies in other folders.

    Masks are read from ground_truth/<class>/<stem>_mask.png for each class that has that folder.
    """
    root = Path(arg).expanduser()
    if not root.is_dir():
        raise DataNotFound(f"{root} is not a folder of images")
    found = [d for d in _subfolders(root) if d != "ground_truth" and _images_in(root / d)]
    normal = (
        next((d for d in NORMAL_NAMES if d in found), None)
        if normal_class == "auto"
        else normal_class
    )
    if normal not in found:
        raise DataError(
            f"{root}: no normal images: expected a sub-folder "
            + ("good/ or normal/" if normal_class == "auto" else f"{normal_class}/")
            + f" with images (set normal_class=NAME); found: {', '.join(found) or 'none'}"
        )
    anomalous = [d for d in found if d != normal]
    if not anomalous:
        raise DataError(f"{root}: no anomalous images: expected sub-folders besides {normal}/")
    has_masks = (root / "ground_truth").is_dir()
    items = [_Item(p, 0) for p in _images_in(root / normal)]
    for c, cls in enumerate(anomalous, 1):
        masks = root / "ground_truth" / cls
        for p in _images_in(root / cls):
            items.append(_Item(p, c, masks / f"{p.stem}_mask.png" if masks.is_dir() else None))
    classes = np.array([i.cls for i in items])
    return defect_dataset(
        f"folder:{arg}",
        root,
        items,
        (normal, *anomalous),
        _carve_good(classes, test_good_fraction),
        has_masks=has_masks,
        image_size=image_size,
        fit=fit,
        channels=channels,
        validation_fraction=validation_fraction,
        options={"test_good_fraction": test_good_fraction, "normal_class": normal_class},
    )


_IMAGE_OPTIONS = {"validation_fraction": 0.1, "fit": "stretch", "channels": 0}
register(
    Source(
        "mvtec",
        load_mvtec,
        {**_IMAGE_OPTIONS, "train_good_fraction": 0.0},
        "image",
        "a folder in the MVTec AD layout (train/good, test/<defect>, ground_truth masks)",
        arg="PATH",
        protocol="mvtec",
    )
)
register(
    Source(
        "glass",
        load_glass,
        {**_IMAGE_OPTIONS, "train_good_fraction": 0.5},
        "image",
        "shared glass defects (MVTec layout, 18 good / 80 defective, masks); "
        "half the good images train, the rest test",
        protocol="mvtec",
    )
)
register(
    Source(
        "kolektorsdd",
        load_kolektorsdd,
        {**_IMAGE_OPTIONS, "test_good_fraction": 0.3},
        "image",
        "KolektorSDD surface defects (YOLO polygons -> masks); 70 % of good images train",
        protocol="mvtec",
    )
)
register(
    Source(
        "folder",
        load_folder,
        {**_IMAGE_OPTIONS, "test_good_fraction": 0.3, "normal_class": "auto"},
        "image",
        "a folder of images: good/ (or normal/) and one sub-folder per anomaly type",
        arg="PATH",
        protocol="mvtec",
    )
)
