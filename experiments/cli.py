"""What the absl binaries share: quiet library logs, JAX settings from the environment, user errors printed
without a stack trace."""

import errno
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
    if not n.strip().isdigit() or int(n) < 1:
      print(f"error: environment variable ATTENTION_JAX_CPU_DEVICES={n!r}: expected a whole number >= 1 (the CPU "
            "devices to simulate)", file=sys.stderr)
      sys.exit(2)
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_num_cpu_devices", int(n))
  tfds_dir = os.environ.get("ATTENTION_JAX_TFDS_DIR")
  if tfds_dir is not None and not tfds_dir.strip():
    print("error: environment variable ATTENTION_JAX_TFDS_DIR is set but empty; expected the folder for prepared "
          "data (or leave it unset for ~/attention_jax_data/tfds)", file=sys.stderr)
    sys.exit(2)


def parse_flags(argv):
  """absl's flag parsing, with a mistyped config field (`--config.modle.hidden=3`) reported as one `error:` line
  naming the flag, instead of ml_collections' KeyError trace; other flag errors keep absl's own message."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    rest = flags.FLAGS(argv)
    config = flags.FLAGS["config"].value if "config" in flags.FLAGS else None
    if config is not None and not isinstance(config, str):  # ram_search's --config is a plain path string
      config.keys  # pylint: disable=pointless-statement; a file that failed to load says so here
    return rest
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
  except (OSError, SyntaxError, ImportError) as e:  # the config file is missing, unreadable or not Python
    given = [a for a in argv[1:] if a.startswith("--config=")]
    detail = f"{e.msg} (line {e.lineno})" if isinstance(e, SyntaxError) else str(e).strip().splitlines()[-1].strip()
    print(f"error: {given[0] if given else '--config'}: cannot load the config file: {detail}", file=sys.stderr)
    sys.exit(2)
  except flags.Error as e:
    message = str(e)
    if "Error whilst parsing config file" in message:  # a config file refusing its argument (`ram_mnist.py:6,x`):
      last = message.strip().splitlines()[-1]  # ml_collections wraps the file's own error in a traceback
      given = [a for a in argv[1:] if a.startswith("--config=")]
      message = f"{given[0] if given else '--config'}: {last.partition(': ')[2] or last}"
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
  except Exception as e:  # pylint: disable=broad-except; the config file's own code failed (e.g. a NameError)
    given = [a for a in argv[1:] if a.startswith("--config=")]
    print(f"error: {given[0] if given else '--config'}: the config file failed: {type(e).__name__}: {e}",
          file=sys.stderr)
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
  except OSError as e:
    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
      raise
    print(f"error: no space left on the device writing {e.filename or 'a file'}; free some space and run the same "
          "command again (a training run resumes from its newest checkpoint)", file=sys.stderr)
    sys.exit(2)
