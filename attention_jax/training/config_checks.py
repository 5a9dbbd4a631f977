"""Every numeric field of a run's config checked against its range when the run starts, so that a value no model
or data code would refuse in time (a zero size, a negative seed, a NaN weight, a std of 0) is one `error:` line
naming the field and the range, not a crash deep inside JAX or Grain several steps later.

The rules, in order:
- a float is finite;
- an int (not a bool) is >= 0, and >= 1 where it is a size or a count (`AT_LEAST_ONE`, and every int under
  `model.` but those in `ZERO_ALLOWED`);
- every element of a tuple of ints (`data.buckets`, `model.widths`, `data.sizes`) is >= 1;
- a field of `RANGES` lies in its interval.
Strings are checked where they are used (`check_choice` names the known values).
"""

import math

from attention_jax.errors import UserError

# (low, high, low_open, high_open): the interval a field must lie in; None is unbounded.
RANGES = {
    "optimizer.learning_rate": (0.0, None, True, False),
    "optimizer.momentum": (0.0, 1.0, False, True),
    "optimizer.b1": (0.0, 1.0, False, True),
    "optimizer.b2": (0.0, 1.0, False, True),
    "optimizer.eps": (0.0, None, True, False),
    "optimizer.rho": (0.0, 1.0, True, True),
    "optimizer.clip_norm": (0.0, None, False, False),
    "optimizer.weight_decay": (0.0, None, False, False),
    "model.location_std": (0.0, None, True, False),
    "model.embed_dropout": (0.0, 1.0, False, True),
    "model.output_dropout": (0.0, 1.0, False, True),
    "model.word_dropout": (0.0, 1.0, False, True),
    "reinforce.weight": (0.0, None, False, False),
    "reinforce.entropy_weight": (0.0, None, False, False),
    "reinforce.discount": (0.0, 1.0, True, False),
    "decode.length_penalty": (0.0, None, False, False),
    "data.validation_fraction": (0.0, 1.0, False, True),
    "data.src_character_coverage": (0.0, 1.0, True, False),
    "data.tgt_character_coverage": (0.0, 1.0, True, False),
}
AT_LEAST_ONE = {"batch_size", "eval_batch_size", "num_train_steps", "log_every_steps", "eval_every_steps",
                "checkpoint_every_steps", "keep_checkpoints", "eval_games", "decode.beam_size",
                "reinforce.num_samples", "reinforce.eval_samples", "data.clutter_size", "data.length_bin",
                "data.min_count", "data.vocab_size", "data.src_vocab_size", "data.tgt_vocab_size"}
# Model ints where 0 means "none": no hidden layer in the location network.
ZERO_ALLOWED = {"model.location_net_hidden"}


def leaves(config, prefix=""):
  """(dotted path, value) of every leaf of a ConfigDict or dict."""
  for key, value in config.items():
    path = f"{prefix}{key}"
    if hasattr(value, "items"):
      yield from leaves(value, path + ".")
    else:
      yield path, value


def _interval(low, high, low_open, high_open) -> str:
  left = "(" if low_open else "["
  right = ")" if high_open or high is None else "]"
  return f"{left}{low:g}, {'inf' if high is None else f'{high:g}'}{right}"


def check_range(path: str, value, rule) -> None:
  low, high, low_open, high_open = rule
  below = value < low or (low_open and value == low)
  above = high is not None and (value > high or (high_open and value == high))
  if below or above:
    raise UserError(f"config field {path}={value!r} is out of range; expected a number in "
                    f"{_interval(*rule)}")


def check_leaf(path: str, value) -> None:
  """Refuses one field's value by the rules of the module docstring."""
  if isinstance(value, bool) or value is None or isinstance(value, str):
    return
  if isinstance(value, float) and not math.isfinite(value):
    raise UserError(f"config field {path}={value!r} must be a finite number")
  if isinstance(value, int):
    least = 1 if path in AT_LEAST_ONE or (path.startswith("model.") and path not in ZERO_ALLOWED) else 0
    if value < least:
      raise UserError(f"config field {path}={value!r} must be an integer >= {least}")
  if isinstance(value, (tuple, list)) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                         for v in value):
    if min(value) < 1:
      raise UserError(f"config field {path}={tuple(value)!r}: every entry must be an integer >= 1")
  if path in RANGES and isinstance(value, (int, float)):
    check_range(path, value, RANGES[path])


def check_fields(config) -> None:
  """Checks every numeric field of `config` (see the module docstring); the first one out of range is a UserError."""
  for path, value in leaves(config):
    check_leaf(path, value)
