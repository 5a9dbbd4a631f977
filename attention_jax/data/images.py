"""Image datasets by name (`config.data.name`): the MNIST protocols of `attention_jax.data.mnist`."""

from attention_jax.data import mnist
from attention_jax.errors import check_choice

NAMES = mnist.PROTOCOLS


def load(data_config, split: str) -> dict:
  """{'image': uint8 [n, h, w, 1], 'label': int32 [n]} for one split."""
  check_choice("data.name", data_config.name, NAMES)
  return mnist.load_mnist(data_config, split)
