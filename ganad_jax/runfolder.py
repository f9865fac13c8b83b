"""The run folder's lifecycle: the library writes only into folders it created and never deletes
what it did not write.

A run folder starts with a marker file (`.ganad-run`) written before anything else. `--out` on an
existing folder is accepted when it is empty or holds a run (the marker); `--overwrite` replaces
only a run, and only once its successor has succeeded: the new run is written into a sibling
staging folder and swapped in, so on any failure the old run is untouched. Symlinks are never
followed into a write or a delete. Files inside a run are replaced atomically (`write_text`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from ganad_jax.errors import GanadError

MARKER = ".ganad-run"
"""The file that makes a folder a run folder: written first, removed never."""


class RunFolderError(GanadError, ValueError):
    """A folder that the library may not write to, or may not replace."""


def is_run(folder: Path) -> bool:
    """Whether `folder` is a run folder the library created (it holds the marker)."""
    folder = Path(folder)
    marker = folder / MARKER
    return folder.is_dir() and not folder.is_symlink() and marker.is_file()


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable(path: Path) -> None:
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise RunFolderError(f"{path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunFolderError(f"{path}: {existing} is not writable")


def check_new(out: Path, overwrite: bool = False) -> None:
    """RunFolderError unless a new run may be written to `out`: it does not exist, is an empty
    folder, or (with `overwrite`) holds a run; never a symlink, a file or a folder of other files.
    """
    out = Path(out)
    if out.is_symlink():
        raise RunFolderError(f"{out} is a symlink; give the real folder as --out")
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not is_run(out):
            raise RunFolderError(
                f"{out} is not empty and holds no run ({MARKER} missing); "
                "the library only writes into empty folders or its own runs"
            )
        if not overwrite:
            raise RunFolderError(
                f"{out} already holds a run; use --resume, --overwrite or another --out"
            )
    _check_writable(out if out.exists() else out.parent)
    if out.exists():
        _check_writable(out.parent)  # the swap of --overwrite renames inside the parent


def check_existing(out: Path) -> None:
    """RunFolderError unless `out` is a run folder the library may write to (resume, evaluate)."""
    out = Path(out)
    if out.is_symlink():
        raise RunFolderError(f"{out} is a symlink; give the real folder")
    if not out.is_dir():
        raise RunFolderError(f"{out} is not a run folder (no such folder)")
    if not (out / "config.json").is_file():
        raise RunFolderError(f"{out} is not a run folder (no config.json)")
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunFolderError(f"{out} is not writable")


def mark(folder: Path) -> None:
    """Create `folder` (and its parents) with the marker, the first thing of a run folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / MARKER, json.dumps({"format": 1}) + "\n")


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically (a temporary sibling, flushed, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def staging_folder(out: Path) -> Path:
    """Where the successor of the run in `out` is written before it replaces it."""
    out = Path(out).absolute()
    return out.with_name(f".{out.name}.new")


def _remove_run(folder: Path) -> None:
    """Delete a run folder of the library's; anything else is refused."""
    if folder.is_symlink() or not is_run(folder):
        raise RunFolderError(f"refusing to delete {folder}: it is not a run folder")
    shutil.rmtree(folder)


def begin_stage(out: Path) -> Path:
    """A fresh marked folder next to `out` to write the successor of the run in `out` into (a
    stale one of an interrupted replacement is removed first: it is the library's)."""
    stage = staging_folder(out)
    if stage.is_symlink() or (stage.exists() and not is_run(stage)):
        raise RunFolderError(f"{stage} is in the way and is not a run folder; remove it")
    if stage.exists():
        shutil.rmtree(stage)
    mark(stage)
    return stage


def discard_stage(stage: Path) -> None:
    """Remove a staging folder whose run failed."""
    if is_run(stage):
        shutil.rmtree(stage, ignore_errors=True)


def commit_stage(stage: Path, out: Path) -> None:
    """Put the finished run in `stage` in the place of `out` (absent, empty or a run), then
    delete the run it replaced; a crash in between leaves one of the two runs complete."""
    out = Path(out).absolute()
    old = out.with_name(f".{out.name}.old")
    if out.exists():
        if old.exists():
            _remove_run(old)
        if any(out.iterdir()) and not is_run(out):
            raise RunFolderError(f"{out} changed during the run and holds no run; left as it is")
        os.replace(out, old)
    os.replace(stage, out)
    if is_run(old):
        _remove_run(old)
    elif old.exists():
        old.rmdir()  # the empty folder the new run replaced


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """Yield a fresh marked folder next to `out` to write a run into; when the block succeeds,
    it takes the place of `out` (which must be absent, empty or a run); when it fails, the
    staging folder is removed and `out` is as it was."""
    stage = begin_stage(out)
    try:
        yield stage
    except BaseException:
        discard_stage(stage)
        raise
    commit_stage(stage, out)
