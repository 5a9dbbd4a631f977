"""Timing helpers: compile time, the median throughput of timed windows of real training steps, peak memory."""

import resource
import statistics
import time

import jax

from attention_jax.data import pipeline
from attention_jax.training import loop


def peak_rss_mb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_training(config, windows: int = 5, steps_per_window: int = 20, warmup_steps: int = 0) -> dict:
  """Times the training loop's own step (host batch from Grain, transfer, update) after compilation.

  Returns compile_s (first step, compilation included) and steps_per_s, the median over `windows` windows of
  `steps_per_window` steps, each window ended by waiting for the device. `warmup_steps` untimed steps after the
  first one let a length-bucketed pipeline compile its other buckets before the clock starts.
  """
  trainer = loop.build_trainer(config)
  state = trainer.par.put_replicated(trainer.initial_state())
  batches = pipeline.train_iterator(trainer.task.train_data)
  start = time.perf_counter()
  state, out = trainer.train_step(state, trainer.par.put_batch(next(batches)))
  jax.block_until_ready(out)
  compile_s = time.perf_counter() - start
  for _ in range(warmup_steps):
    state, out = trainer.train_step(state, trainer.par.put_batch(next(batches)))
  jax.block_until_ready(out)
  rates = []
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(steps_per_window):
      state, out = trainer.train_step(state, trainer.par.put_batch(next(batches)))
    jax.block_until_ready((state, out))
    rates.append(steps_per_window / (time.perf_counter() - start))
  return {"compile_s": round(compile_s, 3), "steps_per_s": statistics.median(rates),
          "devices": trainer.par.num_devices, "trainer": trainer, "state": state}
