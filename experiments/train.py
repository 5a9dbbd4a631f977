r"""Trains an experiment; run again with the same --workdir to resume from its newest checkpoint.

  python -m experiments.train --config=experiments/configs/mnist_fc.py --workdir=/tmp/mnist_fc \
      [--config.FIELD=VALUE ...]
"""

from absl import app, flags
from ml_collections import config_flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for config.json, metrics, checkpoints and plots.")
config_flags.DEFINE_config_file("config", None, "A config file from experiments/configs/.", lock_config=True)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  cli.run_reporting_user_errors(loop.train_and_evaluate, flags.FLAGS.config, _WORKDIR.value)


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main)
