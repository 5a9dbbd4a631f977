r"""Speed and memory benchmarks; one JSON line per benchmark.

  python -m benchmarks.run [--only NAME[,NAME]] [--mnist_dir=../shared/data/mnist]

Each line has at least name, examples_per_s (median over timed windows after compilation), compile_s,
peak_rss_mb (of this process so far), devices and the config that was timed. Tests never assert these numbers.
"""

import json
import sys

from absl import app, flags

from experiments import cli

_ONLY = flags.DEFINE_list("only", [], "Benchmarks to run (default: all).")
_WINDOWS = flags.DEFINE_integer("windows", 5, "Timed windows per benchmark (the median is reported).")
_STEPS = flags.DEFINE_integer("steps_per_window", 20, "Steps per timed window.")


def mnist_fc_train():
  """FC-256 x 2 on 28x28 MNIST digits, batch 128, SGD with momentum (the classifier baseline's step)."""
  from experiments.configs import mnist_fc  # pylint: disable=g-import-not-at-top
  config = mnist_fc.get_config()
  timing = _time(config)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


BENCHMARKS = {"mnist_fc_train": mnist_fc_train}


def _time(config):
  from benchmarks import harness  # pylint: disable=g-import-not-at-top
  return harness.time_training(config, windows=_WINDOWS.value, steps_per_window=_STEPS.value)


def _common(timing, config):
  from benchmarks import harness  # pylint: disable=g-import-not-at-top
  return {"compile_s": timing["compile_s"], "steps_per_s": round(timing["steps_per_s"], 2),
          "peak_rss_mb": round(harness.peak_rss_mb(), 1), "devices": timing["devices"],
          "config": json.loads(config.to_json_best_effort())}


def main(argv):
  del argv
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  names = _ONLY.value or list(BENCHMARKS)
  unknown = [n for n in names if n not in BENCHMARKS]
  if unknown:
    print(f"error: --only names unknown benchmark(s) {unknown}; expected some of {sorted(BENCHMARKS)}",
          file=sys.stderr)
    sys.exit(2)
  for name in names:
    try:
      row = {"name": name} | BENCHMARKS[name]()
    except UserError as e:
      print(f"error: {name}: {e}", file=sys.stderr)
      sys.exit(2)
    row["examples_per_s"] = round(row["examples_per_s"], 1)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main)
