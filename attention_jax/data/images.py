"""Image datasets by name (`config.data.name`, the MNIST protocols of `attention_jax.data.mnist`), and the
translated and cluttered canvases of Mnih et al. (2014), Section 4.1.

  data.canvas = 0        the digits as they are (28x28)
  data.canvas = 60       each digit at a uniformly random position of a 60x60 black canvas ("translated MNIST")
  data.clutter = 4       plus 4 random `clutter_size` x `clutter_size` pieces of other digits at random positions,
                         drawn under the digit ("cluttered translated MNIST"; the paper uses 60x60 with 4 and
                         100x100 with 8 pieces of 8x8)

Canvases are drawn on the device, inside the jitted step (`render`), with the example's own key: where the digit
lands and where each clutter piece lands, overlaps maxed. The split's whole digit set lives on the device
(`ImageData.resident`, placed once); a batch sends only each example's `index` and, per clutter piece, which digit it
is cut from and where (`clutter`, int32 [b, clutter, 3]: source, top, left; 48 bytes an example for 4 pieces, where
the digit and its pieces as pixels would be 1,040). The host picks the pieces:
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


SPLITS = ("train", "valid", "test")
VALIDATION_SEED = 0x76616c69  # fixes which training digits are held out; not the run's seed, so every run agrees


def validation_count(data_config, n: int) -> int:
  """How many of the n training digits `data.validation_fraction` holds out as the 'valid' split (0: none; 1/6
  holds out 10,000 of the full protocol's 60,000, the paper's 50,000 / 10,000)."""
  fraction = data_config.get("validation_fraction", 0.0)
  if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction < 1:
    raise UserError(f"config field data.validation_fraction={fraction!r} must be a number in [0, 1) (the share of "
                    f"the training digits held out as the 'valid' split; 1/6 for the paper's 50,000 / 10,000)")
  count = int(round(n * fraction))
  if fraction and not 0 < count < n:
    raise UserError(f"config field data.validation_fraction={fraction!r} holds out {count} of {n} training "
                    f"digits; expected at least one in each split")
  return count


def hold_out(arrays: dict, count: int, split: str) -> dict:
  """The 'train' or 'valid' part of a training set: `count` digits picked by a fixed permutation (the same for
  every run and seed, and class-balanced in expectation even when the file is sorted by class) are 'valid', the
  rest, in file order, 'train'."""
  n = len(arrays["label"])
  held = np.zeros(n, bool)
  held[np.random.default_rng(VALIDATION_SEED).permutation(n)[:count]] = True
  keep = held if split == "valid" else ~held
  return {k: v[keep] for k, v in arrays.items()}


def load(data_config, split: str) -> dict:
  """{'image': uint8 [n, 28, 28, 1], 'label': int32 [n]} for one split (before any canvas): 'train', 'valid' (the
  training digits `data.validation_fraction` holds out; `hold_out`) or 'test'."""
  check_choice("data.name", data_config.name, NAMES)
  if split not in SPLITS:
    raise UserError(f"split {split!r} is not known; expected one of {', '.join(SPLITS)}")
  if split == "test":
    return mnist.load_mnist(data_config, "test")
  train = mnist.load_mnist(data_config, "train")
  count = validation_count(data_config, len(train["label"]))
  if split == "valid" and not count:
    raise UserError("split 'valid' needs held-out digits: set config field data.validation_fraction (e.g. 1/6)")
  return hold_out(train, count, split) if count else train


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


def paste_max(canvas, piece, row, col):
  """canvas [size, size, c] with `piece` [h, w, c] maxed into it at (row, col): only the piece's region is read
  and written."""
  region = jax.lax.dynamic_slice(canvas, (row, col, 0), piece.shape)
  return jax.lax.dynamic_update_slice(canvas, jnp.maximum(region, piece), (row, col, 0))


def render_one(canvas: Canvas, digit, pieces, key):
  """One canvas: digit uint8 [h, w, c], pieces uint8 [clutter, s, s, c], key -> uint8 [size, size, c].

  Positions are uniform: the digit's top-left corner over the (size - h + 1)^2 spots that keep it whole, each
  piece's over the canvas's (size - s + 1)^2. Overlaps take the maximum, so pieces lie under the digit's strokes,
  never over them (and the order of pasting does not matter).
  """
  h, w = digit.shape[:2]
  pieces_key, digit_key = jax.random.split(key)
  out = jnp.zeros((canvas.size, canvas.size, digit.shape[-1]), digit.dtype)
  if canvas.clutter:
    spots = jax.random.randint(pieces_key, (canvas.clutter, 2), 0, canvas.size - canvas.clutter_size + 1)
    out = jax.lax.fori_loop(0, canvas.clutter, lambda k, c: paste_max(c, pieces[k], spots[k, 0], spots[k, 1]), out)
  row, col = jax.random.randint(digit_key, (2,), 0, canvas.size - jnp.array([h, w]) + 1)
  return paste_max(out, digit, row, col)


def draw_canvases(canvas: Canvas, digits, pieces, keys):
  """Canvases for digits uint8 [b, h, w, c] over their pieces [b, clutter, s, s, c] (clutter may be 0): uint8
  [b, size, size, c]. keys [b]: the examples' keys (the canvas draws from its own stream of each)."""
  keys = jax.vmap(lambda k: random_streams.sub_key(k, "canvas"))(keys)
  return jax.vmap(functools.partial(render_one, canvas))(digits, pieces, keys)


def cut_pieces(digits, cuts, size: int):
  """pieces[i, k] = digits[source] cut at (top, left), size x size, for cuts[i, k] = (source, top, left):
  digits [n, h, w, c], cuts int32 [b, clutter, 3] -> [b, clutter, size, size, c] (one gather)."""
  c = digits.shape[-1]
  cut = lambda s: jax.lax.dynamic_slice(digits, (s[0], s[1], s[2], 0), (1, size, size, c))[0]
  return jax.vmap(jax.vmap(cut))(cuts)


def render(canvas: Canvas, batch: dict, keys):
  """The model's input images for a batch (inside the step): uint8 [b, size, size, c], or the digits as they are
  when there is no canvas.

  batch: `digits` [n, h, w, c] (the split's whole digit set, resident on the device), `index` int32 [b] (padding
  rows may point past the end: they read the last digit) and, with clutter, `clutter` int32 [b, clutter, 3].
  keys [b]: the examples' keys.
  """
  digits = jnp.take(batch["digits"], batch["index"], axis=0, mode="clip")
  if not canvas.size:
    return digits
  b, _, _, c = digits.shape
  if canvas.clutter:
    pieces = cut_pieces(batch["digits"], batch["clutter"], canvas.clutter_size)
  else:
    pieces = jnp.zeros((b, 0, 1, 1, c), digits.dtype)
  return draw_canvases(canvas, digits, pieces, keys)


def _draw_cuts(rng: np.random.Generator, shape, n: int, digit_size: int, piece: int):
  """Source offsets in 1..n-1 (never the example itself) and uniform top-left corners of the cuts."""
  offsets = rng.integers(1, max(n, 2), size=shape)
  tops, lefts = rng.integers(0, digit_size - piece + 1, size=(2,) + shape)
  return offsets, tops, lefts


def _cuts(index, offsets, tops, lefts, n: int):
  """int32 [b, clutter, 3]: (source digit, top, left) of each piece; the source is (index + offset) mod n."""
  return np.stack([(index[:, None] + offsets) % n, tops, lefts], axis=-1).astype(np.int32)


def _train_clutter(n: int, digit_size: int, canvas: Canvas):
  """Grain transform: adds `clutter`, the cuts of each example's pieces, from digits drawn from the whole split."""
  def transform(batch, rng):
    offsets, tops, lefts = _draw_cuts(rng, (len(batch["index"]), canvas.clutter), n, digit_size,
                                      canvas.clutter_size)
    return batch | {"clutter": _cuts(batch["index"], offsets, tops, lefts, n)}
  return transform


def _test_clutter(n: int, digit_size: int, canvas: Canvas, seed: int):
  """Adds `clutter` from tables fixed by the seed: piece k of example i is cut from digit (i + offset_k[i]) mod n
  at (top_k[i], left_k[i])."""
  rng = np.random.default_rng([seed, 0x636c7574])
  offsets, tops, lefts = _draw_cuts(rng, (n, canvas.clutter), n, digit_size, canvas.clutter_size)

  def transform(batch, rng):
    del rng
    i = batch["index"]
    return batch | {"clutter": _cuts(i, offsets[i], tops[i], lefts[i], n)}
  return transform


@dataclasses.dataclass
class ImageData:
  """What an image task needs from `config.data`.

  Attributes:
    train: Grain MapDataset of training batches ({'index', 'label'[, 'clutter']}: no pixels).
    eval_batches: split -> fixed-size batches with a 'mask'.
    resident: split -> {'digits': uint8 [n, 28, 28, 1]}, the arrays the loop places on the devices once.
    example: uint8 [2, size, size, c], zeros: fixes the model's input shape at init.
    canvas: the canvas every batch is drawn on (`render`).
  """
  train: object
  eval_batches: object
  resident: object
  example: np.ndarray
  canvas: Canvas


def task_data(config) -> ImageData:
  """The image data `config.data` names; batches hold indices (and clutter cuts), the pixels stay resident."""
  canvas = Canvas.from_config(config.data)
  train = load(config.data, "train")
  digit_size = train["image"].shape[1]
  indexed = lambda arrays: {"label": arrays["label"], "index": np.arange(len(arrays["label"]), dtype=np.int32)}
  transform = _train_clutter(len(train["label"]), digit_size, canvas) if canvas.clutter else None
  train_data = pipeline.train_dataset(indexed(train), config.batch_size, config.seed, transform)

  @functools.cache
  def arrays(split):
    return train if split == "train" else load(config.data, split)

  def eval_batches(split):
    data = arrays(split)
    n = len(data["label"])
    transform = _test_clutter(n, digit_size, canvas, config.seed) if canvas.clutter else None
    return pipeline.eval_batches(indexed(data), config.eval_batch_size, transform, seed=config.seed)

  size = canvas.image_size(digit_size)
  example = np.zeros((2, size, size, train["image"].shape[-1]), np.uint8)
  return ImageData(train_data, eval_batches, lambda split: {"digits": arrays(split)["image"]}, example, canvas)
