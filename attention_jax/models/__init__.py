"""Models, picked by name from `config.model.name`."""

from attention_jax.errors import check_choice
from attention_jax.models import baselines


def _fc(cfg, num_classes):
  return baselines.FullyConnected(hidden=(cfg.hidden,) * cfg.num_layers, num_classes=num_classes)


def _conv(cfg, num_classes):
  return baselines.ConvNet(filters=cfg.filters, kernel_size=cfg.kernel_size, stride=cfg.stride,
                           hidden=cfg.hidden, num_classes=num_classes)


CLASSIFIERS = {"fc": _fc, "conv": _conv}


def build_classifier(model_config, num_classes: int = 10):
  """A classifier module from `config.model` (name plus the fields that model reads)."""
  name = check_choice("model.name", model_config.name, CLASSIFIERS)
  return CLASSIFIERS[name](model_config, num_classes)
