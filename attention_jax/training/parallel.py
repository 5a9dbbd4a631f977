"""Data parallelism across local devices, two ways (`config.parallel`):

* ``pmap``: the step is `jax.pmap`ped; state is replicated along a leading device axis, each device gets
  [batch/devices] examples, and gradients and metric sums are combined with `lax.psum`.
* ``sharding``: the step is `jax.jit`ted over a `Mesh` with one axis ``data`` (axis type Auto); the batch is
  sharded `P('data')`, the state replicated `P()`, and XLA inserts the all-reduce itself.

Both expose the same small interface, so the training loop does not care which one runs.

In a multi-process job (`attention_jax.distributed`), ``sharding`` spans the devices of every process: each
process passes only its share of a batch (`local_rows`) and `jax.make_array_from_process_local_data` assembles the
global array; replicated values are read back from this process's own copy.
"""

import functools

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

from attention_jax import distributed
from attention_jax.errors import UserError, check_choice

AXIS = "data"
KINDS = ("pmap", "sharding")


class DataParallel:
  """Places state and batches on devices and compiles steps for one of the two strategies."""

  def __init__(self, kind: str, num_devices: int = 0):
    self.kind = check_choice("parallel", kind, KINDS)
    self.multi_process = jax.process_count() > 1
    if self.multi_process:
      if kind != "sharding" or num_devices:
        raise UserError(f"a job of {jax.process_count()} processes runs with config fields parallel='sharding' "
                        f"and num_devices=0 (all devices of all processes); got parallel={kind!r}, "
                        f"num_devices={num_devices}")
      available = jax.devices()
    else:
      available = jax.local_devices()
    if num_devices < 0 or num_devices > len(available):
      raise UserError(f"config field num_devices={num_devices} is out of range; this machine has "
                      f"{len(available)} device(s) (0 uses all)")
    self.devices = available[:num_devices] if num_devices else available
    self.num_devices = len(self.devices)
    self.mesh = Mesh(np.array(self.devices), (AXIS,), axis_types=(AxisType.Auto,))
    self._replicated = NamedSharding(self.mesh, P())
    self._sharded = NamedSharding(self.mesh, P(AXIS))  # under pmap: the leading device axis

  @property
  def axis_name(self):
    """The collective axis inside a pmapped step (None under jit, where XLA handles collectives)."""
    return AXIS if self.kind == "pmap" else None

  def check_batch_size(self, field: str, batch_size: int) -> int:
    if batch_size <= 0 or batch_size % self.num_devices:
      raise UserError(f"config field {field}={batch_size} must be a positive multiple of the device count "
                      f"({self.num_devices}, parallel={self.kind}); try {max(1, batch_size // self.num_devices) * self.num_devices}")
    return batch_size // self.num_devices

  # Placement -------------------------------------------------------------------------------------------------
  def put_replicated(self, tree):
    if self.kind == "pmap":  # one copy per device along a leading axis
      return jax.device_put(jax.tree.map(lambda x: np.stack([np.asarray(x)] * self.num_devices), tree),
                            self._sharded)
    return jax.device_put(tree, self._replicated)

  def local_rows(self, batch):
    """This process's share of a global batch (the whole batch in a one-process run)."""
    if not self.multi_process:
      return batch
    rows = distributed.process_rows(len(next(iter(batch.values()))))
    return {k: v[rows] for k, v in batch.items()}

  def put_batch(self, batch):
    """Places this process's rows of a batch (all rows in a one-process run), sharded over the devices."""
    if self.kind == "pmap":  # [batch, ...] -> [devices, batch/devices, ...]
      n = self.num_devices
      batch = jax.tree.map(lambda x: np.asarray(x).reshape(n, -1, *np.shape(x)[1:]), batch)
    if self.multi_process:
      return jax.tree.map(lambda x: jax.make_array_from_process_local_data(self._sharded, np.asarray(x)), batch)
    return jax.device_put(batch, self._sharded)

  def get_replicated(self, tree):
    """One host copy of replicated device values (for checkpoints and logs), in one transfer."""
    if self.multi_process:  # the global array spans other processes' devices: read this process's copy
      tree = jax.tree.map(lambda x: np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) else x, tree)
    else:
      tree = jax.device_get(tree)
    if self.kind == "pmap":  # every device holds a copy along the leading axis
      tree = jax.tree.map(lambda x: x[0], tree)
    return tree

  def create_replicated(self, make):
    """Runs `make()` (a pure function returning a pytree) compiled, its outputs created directly on the devices
    with the layout the steps expect (replicated; under pmap one copy per device along a leading axis), never
    built on the host and copied."""
    if self.kind == "pmap":
      n = self.num_devices
      stacked = lambda: jax.tree.map(lambda x: jax.numpy.broadcast_to(x, (n,) + x.shape), make())
      return jax.jit(stacked, out_shardings=self._sharded)()
    return jax.jit(make, out_shardings=self._replicated)()

  # Compilation -----------------------------------------------------------------------------------------------
  def compile_step(self, fn, donate_state: bool = True):
    """Compiles `fn(replicated, batch, resident) -> outputs`; every output must already be combined across
    devices. `resident` (arrays placed once with `put_replicated`) is never donated.

    The train step is `fn(state, batch, resident) -> (state, metrics)` (state donated); the eval step
    `fn(params, batch, resident) -> metric sums`.
    """
    donate = (0,) if donate_state else ()
    if self.kind == "pmap":
      return jax.pmap(fn, axis_name=AXIS, devices=self.devices, donate_argnums=donate)
    return jax.jit(fn, in_shardings=(self._replicated, self._sharded, self._replicated),
                   out_shardings=self._replicated, donate_argnums=donate)


def combine(tree, axis_name, how: str = "sum"):
  """psum/pmean over the device axis under pmap; the identity under jit (values are already global)."""
  if axis_name is None:
    return tree
  op = jax.lax.psum if how == "sum" else jax.lax.pmean
  return jax.tree.map(functools.partial(op, axis_name=axis_name), tree)
