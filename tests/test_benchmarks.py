"""The benchmark harness times real training steps, and the binary prints one JSON line per benchmark.

No wall-clock figure is asserted: these tests only keep the benchmarks from rotting.
"""

import json

from benchmarks import harness
from tests import helpers


def test_time_training_runs_the_first_step_the_warmup_and_every_timed_step():
  config = helpers.tiny_classifier_config(num_devices=1)
  timing = harness.time_training(config, windows=2, steps_per_window=3, warmup_steps=2)
  # 1 compiling step + 2 untimed warm-up steps + 2 windows x 3 timed steps through the pipeline + the same again
  # on batches placed beforehand, all real updates of the state.
  assert int(timing["state"].step) == 1 + 2 + 2 * 3 + 2 * 3
  assert timing["devices"] == 1
  assert timing["compile_s"] > 0 and timing["steps_per_s"] > 0 and timing["preplaced_steps_per_s"] > 0
  assert 0 <= timing["input_fraction"] < 1


def test_benchmark_binary_prints_one_json_line_and_refuses_unknown_names():
  proc = helpers.run_binary("benchmarks.run", "--only=mnist_fc_train", "--windows=1", "--steps_per_window=2")
  assert proc.returncode == 0, proc.stderr
  (line,) = [l for l in proc.stdout.splitlines() if l.strip()]
  row = json.loads(line)
  assert row["name"] == "mnist_fc_train" and row["devices"] == 1
  assert row["examples_per_s"] > 0 and row["peak_rss_mb"] > 0
  assert row["config"]["batch_size"] == 128 and row["config"]["model"]["name"] == "fc"

  proc = helpers.run_binary("benchmarks.run", "--only=mnist_fc_train,no_such_benchmark")
  assert proc.returncode == 2
  assert "--only names unknown benchmark(s) ['no_such_benchmark']" in proc.stderr


def test_nmt_step_profile_prints_each_variant_and_the_shares():
  proc = helpers.run_binary("benchmarks.profile_nmt_step", "--batch=2", "--src_len=3", "--tgt_len=3", "--reps=1")
  assert proc.returncode == 0, proc.stderr[-3000:]
  rows = [json.loads(l) for l in proc.stdout.splitlines() if l.startswith("{")]
  assert [r["variant"] for r in rows[:4]] == ["full", "output layer cut to 8 words", "no attention (RNNencdec)",
                                              "no attention, output layer cut to 8 words"]
  assert rows[0]["of_full"] == 1.0 and rows[0]["tgt_vocab"] == 8000 and all(r["step_ms"] > 0 for r in rows[:4])
  assert set(rows[4]["shares"]) == {"output layer", "attention", "recurrences and embeddings"}
