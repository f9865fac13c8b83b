"""Orbax checkpoints of detector states, each sealed by a manifest of checksums.

orbax-checkpoint writes a step into a temporary folder and renames it once complete, which says
nothing about its bytes later on: a disk, a copy or a sync can change them, and orbax reads them
back without complaint. So once orbax has finished a step, the primary process writes
`ganad_manifest.json` into the step's folder (atomically): the size and sha256 of every file, a
little metadata (the training seconds so far) and a checksum of the manifest itself. A step without
a manifest (a write cut short) or with any mismatch is corrupt and never restored; `restore()`
without a step falls back to the newest intact one and says so on stderr. Older steps are deleted
only after the new step is sealed, so a kill at any moment leaves an intact checkpoint behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from ganad_jax import distributed
from ganad_jax.errors import GanadError
from ganad_jax.runfolder import write_text

MANIFEST = "ganad_manifest.json"
"""The file in a step's folder that seals it: sizes and sha256 of the step's other files."""
_FORMAT = 1


class CheckpointError(GanadError, RuntimeError):
    """No checkpoint, a corrupt one, or one that cannot be read back into the expected state."""


def _encode(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _files(folder: Path) -> dict[str, dict[str, Any]]:
    """Size and sha256 of every file under `folder` but the manifest, by relative path."""
    return {
        path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
    }


def write_manifest(folder: Path, step: int, metadata: dict[str, Any]) -> None:
    """Seal the finished checkpoint `step` in `folder` with a manifest of its files' checksums."""
    body = {"format": _FORMAT, "step": step, "metadata": metadata, "files": _files(folder)}
    checksum = hashlib.sha256(_encode(body).encode()).hexdigest()
    write_text(folder / MANIFEST, _encode({**body, "checksum": checksum}))


def verify(folder: Path, step: int) -> dict[str, Any]:
    """The metadata of checkpoint `step` in `folder` once every file matches its manifest;
    CheckpointError naming the first file that does not."""

    def corrupt(name: str, problem: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {step} in {folder.parent} is corrupt (file {name} {problem})"
        )

    if not folder.is_dir():
        raise CheckpointError(f"no checkpoint {step} in {folder.parent}")
    try:
        text = (folder / MANIFEST).read_text()
    except FileNotFoundError:
        raise corrupt(MANIFEST, "is missing: its write did not finish") from None
    except (OSError, UnicodeDecodeError) as err:
        raise corrupt(MANIFEST, f"is unreadable: {err}") from None
    try:
        document = json.loads(text)
        body = {k: v for k, v in document.items() if k != "checksum"}
        # Byte for byte, so that no change to the manifest (even one JSON ignores) goes unseen.
        sealed = text == _encode(document) and document["checksum"] == (
            hashlib.sha256(_encode(body).encode()).hexdigest()
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        sealed = False
    if not sealed or body.get("format") != _FORMAT or body.get("step") != step:
        raise corrupt(MANIFEST, "does not match its checksum")
    expected = body["files"]
    for name in sorted(expected):
        path = folder / name
        if not path.is_file():
            raise corrupt(name, "is missing")
        if (
            path.stat().st_size != expected[name]["size"]
            or _sha256(path) != expected[name]["sha256"]
        ):
            raise corrupt(name, "does not match its checksum")
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST and name not in expected:
            raise corrupt(name, "is not in the manifest")
    return body["metadata"]


def steps_on_disk(directory: Path) -> list[int]:
    """The steps orbax finished writing in `directory` (sealed or not), oldest first."""
    if not directory.is_dir():
        return []
    # orbax names a finished step's folder by its number, one being written `N.orbax-...-tmp...`
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit() and p.is_dir())


def is_sealed(directory: Path, step: int) -> bool:
    """Whether checkpoint `step` in `directory` has its manifest (its checksums unchecked)."""
    return (directory / str(step) / MANIFEST).is_file()


def newest_intact(directory: Path) -> tuple[int, dict[str, Any]] | None:
    """(step, metadata) of the newest checkpoint in `directory` that passes `verify`, or None."""
    for step in reversed(steps_on_disk(directory)):
        try:
            return step, verify(directory / str(step), step)
        except CheckpointError:
            continue
    return None


class Checkpoints:
    """Saves a State pytree every so many steps, keeps the newest few, restores into a template.

    Every process of a multi-process run takes part in `save`, `restore` and `discard_after`;
    the primary one seals, checks and deletes steps, and tells the others what it found.
    After a `restore`, `restored_step` and `restored_metadata` describe what was read and
    `skipped` lists the newer checkpoints passed over as corrupt (empty when none were).
    """

    def __init__(self, directory: Path, keep: int = 2) -> None:
        options = ocp.CheckpointManagerOptions(
            # Old steps are deleted here, only once the new step is sealed: orbax's own
            # max_to_keep would delete them as soon as its files are written.
            max_to_keep=None,
            create=True,
            # Synchronous: the trainer donates the state to the next step, so the save must finish
            # before the buffers are reused.
            enable_async_checkpointing=False,
        )
        self.directory = Path(directory).absolute()
        self.keep = keep
        self._manager = ocp.CheckpointManager(self.directory, options=options)
        self.restored_step: int | None = None
        self.restored_metadata: dict[str, Any] = {}
        self.skipped: list[str] = []

    def _folder(self, step: int) -> Path:
        return self.directory / str(step)

    def steps(self) -> list[int]:
        """Every step orbax finished writing, oldest first, sealed or not."""
        return steps_on_disk(self.directory)

    def latest_step(self) -> int | None:
        """The newest sealed step (`restore` also checks its checksums), or None."""
        sealed = [step for step in self.steps() if is_sealed(self.directory, step)]
        return sealed[-1] if sealed else None

    def save(self, step: int, state: Any, metadata: dict[str, Any] | None = None) -> None:
        """Write `state` as checkpoint `step`, seal it with `metadata` (JSON values), then delete
        the steps it supersedes (beyond the newest `keep` sealed ones, and unsealed leftovers)."""
        if step in self.steps():  # what a cut-short write left: this run writes it anew
            self._delete([step])
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()
        if distributed.is_primary():
            write_manifest(self._folder(step), step, metadata or {})
        sealed = [s for s in self.steps() if s <= step and is_sealed(self.directory, s)]
        kept = set(sealed[-self.keep :]) | {step}
        self._delete([s for s in self.steps() if s < step and s not in kept])

    def discard_after(self, step: int) -> None:
        """Delete the checkpoints newer than `step` (a run resumed from `step` writes them anew)."""
        self._delete([s for s in self.steps() if s > step])

    def _delete(self, steps: list[int]) -> None:
        """The primary process deletes `steps` while the others wait; the manifest goes first, so
        that a deletion cut short leaves an unsealed step, never a sealed partial one."""
        if distributed.is_primary():
            for step in steps:
                (self._folder(step) / MANIFEST).unlink(missing_ok=True)
                shutil.rmtree(self._folder(step))
        distributed.barrier("ganad-checkpoints")
        self._manager.reload()

    def _choose(self, step: int | None) -> tuple[int | None, list[str]]:
        """The step to restore (`step`, or the newest intact one) and what was wrong with the
        newer ones; None when nothing intact is left."""
        problems = []
        for candidate in reversed(self.steps()) if step is None else [step]:
            try:
                verify(self._folder(candidate), candidate)
                return candidate, problems
            except CheckpointError as err:
                problems.append(str(err))
        return None, problems

    def restore(self, template: Any, step: int | None = None) -> Any:
        """Read checkpoint `step` (default: the newest intact one) into the structure of
        `template`, once its checksums match."""
        chosen, problems = self._choose(step) if distributed.is_primary() else (None, [])
        agreed = distributed.broadcast_from_primary(-1 if chosen is None else chosen)
        if agreed < 0:
            if not distributed.is_primary():
                raise CheckpointError(f"no intact checkpoint in {self.directory} (see process 0)")
            if not problems:
                raise CheckpointError(f"no checkpoint in {self.directory}")
            if step is not None:
                raise CheckpointError(problems[0])
            raise CheckpointError("no intact checkpoint left: " + "; ".join(problems))
        if problems:
            print("; ".join(problems) + f"; restored step {agreed}", file=sys.stderr)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            restored = self._manager.restore(agreed, args=ocp.args.StandardRestore(abstract))
        except Exception as err:  # orbax raises many types for unreadable or mismatched files
            raise CheckpointError(
                f"checkpoint {agreed} in {self.directory} cannot be restored: {err}"
            ) from None
        manifest = json.loads((self._folder(agreed) / MANIFEST).read_text())
        self.restored_step, self.restored_metadata = agreed, manifest["metadata"]
        self.skipped = problems
        return restored

    def close(self) -> None:
        """Release the manager's resources."""
        self._manager.close()
