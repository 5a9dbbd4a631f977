"""The feed-forward baselines of Mnih et al. (2014), Tables 1 and 2.

FC:   two fully connected rectifier layers (64 or 256 units) and a softmax.
Conv: one convolutional layer (8 or 16 filters of 10x10, stride 5) and a rectifier, a fully connected layer of
      256 rectifier units (86 at 100x100 in the paper), and a softmax.
Both take uint8 or float images [batch, height, width, channels] and return logits [batch, num_classes].
"""


import flax.linen as nn
import jax.numpy as jnp


def to_unit_float(images: jnp.ndarray) -> jnp.ndarray:
  """uint8 pixels in [0, 255] -> float32 in [0, 1]; float images pass through."""
  if jnp.issubdtype(images.dtype, jnp.integer):
    return images.astype(jnp.float32) / 255.0
  return images.astype(jnp.float32)


class FullyConnected(nn.Module):
  """`num_layers` fully connected rectifier layers of `hidden` units each, then a linear readout to the classes."""
  hidden: int = 256
  num_layers: int = 2
  num_classes: int = 10

  @nn.compact
  def __call__(self, images):
    x = to_unit_float(images).reshape(images.shape[0], -1)  # [batch, height*width*channels]
    for _ in range(self.num_layers):
      x = nn.relu(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_classes)(x)  # [batch, num_classes]


class ConvNet(nn.Module):
  """One strided convolution + rectifier, one fully connected rectifier layer, a linear readout."""
  filters: int = 8
  kernel_size: int = 10
  stride: int = 5
  hidden: int = 256
  num_classes: int = 10

  @nn.compact
  def __call__(self, images):
    x = to_unit_float(images)  # [batch, h, w, c]
    x = nn.relu(nn.Conv(self.filters, (self.kernel_size,) * 2, strides=self.stride, padding="VALID")(x))
    x = x.reshape(x.shape[0], -1)  # [batch, h'*w'*filters]
    x = nn.relu(nn.Dense(self.hidden)(x))
    return nn.Dense(self.num_classes)(x)
