"""The argument after ':' in `--config=FILE.py:ARG`, parsed in one place per config.

Each config file names its valid forms and parses its argument with `parse(arg, FORMS, read)`: whatever `read`
refuses (a wrong count of parts, a number that is not one, a name it does not know) becomes one
`ConfigArgumentError` that quotes the argument and lists the valid forms, which `experiments.cli` prints as the
run's one `error:` line.
"""


class ConfigArgumentError(ValueError):
  """A config file's argument matches none of its forms."""


def parse(arg, forms: str, read):
  """`read(arg)`, or a ConfigArgumentError naming `arg` and the valid `forms` when it raises."""
  try:
    return read(arg)
  except (ValueError, KeyError, IndexError, TypeError) as e:
    detail = e.args[0] if e.args else e
    raise ConfigArgumentError(f"config argument {arg!r} is not a valid form ({detail}); expected {forms}") from None


def choice(text: str, what: str, allowed):
  """`text` if it is one of `allowed`, else a ValueError naming `what` and the choices."""
  if text not in allowed:
    raise ValueError(f"{what} {text!r} is none of {', '.join(map(str, allowed))}")
  return text


def number(text: str, what: str, allowed):
  """`text` as an int that is one of `allowed`, else a ValueError naming `what` and the choices."""
  if not text.strip().isdigit() or int(text) not in allowed:
    if isinstance(allowed, range):
      raise ValueError(f"{what} {text!r} is not a whole number from {allowed.start} to {allowed.stop - 1}")
    raise ValueError(f"{what} {text!r} is none of {', '.join(map(str, allowed))}")
  return int(text)


def no_argument(arg) -> None:
  """For a config that takes no argument: refuses one."""
  if arg not in (None, ""):
    raise ConfigArgumentError(f"config argument {arg!r}: this config takes none; give the file alone")
