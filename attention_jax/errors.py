"""One exception type for every mistake a user can make (bad flag, file, field or value).

The absl binaries catch :class:`UserError` and print its message without a stack trace, so a message must say
which flag, file or config field is wrong and what was expected.
"""


class UserError(ValueError):
  """A problem with the user's input: the message names the culprit and what was expected."""


def check_choice(field: str, value: str, choices) -> str:
  """Returns `value` if it is one of `choices`, else raises a UserError naming the config field."""
  choices = sorted(choices)
  if value not in choices:
    raise UserError(f"config field {field}={value!r} is not known; expected one of: {', '.join(choices)}")
  return value


def check_positive(field: str, value) -> None:
  if not value > 0:
    raise UserError(f"config field {field}={value!r} must be positive")
