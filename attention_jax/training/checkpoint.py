"""Orbax checkpoints of the train state and the data iterator's position.

Each checkpoint `workdir/checkpoints/<step>/` holds two items: ``state`` (the TrainState pytree, one host copy,
so a checkpoint made on 8 devices restores on 1) and ``data`` (the Grain iterator state as JSON). Orbax writes into
a temporary folder and renames it when complete, so a kill mid-save leaves no checkpoint that looks finished.
"""

import contextlib
import errno
import logging as pylogging
import os
import shutil
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from attention_jax.errors import UserError


class _OrbaxErrors(pylogging.Filter):
  """Drops Orbax's ERROR records (their tracebacks) about a save or restore this module reports itself."""

  def filter(self, record):
    return not ("/orbax/" in record.pathname and record.levelno >= pylogging.ERROR)


def _drop_closed_loop_errors(previous):
  def hook(unraisable):
    if not (isinstance(unraisable.exc_value, RuntimeError) and "Event loop is closed" in str(unraisable.exc_value)):
      previous(unraisable)
  return hook


@contextlib.contextmanager
def orbax_failures_reported_here():
  """Within it, Orbax's error logs and the "Event loop is closed" errors its threads leave behind after a failed
  read or write are not shown: the caller reports the outcome in one line. After a failure (an exception out of
  the block) they stay quiet for the rest of the process, whose background threads may still log."""
  quiet = _OrbaxErrors()
  logging.get_absl_logger().addFilter(quiet)
  previous = sys.unraisablehook
  sys.unraisablehook = _drop_closed_loop_errors(previous)
  failed = False
  try:
    yield
  except BaseException:
    failed = True
    raise
  finally:
    if not failed:
      logging.get_absl_logger().removeFilter(quiet)
      sys.unraisablehook = previous


def _no_space(error: BaseException) -> bool:
  text = str(error)
  return (isinstance(error, OSError) and error.errno == errno.ENOSPC) or "RESOURCE_EXHAUSTED" in text or \
      "No space left" in text


class Checkpointer:
  """Saves every `every_steps` steps (and when forced), keeps the newest `keep`, restores the newest good one."""

  def __init__(self, workdir: str, every_steps: int, keep: int, subdir: str = "checkpoints"):
    self.workdir = os.path.abspath(workdir)
    self.directory = os.path.join(self.workdir, subdir)
    # Unfinished temporary folders (a save killed midway) are removed when the manager starts.
    self._options = ocp.CheckpointManagerOptions(max_to_keep=keep, save_interval_steps=every_steps, create=True,
                                                 enable_async_checkpointing=False, cleanup_tmp_directories=True)
    self._manager = self._open()
    self._closed = False  # after a failed save (`_remove_unfinished`)
    self.damaged = []  # the steps `restore_newest` found damaged and moved aside

  def _open(self):
    handlers = {"state": ocp.StandardCheckpointHandler(), "data": ocp.JsonCheckpointHandler()}
    return ocp.CheckpointManager(self.directory, options=self._options, item_handlers=handlers)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self):
    return sorted(self._manager.all_steps())

  def save(self, step: int, state, data_state: dict, force: bool = False) -> bool:
    """Saves if `step` is on the interval (or `force`) and not saved yet; returns whether it saved."""
    if step in self._manager.all_steps():
      return False  # e.g. a signal arrives right after the periodic save of the same step
    args = ocp.args.Composite(state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state))
    try:
      with orbax_failures_reported_here():
        saved = self._manager.save(step, args=args, force=force)
        self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      self._remove_unfinished(step)
      if _no_space(e):
        newest = max([s for s in self.all_steps() if s != step], default=None)
        raise UserError(f"no space left on the device to save checkpoint {step} in {self.directory} (its partial "
                        f"folder was removed); free some space and run the same command again, to resume from "
                        + (f"checkpoint {newest}" if newest is not None else "step 0")) from None
      raise
    return saved

  def _remove_unfinished(self, step: int) -> None:
    """Removes what a failed save of `step` left: Orbax's temporary folder. The manager is closed first (its
    threads may still be writing there), and stays closed: the run ends with the failure."""
    try:
      with orbax_failures_reported_here():
        self._manager.close()
    except Exception:  # pylint: disable=broad-except
      pass
    self._closed = True
    for _ in range(50):  # a thread the close did not join may still create files in it for a moment
      left = [n for n in (os.listdir(self.directory) if os.path.isdir(self.directory) else ())
              if n.startswith(f"{step}.") and "tmp" in n]
      if not left:
        return
      for name in left:
        shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
      time.sleep(0.1)

  def restore(self, step: int, like_state):
    """Restores (state, data_state) of `step`, with the state's structure and dtypes taken from `like_state`.

    Raises UserError if the checkpoint holds other arrays than `like_state` (a different config made it).
    """
    if self._differs_in_structure(step, like_state):
      raise UserError(f"checkpoint {step} in {self.directory} holds arrays of other shapes than this config "
                      f"makes; it was written by a different config. Pass a new --workdir, or rerun with the "
                      f"config that made it")
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(np.shape(x), x.dtype), like_state)
    restored = self._manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore()))
    if _shapes(restored["state"]) != _shapes(like_state):
      raise ValueError(f"checkpoint {step} restored with unexpected shapes")
    logging.info("restored checkpoint %d from %s", step, self.directory)
    return restored["state"], restored["data"]

  def restore_newest(self, like_state):
    """(step, state, data_state) of the newest checkpoint that restores, or (0, None, None) when there is none.

    A checkpoint that fails to restore (truncated or half-deleted files) is moved to `checkpoints_broken/` with a
    warning, and the next older one is tried, so one bad save never ends a run.
    """
    self.damaged = []
    for step in reversed(self.all_steps()):
      try:
        with orbax_failures_reported_here():
          state, data_state = self.restore(step, like_state)
        return step, state, data_state
      except UserError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        moved = self._move_aside(step)
        self.damaged.append(step)
        logging.warning("checkpoint %d is damaged (%s: %s); moved it to %s, trying an older one", step,
                        type(e).__name__, str(e).splitlines()[0][:160] if str(e) else "", moved)
    return 0, None, None

  def damaged_note(self) -> str:
    """After `restore_newest` found nothing: why (every checkpoint damaged, and where they went), or ''."""
    if not self.damaged:
      return ""
    return (f"every checkpoint in {self.directory} was damaged (steps {', '.join(map(str, sorted(self.damaged)))}; "
            f"moved to {os.path.join(self.workdir, 'checkpoints_broken')})")

  def _differs_in_structure(self, step: int, like_state) -> bool:
    """True if the checkpoint's recorded array shapes differ from `like_state`'s (readable metadata only)."""
    try:
      saved = _shapes(self._manager.item_metadata(step)["state"])
    except Exception:  # pylint: disable=broad-except
      return False  # no readable metadata: a broken checkpoint, not a different one
    return bool(saved) and saved != _shapes(like_state)

  def _move_aside(self, step: int) -> str:
    broken = os.path.join(self.workdir, "checkpoints_broken")
    os.makedirs(broken, exist_ok=True)
    target = os.path.join(broken, f"{step}-{int(time.time() * 1000)}")
    os.rename(os.path.join(self.directory, str(step)), target)
    self._manager.close()
    self._manager = self._open()
    return target

  def close(self):
    if not self._closed:
      self._manager.close()


SELECTED_DIR = "checkpoint_selected"  # the one checkpoint with the best validation metric (`SelectedCheckpoint`)


class SelectedCheckpoint:
  """Keeps the one checkpoint whose evaluation had the lowest `metric` (config.select_by) in
  `workdir/checkpoint_selected/<step>/`, beside the periodic ones.

  The best value so far is read back from metrics.jsonl's rows on resume (`rows`: those up to the resume step), so
  an interrupted run keeps selecting against the same record. Lower is better: the metric is an error or a loss.
  """

  def __init__(self, workdir: str, metric: str, split: str, rows: list):
    self.metric, self.split = metric, split
    self._ckpt = Checkpointer(workdir, 1, 1, subdir=SELECTED_DIR)
    seen = [r[metric] for r in rows if r.get("split") == split and metric in r]
    self.best = min(seen, default=float("inf"))

  def offer(self, step: int, values: dict, state_fn, data_state: dict) -> bool:
    """Saves `state_fn()` as the selected checkpoint if `values[metric]` beats the best so far."""
    if self.metric not in values:
      raise UserError(f"config field select_by={self.metric!r} is not a metric of the {self.split} evaluation; "
                      f"expected one of {', '.join(sorted(values))}")
    if not values[self.metric] < self.best:
      return False
    self.best = values[self.metric]
    self._ckpt.save(step, state_fn(), data_state, force=True)
    logging.info("step %d has the best %s %s so far (%.5g): selected", step, self.split, self.metric, self.best)
    return True

  def close(self):
    self._ckpt.close()


def _shapes(tree) -> dict:
  """{'path': shape} of every array leaf (works for arrays and for Orbax's array metadata)."""
  def name(entry):  # dict key, dataclass field or sequence index alike
    for attr in ("key", "name", "idx"):
      if hasattr(entry, attr):
        return str(getattr(entry, attr))
    return str(entry)
  return {"/".join(name(e) for e in path): tuple(v.shape)
          for path, v in jax.tree_util.tree_leaves_with_path(tree) if hasattr(v, "shape")}
