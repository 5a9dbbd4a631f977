"""The glimpse sensor as it is defined (`attention_jax/models/glimpse.py`, module docstring), written the direct
way: pad every image with a zero border of p pixels, crop each scale's patch with `dynamic_slice` (which holds a
patch inside the padded image) and pool it. This was the library's sensor until December 2026; the fast one must
give the same bits (`tests/test_ram.py`)."""

import jax
import jax.numpy as jnp

from attention_jax.models import glimpse


def pad_images(images: jnp.ndarray, glimpse_size: int, num_scales: int) -> jnp.ndarray:
  """[b, h, w, c] -> float32 [b, h + 2p, w + 2p, c] with a zero border of `glimpse_padding` pixels."""
  p = glimpse.glimpse_padding(glimpse_size, num_scales)
  return jnp.pad(images.astype(jnp.float32), ((0, 0), (p, p), (p, p), (0, 0)))


def extract_glimpse(padded: jnp.ndarray, loc: jnp.ndarray, image_hw, glimpse_size: int, num_scales: int,
                    pooling: str = "mean") -> jnp.ndarray:
  """rho(x, l) from one padded image [h + 2p, w + 2p, c] -> [num_scales, glimpse_size, glimpse_size, c]."""
  reduce = jnp.mean if pooling == "mean" else jnp.max
  p = glimpse.glimpse_padding(glimpse_size, num_scales)
  c = padded.shape[-1]
  patches = []
  for i in range(num_scales):
    width, factor = glimpse_size * 2 ** i, 2 ** i
    start = glimpse.patch_starts(loc, image_hw, width) + p
    patch = jax.lax.dynamic_slice(padded, (start[0], start[1], 0), (width, width, c))
    patches.append(reduce(patch.reshape(glimpse_size, factor, glimpse_size, factor, c), axis=(1, 3)))
  return jnp.stack(patches)


def batched_glimpse_sensor(images, locs, glimpse_size: int, num_scales: int, pooling: str = "mean"):
  """rho for images [b, h, w, c] and locs [b, 2] -> [b, num_scales, g, g, c]."""
  padded = pad_images(images, glimpse_size, num_scales)
  return jax.vmap(lambda x, l: extract_glimpse(x, l, images.shape[1:3], glimpse_size, num_scales, pooling))(
      padded, locs)
