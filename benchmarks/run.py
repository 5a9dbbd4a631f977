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


def ram_mnist_train():
  """RAM, 28x28, 6 glimpses of 8x8 at 1 scale, 128/128/256, batch 128, M = 1 (the issue's speed target)."""
  from experiments.configs import ram_mnist  # pylint: disable=g-import-not-at-top
  config = ram_mnist.get_config("6")
  timing = _time(config)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


def ram_cluttered_train():
  """RAM, 60x60 cluttered (4 pieces), 8 glimpses of 12x12 at 3 scales, batch 128 (canvases made on the host)."""
  from experiments.configs import ram_cluttered  # pylint: disable=g-import-not-at-top
  config = ram_cluttered.get_config("60,8")
  timing = _time(config)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


def ram_eval():
  """RAM evaluation (28x28, 6 glimpses, eval_samples from the config): images per second over the test split."""
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from experiments.configs import ram_mnist  # pylint: disable=g-import-not-at-top
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  config = ram_mnist.get_config("6")
  trainer = loop.build_trainer(config)
  params = trainer.par.put_replicated(trainer.initial_state().params)
  start = time.perf_counter()
  first = trainer.evaluate(params, "test")  # compiles
  compile_s = time.perf_counter() - start
  rates = []
  for _ in range(3):
    start = time.perf_counter()
    jax.block_until_ready(trainer.evaluate(params, "test"))
    rates.append(first["num_examples"] / (time.perf_counter() - start))
  timing = {"compile_s": round(compile_s, 3), "steps_per_s": 0.0, "devices": trainer.par.num_devices}
  return {"examples_per_s": sorted(rates)[1], "eval_samples": config.model.eval_samples} | _common(timing, config)


BENCHMARKS = {"mnist_fc_train": mnist_fc_train, "ram_mnist_train": ram_mnist_train,
              "ram_cluttered_train": ram_cluttered_train, "ram_eval": ram_eval}


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
