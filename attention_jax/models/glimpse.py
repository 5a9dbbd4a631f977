"""The glimpse sensor rho(x, l) of Mnih et al. (2014), Section 3.1.

Locations are (row, column) pairs in [-1, 1]: (0, 0) is the image centre, (-1, -1) its top-left corner and
(1, 1) its bottom-right corner. Location l maps to the pixel coordinate c = (l + 1) / 2 * size, and the patch of
width w at l covers pixels [start, start + w) in each dimension with start = floor(c - w / 2 + 1/2). The k patches
have widths g_w, 2 g_w, 4 g_w, ...; patch i is pooled by 2^i down to g_w x g_w: averaged (`pooling="mean"`, the
default, right for digits) or maxed (`pooling="max"`, for sparse binary screens such as Catch's, where averaging
shrinks a 1-pixel ball to 1/16 at the third scale). Pixels outside the image read as zero. The result for one image
is [k, g_w, g_w, channels]. A patch never starts more than p = g_w 2^(k-1) pixels outside the image (the model
reads l in [-1, 1], where that never binds; farther locations are held at that distance).

How it is computed: every glimpse of an image reads the same sums, so they are computed once per image and step,
not per glimpse. `glimpse_tables` holds, for each scale i, the sum (or max) of every 2^i x 2^i block of pixels at
every offset, built by doubling (a 2f-block is four f-blocks: two shifted adds per scale, on the image with a
margin of 2^(k-1) - 1 zeros). A glimpse at scale i is then the g_w x g_w entries of that table at stride 2^i from
the patch's corner: two small gathers, and blocks wholly outside the image read zero. For the uint8 (and 0/1)
pixels this suite feeds, block sums are integers below 2^24, exact in float32 in any order, so the result is
bit-identical to cropping the zero-padded image and pooling it (`tests/glimpse_reference.py`, the definition as
code); for other floats it agrees to rounding.
"""

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class GlimpseSpec:
  """What a glimpse is and how the glimpse network reads it (`config.model.glimpse`), shared by every RAM.

  Attributes:
    size: the finest patch is size x size pixels, and every scale is pooled down to that.
    num_scales: k patches of widths size, 2 size, 4 size, ...
    what_hidden: units of h_g = relu(Linear(rho(x, l))), the "what" pathway.
    where_hidden: units of h_l = relu(Linear(l)), the "where" pathway.
    output: units of g = relu(Linear(h_g) + Linear(h_l)).
    pooling: how coarser scales are pooled, "mean" (digits) or "max" (sparse screens such as Catch's).
  """
  size: int = 8
  num_scales: int = 1
  what_hidden: int = 128
  where_hidden: int = 128
  output: int = 256
  pooling: str = "mean"


def check_spec(spec: GlimpseSpec, image_size: int) -> None:
  """UserErrors naming the config.model.glimpse field that cannot work on image_size x image_size inputs."""
  from attention_jax.errors import UserError, check_choice  # pylint: disable=g-import-not-at-top
  for field in ("size", "num_scales", "what_hidden", "where_hidden", "output"):
    if getattr(spec, field) < 1:
      raise UserError(f"config field model.glimpse.{field}={getattr(spec, field)} must be at least 1")
  if image_size > MAX_IMAGE_SIZE:
    raise UserError(f"the images are {image_size}x{image_size}; the glimpse sensor takes at most "
                    f"{MAX_IMAGE_SIZE}x{MAX_IMAGE_SIZE} (patch_starts' integer arithmetic)")
  if spec.size > image_size:
    raise UserError(f"config field model.glimpse.size={spec.size} is larger than the image ({image_size}x"
                    f"{image_size}); expected at most {image_size}")
  check_choice("model.glimpse.pooling", spec.pooling, POOLINGS)


LOCATION_BITS = 16  # patch_starts reads l at a resolution of 2^-16
MAX_IMAGE_SIZE = 4096  # (3 + 1) 2^16 size stays below 2^31


def patch_starts(loc: jnp.ndarray, image_hw, width: int) -> jnp.ndarray:
  """Top-left pixel (row, column) of the `width`-wide patch centred at `loc` (int32 [2]).

  floor(c - width/2 + 1/2) with c = (l + 1) / 2 * size, computed exactly in integers from l rounded down to a
  multiple of 2^-16 (and held in [-3, 3], beyond which every patch is held at the border anyway). In float32 the
  same formula depends on how XLA fuses it: a location within a few 1e-6 of a pixel boundary gave different pixels
  in different programs, so two programs that agree elsewhere drifted apart in training.
  """
  one = 2 ** LOCATION_BITS
  scaled = jnp.clip(jnp.asarray(loc, jnp.float32), -3.0, 3.0) * one  # exact: a power-of-two scale
  q = jnp.floor(scaled).astype(jnp.int32) + one  # (l + 1) 2^16
  size = jnp.asarray(image_hw, jnp.int32)
  # c - width/2 + 1/2 = ((l + 1) 2^16 size - 2^16 (width - 1)) / 2^17; below 2^31 for images up to 4096 pixels
  return jnp.floor_divide(q * size - one * (width - 1), 2 * one)


def glimpse_padding(glimpse_size: int, num_scales: int) -> int:
  """p: the farthest a patch may start outside the image (the width of the largest patch), in pixels."""
  return glimpse_size * 2 ** (num_scales - 1)


POOLINGS = ("mean", "max")


def glimpse_tables(images: jnp.ndarray, num_scales: int, pooling: str = "mean") -> tuple:
  """The block tables every glimpse of `images` reads, computed once per image.

  Args:
    images: [b, h, w, c] pixels (uint8 or float).
    num_scales: k.
    pooling: "mean" (tables of sums) or "max".
  Returns:
    k arrays, scale i: <float32>[b, h + 2F - 1 - 2^i, w + 2F - 1 - 2^i, c] with F = 2^(k-1), whose entry (y, x) is
    the sum (max) of the 2^i x 2^i block with top-left pixel (y - F + 1, x - F + 1), pixels outside the image zero.
  """
  if pooling not in POOLINGS:
    raise ValueError(f"pooling={pooling!r}: expected one of {POOLINGS}")
  combine = jnp.add if pooling == "mean" else jnp.maximum
  margin = 2 ** (num_scales - 1) - 1
  table = jnp.pad(images.astype(jnp.float32), ((0, 0), (margin, margin), (margin, margin), (0, 0)))
  tables = [table]
  for i in range(1, num_scales):  # block 2f from blocks f: (y, x), (y + f, x), (y, x + f), (y + f, x + f)
    f, n = 2 ** (i - 1), table.shape[1]
    rows = combine(table[:, :n - f], table[:, f:])
    table = combine(rows[:, :, :rows.shape[2] - f], rows[:, :, f:])
    tables.append(table)
  return tuple(tables)


def _read_blocks(table: jnp.ndarray, first, stride: int, count: int) -> jnp.ndarray:
  """table [H, W, c] at rows first[0] + stride * (0..count-1) and the same columns -> [count, count, c]; entries
  off the table (blocks wholly outside the image) are zero."""
  index = first[:, None] + stride * jnp.arange(count)[None, :]  # [2, count]
  size = jnp.asarray(table.shape[:2])[:, None]
  inside = (index >= 0) & (index < size)
  index = jnp.clip(index, 0, size - 1)
  blocks = jnp.take(jnp.take(table, index[0], axis=0), index[1], axis=1)
  return jnp.where(inside[0][:, None, None] & inside[1][None, :, None], blocks, 0.0)


def read_glimpse(tables, loc: jnp.ndarray, image_hw, glimpse_size: int, pooling: str = "mean") -> jnp.ndarray:
  """rho(x, l) of one image from its tables (`glimpse_tables` without the batch axis), loc [2] ->
  <float32>[k, glimpse_size, glimpse_size, c]."""
  k = len(tables)
  p, margin = glimpse_padding(glimpse_size, k), 2 ** (k - 1) - 1
  hw = jnp.asarray(image_hw, jnp.int32)
  patches = []
  for i, table in enumerate(tables):  # a static loop over scales (k is 1 to 4), not over time or batch
    width, factor = glimpse_size * 2 ** i, 2 ** i
    start = jnp.clip(patch_starts(loc, image_hw, width), -p, hw + p - width)
    blocks = _read_blocks(table, start + margin, factor, glimpse_size)
    patches.append(blocks / (factor * factor) if pooling == "mean" else blocks)
  return jnp.stack(patches)  # [k, g, g, c]


def batched_glimpse_sensor(tables, locs: jnp.ndarray, image_hw, glimpse_size: int,
                           pooling: str = "mean") -> jnp.ndarray:
  """rho for a batch: tables of b images (`glimpse_tables`), locs [b * n, 2] (n locations per image, each image's
  adjacent: the n sampled glimpse paths) -> [b * n, k, g, g, c]. The tables are shared by the n locations."""
  b = tables[0].shape[0]
  if locs.shape[0] % b:
    raise ValueError(f"{locs.shape[0]} locations for {b} images: expected a multiple")
  per_image = locs.reshape(b, locs.shape[0] // b, 2)
  read = lambda t, ls: jax.vmap(lambda l: read_glimpse(t, l, image_hw, glimpse_size, pooling))(ls)
  rho = jax.vmap(read)(tables, per_image)  # [b, n, k, g, g, c]
  return rho.reshape(locs.shape[0], *rho.shape[2:])


def glimpse_sensor(image: jnp.ndarray, loc: jnp.ndarray, glimpse_size: int, num_scales: int,
                   pooling: str = "mean") -> jnp.ndarray:
  """rho(x, l) for one image [h, w, c] and location [2] -> [num_scales, glimpse_size, glimpse_size, c] float32."""
  tables = [t[0] for t in glimpse_tables(image[None], num_scales, pooling)]
  return read_glimpse(tables, loc, image.shape[:2], glimpse_size, pooling)
