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


def test_compare_takes_medians_per_side_and_records_how_it_was_run(monkeypatch):
  """benchmarks.compare's medians (steps/s where there are steps, else examples/s; glimpse_ms) and the JSON --out
  writes: the command, both commits, the hardware and every run."""
  from benchmarks import compare  # pylint: disable=g-import-not-at-top
  train = {"base": [{"steps_per_s": 10.0, "examples_per_s": 1280.0, "glimpse_ms": 30.0},
                    {"steps_per_s": 12.0, "examples_per_s": 1536.0, "glimpse_ms": 50.0},
                    {"steps_per_s": 11.0, "examples_per_s": 1408.0, "glimpse_ms": 40.0}],
           "head": [{"steps_per_s": 22.0, "examples_per_s": 2816.0, "glimpse_ms": 8.0}] * 3}
  evaluation = {"base": [{"steps_per_s": 0.0, "examples_per_s": 300.0}],
                "head": [{"steps_per_s": 0.0, "examples_per_s": 600.0}]}
  assert compare.medians(train) == {"unit": "steps/s", "rate": (11.0, 22.0), "glimpse_ms": (40.0, 8.0)}
  assert compare.medians(evaluation) == {"unit": "examples/s", "rate": (300.0, 600.0)}
  assert compare.summary("t", train) == ("t  steps/s base 11.000 head 22.000 (head/base 2.00x)  "
                                         "glimpse_ms base 40.000 head 8.000 (head/base 0.20x)")
  monkeypatch.setattr(compare.run_record, "git_commit", lambda repo: "def5678")
  monkeypatch.setattr(compare.sys, "argv", ["compare.py", "--base=abc1234", "--only=t,e"])
  table = compare.record({"t": train, "e": evaluation}, "abc1234", "worktree", 2, started=0.0)
  assert (table["base"], table["head"], table["rounds"]) == ("abc1234", "def5678", 2)
  assert table["command"] == "python -m benchmarks.compare --base=abc1234 --only=t,e" and table["hardware"]
  t, e = table["benchmarks"]
  assert t["rate"] == {"base": 11.0, "head": 22.0, "ratio": 2.0} and t["runs"] == train
  assert e["unit"] == "examples/s" and "glimpse_ms" not in e


def test_same_results_finds_two_identical_runs_identical_and_names_what_another_seed_changes(tmp_path):
  """benchmarks.same_results' comparison of two workdirs: config.json, every checkpoint array, eval.json."""
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  from benchmarks import same_results  # pylint: disable=g-import-not-at-top
  for name, seed in (("a", 0), ("b", 0), ("c", 1)):
    loop.train_and_evaluate(helpers.tiny_classifier_config(num_devices=1, seed=seed), str(tmp_path / name))
    loop.evaluate_checkpoint(str(tmp_path / name))
  found, arrays = same_results.differences(str(tmp_path / "a"), str(tmp_path / "b"))
  assert found == [] and arrays > 6  # params of 3 layers, optimizer state, step, key
  found, _ = same_results.differences(str(tmp_path / "a"), str(tmp_path / "c"))
  assert found[0].startswith("config.json differs")
  assert any(line.startswith("checkpoint array ['params']") for line in found)
  assert any(line.startswith("eval.json ") for line in found)
