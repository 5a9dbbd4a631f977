"""Image datasets by name (`config.data.name`, the MNIST protocols of `attention_jax.data.mnist`), and the
translated and cluttered canvases of Mnih et al. (2014), Section 4.1.

  data.canvas = 0        the digits as they are (28x28)
  data.canvas = 60       each digit at a uniformly random position of a 60x60 black canvas ("translated MNIST")
  data.clutter = 4       plus 4 random `clutter_size` x `clutter_size` pieces of other digits at random positions,
                         drawn under the digit ("cluttered translated MNIST"; the paper uses 60x60 with 4 and
                         100x100 with 8 pieces of 8x8)

Canvases are drawn on the device, inside the jitted step (`render`), with the example's own key: where the digit
lands and where each clutter piece lands, overlaps maxed. The host only picks the pieces: which other digit each is
cut from and where (`clutter` in each batch, uint8 [b, clutter, clutter_size, clutter_size, 1]; 256 bytes an
example for 4 pieces of 8x8, where the source digits themselves would be 3,136 and dominate the transfer):
  training  sources and cuts drawn afresh at every step (Grain seeds the generator per step), each source drawn
            from the whole training split, never the example itself;
  test      piece k of example i is cut from digit (i + offset_k[i]) mod n at a spot, both tables fixed by the
            seed,
so a test canvas is a pure function of (seed, example index): the same whatever `eval_batch_size`, the device count
or the order of the split (the offline test split is sorted by class; pieces from the batch's neighbours would all
be of the target's own class).
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from attention_jax import random_streams
from attention_jax.data import mnist, pipeline
from attention_jax.errors import UserError, check_choice

NAMES = mnist.PROTOCOLS


def load(data_config, split: str) -> dict:
  """{'image': uint8 [n, 28, 28, 1], 'label': int32 [n]} for one split (before any canvas)."""
  check_choice("data.name", data_config.name, NAMES)
  return mnist.load_mnist(data_config, split)


@dataclasses.dataclass(frozen=True)
class Canvas:
  """Attributes:
    size: the canvas is size x size (0: no canvas, the digits as they are).
    clutter: pieces of other digits per canvas.
    clutter_size: each piece is clutter_size x clutter_size, cut from a random spot of its digit.
  """
  size: int = 0
  clutter: int = 0
  clutter_size: int = 8

  @classmethod
  def from_config(cls, data_config) -> "Canvas":
    size, clutter = int(data_config.get("canvas", 0)), int(data_config.get("clutter", 0))
    clutter_size = int(data_config.get("clutter_size", 8))
    if size == 0 and clutter:
      raise UserError(f"config field data.clutter={clutter} needs a canvas: set data.canvas (e.g. 60)")
    if 0 < size < 28 or size < 0:
      raise UserError(f"config field data.canvas={size} must be 0 (no canvas) or at least 28 (the digit's size)")
    if clutter < 0 or not 0 < clutter_size <= 28:
      raise UserError(f"config fields data.clutter={clutter} and data.clutter_size={clutter_size} must be >= 0 "
                      f"and in 1..28")
    return cls(size, clutter, clutter_size)

  def image_size(self, digit_size: int = 28) -> int:
    return self.size or digit_size


def _paste(piece, row, col, size: int):
  """A zero [size, size, c] canvas with `piece` [h, w, c] at (row, col)."""
  canvas = jnp.zeros((size, size, piece.shape[-1]), piece.dtype)
  return jax.lax.dynamic_update_slice(canvas, piece, (row, col, 0))


def render_one(canvas: Canvas, digit, pieces, key):
  """One canvas: digit uint8 [h, w, c], pieces uint8 [clutter, s, s, c], key -> uint8 [size, size, c].

  Positions are uniform: the digit's top-left corner over the (size - h + 1)^2 spots that keep it whole, each
  piece's over the canvas's (size - s + 1)^2. Overlaps take the maximum, so pieces lie under the digit's strokes,
  never over them.
  """
  h, w = digit.shape[:2]
  pieces_key, digit_key = jax.random.split(key)
  out = jnp.zeros((canvas.size, canvas.size, digit.shape[-1]), digit.dtype)
  if canvas.clutter:
    spots = jax.random.randint(pieces_key, (canvas.clutter, 2), 0, canvas.size - canvas.clutter_size + 1)
    out = jnp.max(jax.vmap(lambda p, rc: _paste(p, rc[0], rc[1], canvas.size))(pieces, spots), axis=0)
  row, col = jax.random.randint(digit_key, (2,), 0, canvas.size - jnp.array([h, w]) + 1)
  return jnp.maximum(out, _paste(digit, row, col, canvas.size))


def render(canvas: Canvas, batch: dict, keys):
  """The model's input images for a batch: its digits placed on canvases over their clutter pieces (uint8
  [b, size, size, c]), or the digits as they are when there is no canvas. keys [b]: the examples' keys (the canvas
  draws from its own stream of each)."""
  if not canvas.size:
    return batch["image"]
  keys = jax.vmap(lambda k: random_streams.sub_key(k, "canvas"))(keys)
  b, _, _, c = batch["image"].shape
  pieces = batch["clutter"] if canvas.clutter else jnp.zeros((b, 0, 1, 1, c), batch["image"].dtype)
  return jax.vmap(functools.partial(render_one, canvas))(batch["image"], pieces, keys)


def cut_pieces(digits, sources, tops, lefts, size: int):
  """pieces[i, k] = digits[sources[i, k]] cut at (tops[i, k], lefts[i, k]), size x size: [b, k, size, size, c].

  One `np.take` of flat pixel indices (a fancy index over four axes costs three times as much on the host)."""
  n, h, w, c = digits.shape
  span = np.arange(size)
  rows = (sources[..., None] * h + tops[..., None] + span) * w  # [b, k, size]: flat index of each row's start
  flat = (rows[..., :, None] + lefts[..., None, None] + span[None, :])[..., None] * c + np.arange(c)
  return np.take(digits.reshape(-1), flat)  # [b, k, size, size, c]


def _draw_cuts(rng: np.random.Generator, shape, n: int, digit_size: int, piece: int):
  """Source offsets in 1..n-1 (never the example itself) and uniform top-left corners of the cuts."""
  offsets = rng.integers(1, max(n, 2), size=shape)
  tops, lefts = rng.integers(0, digit_size - piece + 1, size=(2,) + shape)
  return offsets, tops, lefts


def _train_clutter(arrays: dict, canvas: Canvas):
  """Grain transform: adds `clutter` pieces per example, cut from digits drawn from the whole split (the example's
  `index` is read here and not sent to the device)."""
  digits = arrays["image"]

  def transform(batch, rng):
    batch = dict(batch)
    index = batch.pop("index")
    offsets, tops, lefts = _draw_cuts(rng, (len(index), canvas.clutter), len(digits), digits.shape[1],
                                      canvas.clutter_size)
    sources = (index[:, None] + offsets) % len(digits)
    return batch | {"clutter": cut_pieces(digits, sources, tops, lefts, canvas.clutter_size)}
  return transform


def _test_clutter(arrays: dict, canvas: Canvas, seed: int):
  """Adds `clutter` pieces per example from tables fixed by the seed: piece k of example i is cut from digit
  (i + offset_k[i]) mod n at (top_k[i], left_k[i])."""
  digits = arrays["image"]
  rng = np.random.default_rng([seed, 0x636c7574])
  offsets, tops, lefts = _draw_cuts(rng, (len(digits), canvas.clutter), len(digits), digits.shape[1],
                                    canvas.clutter_size)

  def transform(batch, rng):
    del rng
    i = batch["index"]
    sources = (i[:, None] + offsets[i]) % len(digits)
    return batch | {"clutter": cut_pieces(digits, sources, tops[i], lefts[i], canvas.clutter_size)}
  return transform


def task_data(config):
  """What an image task needs from `config.data`: (train MapDataset, eval_batches(split), example images, canvas).

  Batches hold the raw digits (and their clutter pieces); `render(canvas, batch, keys)` makes the model's input
  inside the step. The example images (a batch of two rendered canvases) fix the model's input shape at init.
  """
  canvas = Canvas.from_config(config.data)
  train = load(config.data, "train")
  indexed = lambda arrays: arrays | {"index": np.arange(len(arrays["image"]), dtype=np.int32)}
  if canvas.clutter:
    train_data = pipeline.train_dataset(indexed(train), config.batch_size, config.seed,
                                        _train_clutter(train, canvas))
  else:
    train_data = pipeline.train_dataset(train, config.batch_size, config.seed)

  @functools.cache
  def arrays(split):
    return train if split == "train" else load(config.data, split)

  def eval_batches(split):
    data = arrays(split)
    transform = _test_clutter(data, canvas, config.seed) if canvas.clutter else None
    return pipeline.eval_batches(indexed(data), config.eval_batch_size, transform, seed=config.seed)

  size = canvas.image_size(train["image"].shape[1])
  example = np.zeros((2, size, size, train["image"].shape[-1]), np.uint8)
  return train_data, eval_batches, example, canvas
