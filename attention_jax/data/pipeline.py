"""Batching with Grain over in-memory arrays read from TFDS data sources.

Training batches come from a Grain `MapDataset`: indices shuffled afresh every epoch (seeded), cut into fixed-size
batches (the remainder of an epoch is dropped so shapes never change), then gathered from the arrays. Its iterator
state (a small JSON dict) goes into every checkpoint, so a resumed run reads exactly the batches it would have read.
Evaluation batches are padded to a fixed size and carry a `mask` (1 for real examples, 0 for padding).
"""

from typing import Callable, Iterator

import grain
import numpy as np

from attention_jax.errors import UserError

Batch = dict


def _gather(arrays: dict, transform: Callable | None):
  def gather(indices: np.ndarray) -> Batch:
    batch = {k: v[indices] for k, v in arrays.items()}
    return transform(batch, indices) if transform is not None else batch
  return gather


def num_examples(arrays: dict) -> int:
  sizes = {k: len(v) for k, v in arrays.items()}
  if len(set(sizes.values())) != 1:
    raise ValueError(f"arrays disagree in length: {sizes}")
  return next(iter(sizes.values()))


def train_dataset(arrays: dict, batch_size: int, seed: int,
                  transform: Callable[[Batch, np.ndarray], Batch] | None = None) -> grain.MapDataset:
  """An endless `MapDataset` of training batches; element `i` is the batch of step `i`.

  `transform(batch, indices)` may add fields computed on the host (e.g. a translated canvas); it must be a pure
  function of its inputs so that step `i` always sees the same batch.
  """
  n = num_examples(arrays)
  if batch_size > n:
    raise UserError(f"config field batch_size={batch_size} is larger than the training set ({n} examples)")
  return (grain.MapDataset.range(n).seed(seed).shuffle()
          .batch(batch_size, drop_remainder=True).repeat(None)
          .map(_gather(arrays, transform)))


def train_iterator(dataset: grain.MapDataset, prefetch: int = 4):
  """A checkpointable iterator (`get_state`/`set_state`) that prepares batches on background threads."""
  options = grain.ReadOptions(num_threads=2, prefetch_buffer_size=prefetch)
  return iter(dataset.to_iter_dataset(options))


def eval_batches(arrays: dict, batch_size: int,
                 transform: Callable[[Batch, np.ndarray], Batch] | None = None) -> Iterator[Batch]:
  """Every example exactly once, in order, in batches of exactly `batch_size` (the last padded, `mask` 0)."""
  n = num_examples(arrays)
  gather = _gather(arrays, transform)
  for start in range(0, n, batch_size):
    indices = np.arange(start, start + batch_size)
    mask = (indices < n).astype(np.float32)
    batch = gather(np.minimum(indices, n - 1))
    batch["mask"] = mask
    yield batch
