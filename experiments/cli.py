"""What the absl binaries share: quiet library logs, JAX settings from the environment, user errors printed
without a stack trace."""

import logging as pylogging
import os
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


def run_reporting_user_errors(fn, *args):
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    return fn(*args)
  except UserError as e:
    logging.error("%s", e)
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
