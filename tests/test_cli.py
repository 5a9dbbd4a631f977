"""The absl binaries end to end: train, evaluate, and the messages a user sees for bad flags."""

import json
import os

from tests import helpers

TFDS = lambda: f"--config.data.tfds_data_dir={os.environ['ATTENTION_JAX_TFDS_DIR']}"


def test_train_then_evaluate_writes_eval_json_matching_the_last_test_row(tmp_path):
  workdir = tmp_path / "conv_s0"  # run "conv", seed 0, of a results spec rooted at tmp_path
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_conv.py", f"--workdir={workdir}",
                            "--config.seed=0", "--config.num_train_steps=40", "--config.log_every_steps=20",
                            "--config.eval_every_steps=40", TFDS())
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "step 40/40 (100.0%)" in proc.stderr and "steps/s  ETA" in proc.stderr
  proc = helpers.run_binary("experiments.evaluate", f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  result = json.loads((workdir / "eval.json").read_text())
  last_test = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()
               if json.loads(line)["split"] == "test"][-1]
  assert result["step"] == 40 and result["num_examples"] == 1000
  assert abs(result["accuracy"] - last_test["accuracy"]) < 1e-6
  assert result["accuracy"] > 0.5  # 40 SGD steps already learn the digits
  assert (workdir / "plots" / "training_curves.png").exists()
  record = json.loads((workdir / "run.json").read_text())
  assert record["steps"] == 40 and record["wall_s"] > 0 and "cpu" in record["hardware"]
  assert record["command"].startswith("python -m experiments.train --config=experiments/configs/mnist_conv.py")
  assert record["commit"] != "" and "--config.num_train_steps=40" in record["command"]

  # A results table from the run's own files: the collector copies, never invents.
  spec = tmp_path / "spec.json"
  spec.write_text(json.dumps({"title": "t", "metrics": ["accuracy", "error"], "rows": [
      {"id": "conv", "config": "experiments/configs/mnist_conv.py", "overrides": {"num_train_steps": 40},
       "seeds": [0], "row": "conv", "paper_error": 1.0}] * 2}))  # two rows of the same run
  out = tmp_path / "results" / "t.json"
  proc = helpers.run_binary("experiments.collect_results", f"--spec={spec}", f"--root={tmp_path}", f"--out={out}",
                            f"--curves={tmp_path / 'curves.png'}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert (tmp_path / "curves.png").stat().st_size > 5000
  row, same = json.loads(out.read_text())["rows"]
  assert row == same and row["id"] == "conv" and row["workdirs"] == [str(workdir)]
  assert row["accuracies"] == [result["accuracy"]] and row["errors"] == [result["error"]]
  assert row["mean_error"] == result["error"]
  assert row["spread_error"] == 0 and row["paper_error"] == 1.0 and row["steps"] == [40]
  assert row["command"] == [record["command"]] and row["wall_s"] == [record["wall_s"]]
  spec.write_text(json.dumps({"rows": [{"id": "x", "config": "experiments/configs/mnist_fc.py", "row": "x"}]}))
  proc = helpers.run_binary("experiments.collect_results", f"--spec={spec}", f"--root={tmp_path}", f"--out={out}")
  assert proc.returncode == 2 and f"{tmp_path}/x_s0/eval.json is missing" in proc.stderr
  proc = helpers.run_binary("experiments.collect_results", f"--spec={spec}", f"--root={tmp_path}", f"--out={out}",
                            f"--previous={tmp_path / 'none.json'}")
  assert proc.returncode == 2 and f"--previous={tmp_path / 'none.json'}: expected a results table" in proc.stderr


def test_unknown_config_field_is_refused_by_name(tmp_path):
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                            f"--workdir={tmp_path}", "--config.modle.hidden=3")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert ("error: --config.modle.hidden=3 names no config field 'modle' (did you mean 'model'?)"
          in proc.stderr)
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                            f"--workdir={tmp_path}", "--config.model.hiden=3")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert "error: --config.model.hiden=3 names no config field 'hiden' (did you mean 'hidden'?)" in proc.stderr


def test_a_config_argument_its_file_refuses_is_one_error_line(tmp_path):
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/ram_mnist.py:6,adam",
                            f"--workdir={tmp_path}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert ("error: --config=experiments/configs/ram_mnist.py:6,adam: config argument '6,adam' is not a valid form (the "
          "options after the glimpses must be 'sgd' and/or 'lstm', each at most once, not 'adam'); expected 'N' "
          "glimpses from 1 to 7, then ',sgd'" in proc.stderr)
  assert proc.stderr.count("\n") == 1


def test_wrong_type_for_a_field_is_refused(tmp_path):
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                            f"--workdir={tmp_path}", "--config.batch_size=many")
  assert proc.returncode != 0
  assert "batch_size" in proc.stderr and "many" in proc.stderr


def test_missing_config_file_is_refused(tmp_path):
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/nope.py", f"--workdir={tmp_path}")
  assert proc.returncode != 0
  assert "nope.py" in proc.stderr


def test_user_errors_print_one_clear_line_without_a_trace(tmp_path):
  proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                            f"--workdir={tmp_path / 'w'}", "--config.data.name=mnist_offline",
                            "--config.data.mnist_dir=/no/such/folder", TFDS())
  assert proc.returncode == 2
  assert "error: config field data.mnist_dir='/no/such/folder' is not a directory" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_evaluate_without_a_run_says_so(tmp_path):
  proc = helpers.run_binary("experiments.evaluate", f"--workdir={tmp_path}")
  assert proc.returncode == 2
  assert f"--workdir={tmp_path} holds no config.json" in proc.stderr


def test_ci_runs_exactly_the_test_command_of_the_readme():
  readme = open(os.path.join(helpers.REPO, "README.md"), encoding="utf-8").read()
  blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:]]
  install_and_run, test_command = blocks[0], blocks[1]
  assert "experiments.train" in install_and_run and "pip install" in install_and_run
  ci = open(os.path.join(helpers.REPO, ".ci", "run"), encoding="utf-8").read().strip().splitlines()
  assert ci[-1] == test_command


def test_a_user_error_is_said_once_and_cut_to_a_readable_length(capsys):
  import pytest  # pylint: disable=g-import-not-at-top
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  from experiments import cli  # pylint: disable=g-import-not-at-top

  def refuse():
    raise UserError("file x.tsv line 3: expected LABEL<TAB>TEXT, got " + "y" * 600_000)

  with pytest.raises(SystemExit) as stopped:
    cli.run_reporting_user_errors(refuse)
  err = capsys.readouterr().err
  assert stopped.value.code == 2 and err.count("\n") == 1 and err.startswith("error: file x.tsv line 3:")
  total = len("file x.tsv line 3: expected LABEL<TAB>TEXT, got ") + 600_000
  assert len(err) < 2100 and err.rstrip().endswith(f"({total - 2000} more characters)")
