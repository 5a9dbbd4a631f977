r"""Evaluates the newest checkpoint of a training run on the test split; writes WORKDIR/eval.json and plots.

  python -m experiments.evaluate --workdir=/tmp/mnist_fc
"""

from absl import app, flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The workdir of a training run.")
_SPLIT = flags.DEFINE_string("split", "test", "Which split to evaluate.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step to evaluate (default: the newest).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  del argv
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  result = cli.run_reporting_user_errors(loop.evaluate_checkpoint, _WORKDIR.value, _SPLIT.value, _STEP.value)
  print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
