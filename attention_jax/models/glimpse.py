"""The glimpse sensor rho(x, l) of Mnih et al. (2014), Section 3.1.

Locations are (row, column) pairs in [-1, 1]: (0, 0) is the image centre, (-1, -1) its top-left corner and
(1, 1) its bottom-right corner. Location l maps to the pixel coordinate c = (l + 1) / 2 * size, and the patch of
width w at l covers pixels [start, start + w) in each dimension with start = floor(c - w / 2 + 1/2). The k patches
have widths g_w, 2 g_w, 4 g_w, ...; patch i is pooled by 2^i down to g_w x g_w: averaged (`pooling="mean"`, the
default, right for digits) or maxed (`pooling="max"`, for sparse binary screens such as Catch's, where averaging
shrinks a 1-pixel ball to 1/16 at the third scale). Pixels outside the image read as zero. The result for one image
is [k, g_w, g_w, channels].
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
  if spec.size > image_size:
    raise UserError(f"config field model.glimpse.size={spec.size} is larger than the image ({image_size}x"
                    f"{image_size}); expected at most {image_size}")
  check_choice("model.glimpse.pooling", spec.pooling, POOLINGS)


def patch_starts(loc: jnp.ndarray, image_hw, width: int) -> jnp.ndarray:
  """Top-left pixel (row, column) of the `width`-wide patch centred at `loc` (int32 [2])."""
  size = jnp.asarray(image_hw, jnp.float32)
  centre = (loc + 1.0) / 2.0 * size
  return jnp.floor(centre - width / 2.0 + 0.5).astype(jnp.int32)


def glimpse_padding(glimpse_size: int, num_scales: int) -> int:
  """Zero border wide enough for the largest patch centred anywhere in [-1, 1]."""
  return glimpse_size * 2 ** (num_scales - 1)


def pad_images(images: jnp.ndarray, glimpse_size: int, num_scales: int) -> jnp.ndarray:
  """[b, h, w, c] -> float32 [b, h + 2p, w + 2p, c] with a zero border of `glimpse_padding` pixels.

  Done once per image, outside the glimpse loop; `extract_glimpse` then slices without bounds checks.
  """
  p = glimpse_padding(glimpse_size, num_scales)
  return jnp.pad(images.astype(jnp.float32), ((0, 0), (p, p), (p, p), (0, 0)))


POOLINGS = ("mean", "max")


def extract_glimpse(padded: jnp.ndarray, loc: jnp.ndarray, image_hw, glimpse_size: int,
                    num_scales: int, pooling: str = "mean") -> jnp.ndarray:
  """rho(x, l) from one padded image [h + 2p, w + 2p, c] -> [num_scales, glimpse_size, glimpse_size, c]."""
  if pooling not in POOLINGS:
    raise ValueError(f"pooling={pooling!r}: expected one of {POOLINGS}")
  reduce = jnp.mean if pooling == "mean" else jnp.max
  p = glimpse_padding(glimpse_size, num_scales)
  c = padded.shape[-1]
  patches = []
  for i in range(num_scales):  # a static loop over scales (k is 1 to 4), not over time or batch
    width, factor = glimpse_size * 2 ** i, 2 ** i
    start = patch_starts(loc, image_hw, width) + p  # in [p - width/2, p + size - width/2]: always inside
    patch = jax.lax.dynamic_slice(padded, (start[0], start[1], 0), (width, width, c))
    patches.append(reduce(patch.reshape(glimpse_size, factor, glimpse_size, factor, c), axis=(1, 3)))
  return jnp.stack(patches)  # [num_scales, g, g, c]


def glimpse_sensor(image: jnp.ndarray, loc: jnp.ndarray, glimpse_size: int, num_scales: int,
                   pooling: str = "mean") -> jnp.ndarray:
  """rho(x, l) for one image [h, w, c] and location [2] -> [num_scales, glimpse_size, glimpse_size, c] float32."""
  padded = pad_images(image[None], glimpse_size, num_scales)[0]
  return extract_glimpse(padded, loc, image.shape[:2], glimpse_size, num_scales, pooling)


def batched_glimpse_sensor(padded_images, locs, image_hw, glimpse_size: int, num_scales: int,
                           pooling: str = "mean"):
  """rho for a batch of padded images [b, H, W, c] and locs [b, 2] -> [b, num_scales, g, g, c]."""
  return jax.vmap(extract_glimpse, in_axes=(0, 0, None, None, None, None))(padded_images, locs, image_hw,
                                                                           glimpse_size, num_scales, pooling)
