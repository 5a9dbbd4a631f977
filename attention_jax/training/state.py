"""The train state: everything a step reads and writes, and everything an exact resume needs."""

from typing import Any

import flax
import jax
import jax.numpy as jnp

from attention_jax import random_streams


@flax.struct.dataclass
class TrainState:
  step: jnp.ndarray  # int32 [], the number of updates applied
  params: Any
  opt_state: Any
  key: jnp.ndarray  # uint32 [2], the run's root key; step t uses fold_in(key, t)


def create(params, tx, seed: int) -> TrainState:
  return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                    key=random_streams.key(seed, "train"))


def per_example_keys(step_key, global_batch: int, axis_name: str | None, num_shards: int):
  """One key per example of the global batch, then this device's slice.

  Keys depend on the example's position in the global batch only, so 1 device and 8 devices draw the same
  random numbers for the same example.
  """
  keys = jax.random.split(step_key, global_batch)  # [global_batch, 2]
  if axis_name is None:
    return keys
  local = global_batch // num_shards
  return jax.lax.dynamic_slice_in_dim(keys, jax.lax.axis_index(axis_name) * local, local)


def eval_example_keys(seed: int, indices):
  """Example i of an evaluation split gets fold_in(key, i): fixed by the seed, whatever the batching or devices."""
  return random_streams.indexed_keys(seed, "eval", indices)
