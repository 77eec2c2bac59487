"""A small adapter over Orbax: params + optimizer state + step + RNG, saved synchronously so a
``kill -9`` can only lose the checkpoint being written, never a finished one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpoints:
    def __init__(self, directory: Path):
        self.directory = Path(directory).absolute()
        options = ocp.CheckpointManagerOptions(create=True, enable_async_checkpointing=False)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        self._manager.reload()
        return sorted(self._manager.all_steps())

    def latest_at_most(self, step: int) -> int | None:
        ok = [s for s in self.steps() if s <= step]
        return ok[-1] if ok else None

    def save(self, step: int, state: Any) -> None:
        if step in self.steps():
            return
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)
        self._manager.wait_until_finished()

    def restore(self, step: int, like: Any) -> Any:
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def delete(self, step: int) -> None:
        if step in self.steps():
            self._manager.delete(step)

    def close(self) -> None:
        self._manager.close()
