"""What the absl binaries share: quiet library logs, JAX settings from the environment, user errors printed
without a stack trace."""

import logging as pylogging
import os
import re
import sys

from absl import logging


class _QuietLibraries(pylogging.Filter):
  """Keeps the INFO chatter of Orbax, TFDS and Grain off the console; their warnings and errors still show."""

  def filter(self, record):
    noisy = any(part in record.pathname for part in ("/orbax/", "/tensorflow_datasets/", "/grain/"))
    return record.levelno >= pylogging.WARNING or not noisy


def configure_jax() -> None:
  """Quiets library logs, and honours ATTENTION_JAX_CPU_DEVICES=N (simulate N CPU devices) before JAX starts."""
  logging.get_absl_logger().addFilter(_QuietLibraries())
  n = os.environ.get("ATTENTION_JAX_CPU_DEVICES")
  if n:
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_num_cpu_devices", int(n))


def parse_flags(argv):
  """absl's flag parsing, with a mistyped config field (`--config.modle.hidden=3`) reported as one `error:` line
  naming the flag, instead of ml_collections' KeyError trace; other flag errors keep absl's own message."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return flags.FLAGS(argv)
  except (KeyError, AttributeError) as e:
    detail = (str(e.args[0]) if e.args else str(e)).replace("\\", "")
    name = re.search(r"'([^'\n]+)'", detail)
    name = name.group(1) if name else detail
    hint = re.search(r'Did you mean "([^"]+)"', detail)
    given = [a for a in argv[1:] if a.startswith("--config.") and name in a.split("=")[0].split(".")]
    flag = given[0] if given else "a --config.FIELD flag"
    print(f"error: {flag} names no config field {name!r}" + (f" (did you mean {hint.group(1)!r}?)" if hint else "")
          + "; the config file lists its fields", file=sys.stderr)
    sys.exit(2)
  except flags.Error as e:
    message = str(e)
    if "Error whilst parsing config file" in message:  # a config file refusing its argument (`ram_mnist.py:6,x`):
      last = message.strip().splitlines()[-1]  # ml_collections wraps the file's own error in a traceback
      given = [a for a in argv[1:] if a.startswith("--config=")]
      message = f"{given[0] if given else '--config'}: {last.partition(': ')[2] or last}"
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def run_reporting_user_errors(fn, *args):
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    return fn(*args)
  except UserError as e:  # said once, as the `error:` line (not also as an absl log line), cut to a readable length
    message = str(e)
    if len(message) > 2000:
      message = message[:2000] + f" ... ({len(message) - 2000} more characters)"
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
