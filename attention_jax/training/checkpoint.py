"""Orbax checkpoints of the train state and the data iterator's position.

Each checkpoint `workdir/checkpoints/<step>/` holds two items: ``state`` (the TrainState pytree, one host copy,
so a checkpoint made on 8 devices restores on 1) and ``data`` (the Grain iterator state as JSON). Orbax writes into
a temporary folder and renames it when complete, so a kill mid-save leaves no checkpoint that looks finished.
"""

import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging


class Checkpointer:
  """Saves every `every_steps` steps (and when forced), keeps the newest `keep`, restores the newest good one."""

  def __init__(self, workdir: str, every_steps: int, keep: int):
    self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, save_interval_steps=every_steps, create=True,
                                           enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "data"))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self):
    return sorted(self._manager.all_steps())

  def save(self, step: int, state, data_state: dict, force: bool = False) -> bool:
    """Saves if `step` is on the interval (or `force`); returns whether it saved."""
    args = ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
    saved = self._manager.save(step, args=args, force=force)
    self._manager.wait_until_finished()
    return saved

  def restore(self, step: int, like_state):
    """Restores (state, data_state) of `step`, with the state's structure and dtypes taken from `like_state`."""
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype), like_state)
    restored = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore()))
    logging.info("restored checkpoint %d from %s", step, self.directory)
    return restored["state"], restored["data"]

  def close(self):
    self._manager.close()
