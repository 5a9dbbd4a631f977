"""Multi-host data parallelism: joining a `jax.distributed` job and this process's share of every batch.

In a job of P processes (hosts), each with its local devices, the mesh spans all devices of all processes and a
global batch of B examples is split into P contiguous shares of B/P rows: process p reads, transforms and feeds
only rows [p B/P, (p+1) B/P) (`process_rows`), and `jax.make_array_from_process_local_data` assembles the
global array. Everything else is the one-process program: every process runs the same compiled step, Orbax saves
collectively (each process calls save; the primary writes the replicated arrays), and only the primary process
(index 0) writes config.json, metrics and plots (`is_primary`).
"""

import itertools

import jax
from absl import logging

from attention_jax.errors import UserError

_barriers = itertools.count()


def initialize(coordinator_address: str = "", num_processes: int = 0, process_id: int = -1,
               auto: bool = False) -> None:
  """Joins a multi-process job; call before any JAX computation.

  With `auto`, `jax.distributed.initialize()` detects the job from its environment (Cloud TPU pods, SLURM, ...);
  otherwise all three of coordinator address, process count and process id describe it (e.g. 2 processes on
  localhost, for tests).
  """
  given = [bool(coordinator_address), num_processes > 0, process_id >= 0]
  if auto:
    if any(given):
      raise UserError("--distributed=auto detects the job itself; drop --coordinator_address, --num_processes "
                      "and --process_id, or pass them without --distributed=auto")
    jax.distributed.initialize()
  else:
    if not all(given):
      raise UserError("--coordinator_address (HOST:PORT), --num_processes (>= 1) and --process_id (>= 0) go "
                      f"together: set all three (got {coordinator_address!r}, {num_processes}, {process_id}), "
                      "or pass --distributed=auto")
    if not process_id < num_processes:
      raise UserError(f"--process_id={process_id} must lie in [0, --num_processes={num_processes})")
    jax.distributed.initialize(coordinator_address, num_processes=num_processes, process_id=process_id)
  logging.info("process %d of %d; %d local and %d global devices", jax.process_index(), jax.process_count(),
               jax.local_device_count(), jax.device_count())


def is_primary() -> bool:
  """True on the process that writes files other than checkpoints (index 0; the only one without a job)."""
  return jax.process_index() == 0


def process_rows(global_rows: int) -> slice:
  """This process's contiguous share of a global batch of `global_rows` rows."""
  count, index = jax.process_count(), jax.process_index()
  if global_rows % count:
    raise UserError(f"a batch of {global_rows} examples does not split evenly over {count} processes")
  share = global_rows // count
  return slice(index * share, (index + 1) * share)


def primary_first(fn, *args, timeout_s: int = 7200):
  """Calls `fn(*args)` on process 0 before the others (e.g. preparing data into a folder they share, so they only
  read it); without a job, just calls it.

  The wait is a barrier of the coordination service (Orbax's), not a device collective: the first collective
  over Gloo gives up when processes arrive more than 30 s apart, and preparing a dataset takes longer.
  """
  if jax.process_count() == 1:
    return fn(*args)
  from orbax.checkpoint import multihost  # pylint: disable=g-import-not-at-top
  barrier, key = multihost.get_barrier_sync_fn(), f"attention_jax_primary_first_{next(_barriers)}"  # keys are unique
  if not is_primary():
    barrier(key=key, timeout_ms=timeout_s * 1000)
  result = fn(*args)
  if is_primary():
    barrier(key=key, timeout_ms=timeout_s * 1000)
  return result
