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

  Batches come as in the training loop: from Grain, placed on the devices by `pipeline.DevicePrefetch`'s
  background thread. Returns compile_s (first step, compilation included); steps_per_s, the median over `windows`
  windows of `steps_per_window` steps, each window ended by waiting for the device; and input_fraction, the share
  of the timed windows' wall time the loop spent waiting for its next batch on the devices (steps are dispatched
  asynchronously, so the rest is the device's); and preplaced_steps_per_s, the same windows run again on batches
  placed beforehand (the step without its input pipeline). `warmup_steps`
  untimed steps after the first one let a length-bucketed pipeline compile its other buckets before the clock
  starts.
  """
  trainer = loop.build_trainer(config)
  state = trainer.par.put_replicated(trainer.initial_state())
  batches = pipeline.DevicePrefetch(pipeline.train_iterator(trainer.task.train_data), trainer.par.put_batch)
  start = time.perf_counter()
  state, out = trainer.train_step(state, next(batches))
  jax.block_until_ready(out)
  compile_s = time.perf_counter() - start
  for _ in range(warmup_steps):
    state, out = trainer.train_step(state, next(batches))
  jax.block_until_ready(out)
  rates, input_s, total_s = [], 0.0, 0.0
  for _ in range(windows):
    start = time.perf_counter()
    for _ in range(steps_per_window):
      before_input = time.perf_counter()
      batch = next(batches)
      input_s += time.perf_counter() - before_input
      state, out = trainer.train_step(state, batch)
    jax.block_until_ready((state, out))
    elapsed = time.perf_counter() - start
    total_s += elapsed
    rates.append(steps_per_window / elapsed)
  # The same steps with their batches placed on the devices beforehand: what the step alone sustains, so a
  # difference from steps_per_s is what the input pipeline costs (on a CPU the host thread shares the cores).
  placed = [next(batches) for _ in range(steps_per_window)]
  batches.close()
  jax.block_until_ready(placed)
  placed_rates = []
  for _ in range(windows):
    start = time.perf_counter()
    for batch in placed:
      state, out = trainer.train_step(state, batch)
    jax.block_until_ready((state, out))
    placed_rates.append(steps_per_window / (time.perf_counter() - start))
  return {"compile_s": round(compile_s, 3), "steps_per_s": statistics.median(rates),
          "input_fraction": input_s / total_s, "preplaced_steps_per_s": statistics.median(placed_rates),
          "devices": trainer.par.num_devices, "trainer": trainer, "state": state}
