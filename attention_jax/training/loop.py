"""The training loop every experiment shares: `train_and_evaluate(config, workdir)`.

One step, compiled once: per-example keys from fold_in(root key, step), value_and_grad of the task's summed
objective, gradients summed across devices and divided by the global count, an optax update. Around it: the Grain
iterator, periodic train/eval metrics, Orbax checkpoints (state + iterator position) and resumption from the
newest one, and a clean checkpoint-and-exit on SIGTERM/SIGINT.
"""

import contextlib
import dataclasses
import json
import os
import signal
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import optax
from absl import logging

from attention_jax import distributed, io_utils, random_streams, tasks
from attention_jax.data import pipeline
from attention_jax.errors import UserError
from attention_jax.training import checkpoint, config_checks, evaluators, metrics, optim, parallel, state as state_lib
from attention_jax.training.workdir import (ADDED_FIELDS, RESUMABLE_FIELDS, check_inputs, check_same_experiment,  # noqa: F401
                                            flat_fields, load_config, prepare_workdir)

def make_train_step(task, tx, schedule, global_batch: int, axis_name, num_shards: int):
  """The pure train step `(state, batch, resident) -> (state, outputs)` (pmap it with `axis_name`, or jit it);
  `resident` (the task's arrays placed once on the devices) is merged into the batch."""

  def step(state, batch, resident):
    batch = batch | resident
    keys = state_lib.per_example_keys(jax.random.fold_in(state.key, state.step), global_batch, axis_name,
                                      num_shards)
    grad_fn = jax.grad(task.loss, has_aux=True)
    grads, sums = grad_fn(state.params, batch, keys)
    grads, sums = parallel.combine((grads, sums), axis_name, "sum")
    grads = jax.tree.map(lambda g: g / sums["count"], grads)  # mean over the global batch
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                              opt_state=opt_state)
    scalars = {"grad_norm": optax.global_norm(grads), "learning_rate": schedule(state.step)}
    return new_state, {"sums": sums, "scalars": scalars}

  return step


def make_eval_step(task, axis_name, seed: int):
  """The pure eval step `(params, batch, resident) -> metric sums`; example i's randomness is fold_in(key, i),
  fixed."""
  def step(params, batch, resident):
    batch = batch | resident
    keys = state_lib.eval_example_keys(seed, batch["index"])
    return parallel.combine(task.evaluate(params, batch, keys), axis_name, "sum")
  return step


def evaluate_split(task, par, eval_step, params_on_device, split: str, resident) -> dict:
  """Averages the task's metric sums over every example of `split` (`resident`: the split's arrays on the
  devices)."""
  totals = None
  for batch in task.eval_batches(split):
    sums = eval_step(params_on_device, par.put_batch(par.local_rows(batch)), resident)
    totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
  totals = {k: float(v) for k, v in par.get_replicated(totals).items()}
  return metrics.averages(totals)


def validate(config) -> None:
  config_checks.check_fields(config)
  if config.get("select_by") and config.get("eval_split", "test") == "test":
    raise UserError(f"config field select_by={config.select_by!r} would choose the checkpoint on the test set; set "
                    f"eval_split='valid' (and the data's validation split) to select on held-out training data")


class _StopRequest:
  """Turns SIGTERM/SIGINT into a flag the loop checks between steps (then it checkpoints and exits)."""

  def __init__(self):
    self.signal = None

  def __call__(self, signum, frame):
    del frame
    self.signal = signum

  @contextlib.contextmanager
  def installed(self):
    old = {s: signal.signal(s, self) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
      yield self
    finally:
      for s, handler in old.items():
        signal.signal(s, handler)


class NonFiniteError(UserError):
  pass


@dataclasses.dataclass
class Trainer:
  """What one experiment's training needs, built once from its config: task, devices, optimizer, compiled steps."""
  config: ml_collections.ConfigDict
  task: tasks.Task
  par: parallel.DataParallel
  tx: optax.GradientTransformation
  schedule: optax.Schedule
  compiled_train_step: Callable  # (state, batch, resident) -> (state, outputs)
  compiled_eval_step: Callable  # (params, batch, resident) -> metric sums
  _resident: dict = dataclasses.field(default_factory=dict)  # split -> the task's resident arrays on the devices

  def resident(self, split: str) -> dict:
    """The task's arrays for `split` on the devices (placed on first use, then kept); {} for tasks with none."""
    if split not in self._resident:
      arrays = self.task.resident(split) if self.task.resident is not None else {}
      self._resident[split] = self.par.put_replicated(arrays)
    return self._resident[split]

  def train_step(self, state, batch):
    """One compiled training step on a batch already placed on the devices."""
    return self.compiled_train_step(state, batch, self.resident("train"))

  def _make_state(self) -> state_lib.TrainState:
    return state_lib.create(self.task.init(random_streams.key(self.config.seed, "params")), self.tx,
                            self.config.seed)

  def abstract_state(self):
    """Shapes and dtypes of the train state (`jax.eval_shape`: nothing computed), the template checkpoints are
    restored into."""
    return jax.eval_shape(self._make_state)

  def create_state(self):
    """The state at step 0, created on the devices with its sharding (`jit` with `out_shardings`)."""
    return self.par.create_replicated(self._make_state)

  def initial_state(self) -> state_lib.TrainState:
    """A host copy of the state at step 0 (for tools and tests)."""
    return self.par.get_replicated(self.create_state())

  def evaluate(self, params_on_device, split: str) -> dict:
    return evaluate_split(self.task, self.par, self.compiled_eval_step, params_on_device, split,
                          self.resident(split))


def build_trainer(config) -> Trainer:
  validate(config)
  par = parallel.DataParallel(config.parallel, config.num_devices)
  par.check_batch_size("batch_size", config.batch_size)
  par.check_batch_size("eval_batch_size", config.eval_batch_size)
  task = distributed.primary_first(tasks.build, config)  # process 0 prepares the data; the others then read it
  evaluators.pick(task, config.get("evals", ()))  # a misspelt evaluator fails now, not after training
  tx, schedule = optim.build_optimizer(config.optimizer, config.num_train_steps)
  train_step = par.compile_step(make_train_step(task, tx, schedule, config.batch_size, par.axis_name,
                                                par.num_devices))
  eval_step = par.compile_step(make_eval_step(task, par.axis_name, config.seed), donate_state=False)
  return Trainer(config, task, par, tx, schedule, train_step, eval_step)


class _TrainLog:
  """Step outputs kept on the device until the next log step, then checked for NaN/Inf and written as one row."""

  def __init__(self, par, writer, ckpt, start: int):
    self.par, self.writer, self.ckpt = par, writer, ckpt
    self.pending, self.pending_from = [], start

  def add(self, out):
    self.pending.append(out)

  def flush(self, step: int):
    if not self.pending:
      return
    outputs = self.par.get_replicated(self.pending)  # one transfer per log interval
    bad = metrics.first_non_finite(outputs, self.pending_from + 1)
    if bad:
      raise NonFiniteError(f"non-finite {bad[1]} at step {bad[0]}; stopping. The newest checkpoint "
                           f"(step {self.ckpt.latest_step()}) is the last good state.")
    row = metrics.summarize(outputs)
    rate = self.writer.steps_per_second(step)
    self.writer.write(step, "train", row | {"steps_per_s": rate})
    self.writer.progress(step, rate, row)
    self.pending, self.pending_from = [], step


def start_run(config, workdir: str) -> "Trainer":
  """Checks the config and the workdir, builds the trainer, records config.json (process 0)."""
  validate(config)
  prepare_workdir(workdir)
  check_same_experiment(config, workdir)
  if distributed.is_primary():
    check_inputs(config, workdir)
  trainer = build_trainer(config)
  if distributed.is_primary():  # in a multi-process job only process 0 writes files besides checkpoints
    io_utils.atomic_write_json(os.path.join(workdir, "config.json"), json.loads(config.to_json_best_effort()))
  return trainer


def restore_or_create(trainer: "Trainer", ckpt, data_iter):
  """(first step to run - 1, state on the devices): the newest good checkpoint (and the data iterator's position),
  or a fresh state at step 0."""
  start, restored, data_state = ckpt.restore_newest(trainer.abstract_state())
  if not start:
    if ckpt.damaged_note():
      logging.warning("%s: starting over from step 0", ckpt.damaged_note())
    return 0, trainer.create_state()
  data_iter.set_state(data_state)
  logging.info("resuming at step %d", start)
  return start, trainer.par.put_replicated(restored)


def train_and_evaluate(config, workdir: str, on_checkpoint: Callable[[int], None] | None = None):
  """Trains `config` in `workdir` (resuming from its newest checkpoint) and returns the final host state.

  `on_checkpoint(step)` is called after each checkpoint is saved (`experiments.train` keeps run.json's wall time
  current with it, so a killed run's time survives to its resumption).
  """
  trainer = start_run(config, workdir)
  par, primary = trainer.par, distributed.is_primary()
  ckpt = checkpoint.Checkpointer(workdir, config.checkpoint_every_steps, config.keep_checkpoints)
  data_iter = pipeline.train_iterator(trainer.task.train_data)
  start, state = restore_or_create(trainer, ckpt, data_iter)
  batches = pipeline.DevicePrefetch(data_iter, par.put_batch)  # after the restore: it starts reading at once
  writer = metrics.MetricWriter(workdir, start, config.num_train_steps, write=primary)
  log = _TrainLog(par, writer, ckpt, start)
  eval_split, select_by = config.get("eval_split", "test"), config.get("select_by", "")
  selected = checkpoint.SelectedCheckpoint(workdir, select_by, eval_split, writer.rows) if select_by else None

  def save(step, force=False):
    log.flush(step)  # never save a state whose steps have not been checked for NaN/Inf
    if ckpt.save(step, par.get_replicated(state), batches.get_state(), force=force):
      logging.info("saved checkpoint %d", step)
      if on_checkpoint:
        on_checkpoint(step)

  stop = _StopRequest()
  with stop.installed(), contextlib.closing(batches):
    compile_start = time.time()
    for step in range(start + 1, config.num_train_steps + 1):
      state, out = trainer.train_step(state, next(batches))
      log.add(out)
      if step == start + 1:
        jax.block_until_ready(out)
        logging.info("first step (compilation included) took %.1fs", time.time() - compile_start)
      last = step == config.num_train_steps
      if step % config.log_every_steps == 0 or last:
        log.flush(step)
      if step % config.eval_every_steps == 0 or last:
        row = trainer.evaluate(state.params, eval_split)
        if selected:  # before the row is written: a row in metrics.jsonl always has its selection saved
          selected.offer(step, row, lambda: par.get_replicated(state), batches.get_state())
        writer.write(step, eval_split, row)
        logging.info("step %d %s: %s", step, eval_split, row)
      if step % config.checkpoint_every_steps == 0 or last:
        save(step, force=last)
      if stop.signal is not None:
        logging.warning("signal %d: saving step %d and exiting", stop.signal, step)
        save(step, force=True)
        break
  log.flush(int(par.get_replicated(state.step)))
  ckpt.close()
  if selected:
    selected.close()
  writer.close()
  if stop.signal is None and primary:
    from attention_jax import plotting  # pylint: disable=g-import-not-at-top
    plotting.training_curves(writer.rows, os.path.join(workdir, "plots", "training_curves.png"))
  return par.get_replicated(state)


def _selected_checkpoint(workdir: str, config, trainer):
  """(step, host state) of the checkpoint the run selected on validation (config.select_by), or (0, None)."""
  if not config.get("select_by") or not os.path.isdir(os.path.join(workdir, checkpoint.SELECTED_DIR)):
    return 0, None
  selected = checkpoint.Checkpointer(workdir, 1, 1, subdir=checkpoint.SELECTED_DIR)
  step, host_state, _ = selected.restore_newest(trainer.abstract_state())
  selected.close()
  return step, host_state


def _checkpoint_to_evaluate(workdir: str, config, trainer, ckpt, step, which: str):
  """(step, host state, the step selected on validation or 0) of the checkpoint `evaluate_checkpoint` reads."""
  selected_step, host_state = (_selected_checkpoint(workdir, config, trainer) if step is None and which == "selected"
                               else (0, None))
  if selected_step:
    step = selected_step
  elif step is None:
    step, host_state, _ = ckpt.restore_newest(trainer.abstract_state())
  elif step not in ckpt.all_steps():
    raise UserError(f"--step={step} is not a checkpoint of {workdir}; it has {ckpt.all_steps()}")
  else:
    with checkpoint.orbax_failures_reported_here():
      try:
        host_state, _ = ckpt.restore(step, trainer.abstract_state())
      except UserError:
        raise
      except Exception as e:  # pylint: disable=broad-except
        raise UserError(f"--step={step}: checkpoint {step} of {workdir} is damaged and cannot be read "
                        f"({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})") from None
  if not step:
    if ckpt.damaged_note():
      raise UserError(f"--workdir={workdir}: nothing to evaluate: {ckpt.damaged_note()}")
    raise UserError(f"--workdir={workdir} holds no checkpoint yet; train first with experiments.train")
  return step, host_state, selected_step


def evaluate_checkpoint(workdir: str, split: str = "test", step: int | None = None,
                        which: str = "selected") -> dict:
  """Evaluates a checkpoint of `workdir` on `split`; writes eval.json and plots. The checkpoint is `step`, or
  (`which="selected"`) the one the run selected by its validation metric (config.select_by) where it has one,
  else the newest."""
  config = load_config(workdir)
  trainer = build_trainer(config)
  ckpt = checkpoint.Checkpointer(workdir, config.checkpoint_every_steps, config.keep_checkpoints)
  try:
    step, host_state, selected_step = _checkpoint_to_evaluate(workdir, config, trainer, ckpt, step, which)
    newest = int(ckpt.latest_step() or 0)
  finally:
    ckpt.close()
  chosen = evaluators.pick(trainer.task, config.get("evals", ()))
  result = {"step": int(step), "split": split}
  if selected_step:
    result["selected_by"] = {"metric": config.select_by, "split": config.eval_split, "newest_step": newest}
  result |= trainer.evaluate(trainer.par.put_replicated(host_state.params), split)
  result |= evaluators.run(chosen, host_state.params, split, workdir)
  io_utils.atomic_write_json(os.path.join(workdir, "eval.json"), result)
  logging.info("evaluated step %d on %s with %s: %s", step, split, list(chosen), result)
  return result
