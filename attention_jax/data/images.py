"""Image datasets by name (`config.data.name`, the MNIST protocols of `attention_jax.data.mnist`), and the
translated and cluttered canvases of Mnih et al. (2014), Section 4.1.

  data.canvas = 0        the digits as they are (28x28)
  data.canvas = 60       each digit at a uniformly random position of a 60x60 black canvas ("translated MNIST")
  data.clutter = 4       plus 4 random `clutter_size` x `clutter_size` pieces of other digits of the batch at random
                         positions, drawn under the digit ("cluttered translated MNIST"; the paper uses 60x60 with 4
                         and 100x100 with 8 pieces of 8x8)
Canvases are made on the host, vectorised with NumPy, from a generator Grain seeds per step (training cases are
drawn afresh every epoch, as in the paper) or per test batch from the seed (a fixed test set).
"""

import functools

import numpy as np

from attention_jax.data import mnist, pipeline
from attention_jax.errors import UserError, check_choice

NAMES = mnist.PROTOCOLS


def load(data_config, split: str) -> dict:
  """{'image': uint8 [n, 28, 28, 1], 'label': int32 [n]} for one split (before any canvas)."""
  check_choice("data.name", data_config.name, NAMES)
  return mnist.load_mnist(data_config, split)


def _paste_max(canvas, pieces, rows, cols):
  """canvas[b, rows_b + i, cols_b + j] = max(canvas, pieces[b, i, j]) for every b at once."""
  b, ph, pw = pieces.shape[:3]
  bi = np.arange(b)[:, None, None]
  ri = rows[:, None, None] + np.arange(ph)[None, :, None]
  ci = cols[:, None, None] + np.arange(pw)[None, None, :]
  canvas[bi, ri, ci] = np.maximum(canvas[bi, ri, ci], pieces)


def place_on_canvas(images: np.ndarray, rng: np.random.Generator, canvas: int, clutter: int = 0,
                    clutter_size: int = 8) -> np.ndarray:
  """Puts each [h, w, c] digit at a random spot of a `canvas` x `canvas` canvas, over `clutter` random pieces
  of the batch's other digits. uint8 [b, h, w, c] -> uint8 [b, canvas, canvas, c]."""
  b, h, w, c = images.shape
  out = np.zeros((b, canvas, canvas, c), images.dtype)
  for _ in range(clutter):
    source = (np.arange(b) + rng.integers(1, max(b, 2), size=b)) % b  # another digit of the batch
    top, left = rng.integers(0, h - clutter_size + 1, size=(2, b))
    pieces = images[source[:, None, None], top[:, None, None] + np.arange(clutter_size)[None, :, None],
                    left[:, None, None] + np.arange(clutter_size)[None, None, :]]
    rows, cols = rng.integers(0, canvas - clutter_size + 1, size=(2, b))
    _paste_max(out, pieces, rows, cols)
  rows, cols = rng.integers(0, canvas - h + 1, size=(2, b))
  _paste_max(out, images, rows, cols)
  return out


def canvas_transform(data_config):
  """The batch transform for `data.canvas`/`data.clutter`, or None for plain digits."""
  canvas, clutter = int(data_config.get("canvas", 0)), int(data_config.get("clutter", 0))
  clutter_size = int(data_config.get("clutter_size", 8))
  if canvas == 0:
    if clutter:
      raise UserError(f"config field data.clutter={clutter} needs a canvas: set data.canvas (e.g. 60)")
    return None
  if canvas < 28:
    raise UserError(f"config field data.canvas={canvas} must be 0 (no canvas) or at least 28 (the digit's size)")
  if clutter < 0 or not 0 < clutter_size <= 28:
    raise UserError(f"config fields data.clutter={clutter} and data.clutter_size={clutter_size} must be >= 0 "
                    f"and in 1..28")

  def transform(batch, rng):
    return batch | {"image": place_on_canvas(batch["image"], rng, canvas, clutter, clutter_size)}
  return transform


def image_size(data_config) -> int:
  return int(data_config.get("canvas", 0)) or 28


def task_data(config):
  """What an image task needs from `config.data`: (train MapDataset, eval_batches(split), example images).

  The example images (one transformed batch of two) fix the model's input shape at init.
  """
  train = load(config.data, "train")
  transform = canvas_transform(config.data)
  train_data = pipeline.train_dataset(train, config.batch_size, config.seed, transform)

  @functools.cache
  def arrays(split):
    return train if split == "train" else load(config.data, split)

  def eval_batches(split):
    return pipeline.eval_batches(arrays(split), config.eval_batch_size, transform, seed=config.seed)

  example = {k: v[:2] for k, v in train.items()}
  if transform is not None:
    example = transform(example, np.random.default_rng(0))
  return train_data, eval_batches, example["image"]
