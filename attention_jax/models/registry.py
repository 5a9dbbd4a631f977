"""Every model by name: `build(config.model, **sizes)` is `MODELS[config.model.name](**fields, **sizes)`.

`config.model` holds the model's constructor arguments and nothing else (loss and policy settings live in their
own config blocks, e.g. `reinforce`); `sizes` are what the data fixes (`num_classes`, vocabulary sizes). A field
typed as a dataclass (the glimpse, `GlimpseSpec`) is written in the config as a nested block and built into that
dataclass here. A field the model does not take is an error naming it, and a field that moved names its new place.
To add a model family, add its module class below (one line).
"""

import dataclasses
import typing

from attention_jax import config_layout
from attention_jax.errors import UserError, check_choice
from attention_jax.models import baselines, ram, ram_catch, seq2seq, text_classifier, text_cnn

MODELS = {
    "fc": baselines.FullyConnected,
    "conv": baselines.ConvNet,
    "ram": ram.RecurrentAttentionModel,
    "catch_agent": ram_catch.CatchAgent,
    "rnnsearch": seq2seq.RNNsearch,
    "rnnencdec": seq2seq.RNNencdec,
    "text_classifier": text_classifier.TextClassifier,
    "text_cnn": text_cnn.TextCNN,
}

def _plain(config) -> dict:
  return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def constructor_fields(cls) -> dict:
  """{name: type} of the arguments a linen module class takes (its dataclass fields but Flax's own)."""
  hints = typing.get_type_hints(cls)
  return {f.name: hints.get(f.name) for f in dataclasses.fields(cls) if f.name not in ("parent", "name")}


def _typed(cls, value, prefix: str):
  """A nested config block as the dataclass `cls`, refusing fields it does not have."""
  if isinstance(value, cls):
    return value
  value = _plain(value)
  known = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(value) - known)
  if unknown:
    raise UserError(f"config field {prefix}.{unknown[0]} is not a field of {cls.__name__}; expected some of "
                    f"{sorted(known)}")
  return cls(**value)


def build(model_config, names=None, **sizes):
  """The linen module `config.model` names (one of `names`, the task's families, if given), built from its
  fields and `sizes` (what the data fixes, and fixed arguments such as a greedy policy)."""
  fields = _plain(model_config)
  name = check_choice("model.name", fields.pop("name", None), tuple(names or MODELS))
  cls = MODELS[name]
  takes = constructor_fields(cls)
  for field in sorted(fields):
    if field in takes:
      continue
    if field in config_layout.MOVED:
      raise UserError(f"config field model.{field} moved to {config_layout.MOVED[field]} "
                      f"(config.model holds only the model's "
                      f"constructor arguments); update the config file or the --config flag")
    raise UserError(f"config field model.{field} is not an argument of {cls.__name__} (model.name={name!r}); "
                    f"expected some of {sorted(set(takes) - set(sizes))}")
  for field, kind in takes.items():
    if field in fields and dataclasses.is_dataclass(kind):
      fields[field] = _typed(kind, fields[field], f"model.{field}")
  return cls(**fields, **sizes)
