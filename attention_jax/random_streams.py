"""Named random streams: every JAX key of a run comes from `key(seed, stream)` here, and nowhere else.

  params       the initial parameters
  train        the train state's root key: step t uses fold_in(root, t), example i of the global batch the i-th
               of split(that, global batch) (`training.state.per_example_keys`), so 1 and 8 devices draw alike
  eval         evaluation example i: fold_in(key, i), fixed by the seed whatever the batching or device count
  eval_games   Catch's evaluation game i: fold_in(key, i), the same games at every evaluation of a run

Inside a step, an example's key feeds several draws; each takes its own sub-stream `fold_in(example key, id)`
(`sub_key`), named in SUB_STREAMS (the canvas of translated/cluttered MNIST; glimpse and policy noise use the
example key itself, as they always have).

The streams reproduce the keys of the runs made before they had names (PRNGKey(seed + offset)), so every
recorded result stays reproducible; a new stream takes a new offset here. NumPy generators for data order and
fixed test sets are seeded where they are used, from [seed, a constant of their own].
"""

import jax

STREAMS = {"params": 0, "train": 1, "eval": 2, "eval_games": 7}
SUB_STREAMS = {"canvas": 0x63616e76}


def key(seed: int, stream: str):
  """The root key of `stream` for a run with this seed."""
  if stream not in STREAMS:
    raise ValueError(f"unknown random stream {stream!r}; the streams are {sorted(STREAMS)}")
  return jax.random.PRNGKey(seed + STREAMS[stream])


def indexed_keys(seed: int, stream: str, indices):
  """fold_in(key(seed, stream), i) for each i of `indices`: one fixed key per example or game."""
  root = key(seed, stream)
  return jax.vmap(lambda i: jax.random.fold_in(root, i))(indices)


def sub_key(example_key, name: str):
  """An example's key for one of its draws (SUB_STREAMS)."""
  return jax.random.fold_in(example_key, SUB_STREAMS[name])
