"""A thin wrapper over orbax-checkpoint's CheckpointManager for detector states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """No checkpoint, or one that cannot be read back into the expected state."""


class Checkpoints:
    """Saves a State pytree every so many steps, keeps the newest few, restores into a template."""

    def __init__(self, directory: Path, keep: int = 2) -> None:
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            # Synchronous: the trainer donates the state to the next step, so the save must finish
            # before the buffers are reused.
            enable_async_checkpointing=False,
        )
        self.directory = Path(directory).absolute()
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def save(self, step: int, state: Any) -> None:
        """Write `state` as checkpoint `step`."""
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()

    def latest_step(self) -> int | None:
        """The newest checkpoint's step, or None."""
        return self._manager.latest_step()

    def restore(self, template: Any, step: int | None = None) -> Any:
        """Read checkpoint `step` (default: the newest) into the structure of `template`."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
        try:
            return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
        except Exception as err:  # orbax raises many types for unreadable or mismatched files
            raise CheckpointError(
                f"checkpoint {step} in {self.directory} cannot be restored: {err}"
            ) from None

    def close(self) -> None:
        """Release the manager's resources."""
        self._manager.close()
