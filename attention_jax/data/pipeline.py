"""Batching with Grain over in-memory arrays read from TFDS data sources.

Training batches come from a Grain `MapDataset`: indices shuffled afresh every epoch (seeded), cut into fixed-size
batches (the remainder of an epoch is dropped so shapes never change), then gathered from the arrays. Its iterator
state (a small JSON dict) goes into every checkpoint, so a resumed run reads exactly the batches it would have read.
Evaluation batches are padded to a fixed size and carry a `mask` (1 for real examples, 0 for padding).
In a multi-process job every process computes the same global batch of indices and gathers only its own share
of the rows (`distributed.process_rows`), so no process reads another's examples.
"""

import queue
import threading
from typing import Callable, Iterator

import grain
import numpy as np

from attention_jax import distributed
from attention_jax.errors import UserError

Batch = dict


Transform = Callable[[Batch, np.random.Generator], Batch]


def _gather(arrays: dict):
  def gather(indices: np.ndarray) -> Batch:
    return {k: v[indices] for k, v in arrays.items()}
  return gather


def num_examples(arrays: dict) -> int:
  sizes = {k: len(v) for k, v in arrays.items()}
  if len(set(sizes.values())) != 1:
    raise ValueError(f"arrays disagree in length: {sizes}")
  return next(iter(sizes.values()))


def _cached(cache: dict, epoch: int, make):
  """cache[epoch], made on first use; keeps the 3 newest epochs (a step reads its own epoch or the next)."""
  if epoch not in cache:
    if len(cache) > 2:
      cache.pop(min(cache))
    cache[epoch] = make()
  return cache[epoch]


class _EpochBatches:
  """Batch `step` -> the indices of that step: epoch e's permutation (seeded by (seed, e)) cut into batches.

  Whole batches of indices at once (NumPy), so the per-step host cost is a slice and a gather, not a Python loop
  over examples. The last `n mod batch_size` examples of each epoch's order are dropped, so shapes never change.
  """

  def __init__(self, n: int, batch_size: int, seed: int):
    self.n, self.batch_size, self.seed = n, batch_size, seed
    self.steps_per_epoch = n // batch_size
    self._cache = {}

  def permutation(self, epoch: int) -> np.ndarray:
    return _cached(self._cache, epoch, lambda: np.random.default_rng([self.seed, epoch]).permutation(self.n))

  def __call__(self, step: int) -> np.ndarray:
    epoch, i = divmod(int(step), self.steps_per_epoch)
    return self.permutation(epoch)[i * self.batch_size:(i + 1) * self.batch_size]


def train_dataset(arrays: dict, batch_size: int, seed: int, transform: Transform | None = None) -> grain.MapDataset:
  """An endless `MapDataset` of training batches; element `i` is the batch of step `i`.

  Every epoch visits each example once, in a fresh order. `transform(batch, rng)` may rewrite a batch on the host
  with a NumPy generator that Grain seeds from the dataset seed and the step (e.g. a digit placed at a random spot
  of a larger canvas: drawn afresh every epoch, and the same again when step `i` is read again after a resume).
  """
  n = num_examples(arrays)
  if batch_size > n:
    raise UserError(f"config field batch_size={batch_size} is larger than the training set ({n} examples)")
  rows = distributed.process_rows(batch_size)
  dataset = (grain.MapDataset.range(2**62).seed(seed)
             .map(_EpochBatches(n, batch_size, seed))
             .map(lambda indices: indices[rows])
             .map(_gather(arrays)))
  return dataset.random_map(transform) if transform is not None else dataset


def train_iterator(dataset: grain.MapDataset, num_threads: int = 0):
  """A checkpointable iterator (`get_state`/`set_state`) over the batches.

  With the default `num_threads=0` each batch is made in the thread that asks for it: the loop reads through
  `DevicePrefetch`, whose one background thread already runs ahead of the device, and Grain's own reader threads
  on top of it only compete with the step for the cores and the GIL (on 2 CPU cores they doubled the time the loop
  waited for its next cluttered-canvas batch)."""
  options = grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=4 if num_threads else 0)
  return iter(dataset.to_iter_dataset(options))


class DevicePrefetch:
  """The next `size` batches, already placed on the devices by a background thread, so the training loop does not
  wait for the host to gather a batch or copy it over while the device computes the current step.

  `get_state()` is the Grain iterator's position after the batches handed out so far (not after those still
  queued), so a checkpoint resumes at exactly the next batch the loop would have read. Call `close()` when done.
  """

  def __init__(self, iterator, put: Callable, size: int = 8):
    self._iterator, self._put = iterator, put
    self._queue = queue.Queue(maxsize=size)
    self._state = iterator.get_state()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._fill, name="device-prefetch", daemon=True)
    self._thread.start()

  def _fill(self):
    try:
      while not self._stop.is_set():
        batch = next(self._iterator)
        item = (self._put(batch), self._iterator.get_state())
        while not self._stop.is_set():
          try:
            self._queue.put(item, timeout=0.1)
            break
          except queue.Full:
            continue
    except BaseException as e:  # pylint: disable=broad-except
      self._queue.put(e)  # raised in the loop's thread by __next__

  def __iter__(self):
    return self

  def __next__(self):
    item = self._queue.get()
    if isinstance(item, BaseException):
      raise item
    placed, self._state = item
    return placed

  def get_state(self):
    return self._state

  def close(self):
    self._stop.set()
    while self._thread.is_alive():
      try:
        self._queue.get(timeout=0.1)
      except queue.Empty:
        pass
    self._thread.join()


def eval_batches(arrays: dict, batch_size: int, transform: Transform | None = None,
                 seed: int = 0) -> Iterator[Batch]:
  """Every example exactly once, in order, in batches of exactly `batch_size` (the last padded, `mask` 0).

  Each batch carries `index` (the example's position, for per-example evaluation keys); a `transform` gets a
  generator seeded by (seed, first index), so the test set is fixed by the seed.
  """
  n = num_examples(arrays)
  gather = _gather(arrays)
  for start in range(0, n, batch_size):
    indices = np.arange(start, start + batch_size)
    batch = gather(np.minimum(indices, n - 1))
    if transform is not None:
      batch = transform(batch, np.random.default_rng([seed, start]))
    batch["mask"] = (indices < n).astype(np.float32)
    batch["index"] = indices.astype(np.int32)
    yield batch


class _BucketedEpochBatches:
  """Batch `step` -> (indices, bucket) with every batch drawn from one length bucket.

  Each epoch shuffles every bucket's examples (seeded by (seed, epoch)), cuts each into whole batches, and
  shuffles the order of all batches. Bucket sizes are fixed, so the number of batches per epoch is too.
  """

  def __init__(self, bucket_of_example: np.ndarray, batch_size: int, seed: int):
    self.batch_size, self.seed = batch_size, seed
    self.members = [np.flatnonzero(bucket_of_example == b) for b in range(int(bucket_of_example.max()) + 1)]
    self.steps_per_epoch = sum(len(m) // batch_size for m in self.members)
    self._cache = {}

  def epoch_batches(self, epoch: int):
    def make():
      rng = np.random.default_rng([self.seed, epoch])
      batches = []
      for bucket, members in enumerate(self.members):
        order = rng.permutation(members)
        for i in range(len(members) // self.batch_size):
          batches.append((order[i * self.batch_size:(i + 1) * self.batch_size], bucket))
      return [batches[i] for i in rng.permutation(len(batches))]
    return _cached(self._cache, epoch, make)

  def __call__(self, step: int):
    epoch, i = divmod(int(step), self.steps_per_epoch)
    return self.epoch_batches(epoch)[i]


def bucketed_train_dataset(arrays: dict, bucket_of_example: np.ndarray, bucket_lengths, batch_size: int,
                           seed: int, time_axis_keys) -> grain.MapDataset:
  """Like `train_dataset`, but each batch holds examples of one bucket, its `time_axis_keys` arrays cut to that
  bucket's padded length (so the step compiles once per bucket, never per batch)."""
  num_examples(arrays)
  sizes = [int(np.sum(bucket_of_example == b)) for b in range(len(bucket_lengths))]
  if sum(s // batch_size for s in sizes) == 0:
    raise UserError(f"config field batch_size={batch_size} is larger than every length bucket "
                    f"(bucket sizes {sizes}); lower it or use fewer data.buckets")
  gather = _gather(arrays)
  rows = distributed.process_rows(batch_size)

  def cut(item):
    indices, bucket = item
    batch = gather(indices[rows])
    length = bucket_lengths[bucket]
    return {k: (v[:, :length] if k in time_axis_keys else v) for k, v in batch.items()}

  return (grain.MapDataset.range(2**62).seed(seed)
          .map(_BucketedEpochBatches(bucket_of_example, batch_size, seed)).map(cut))
