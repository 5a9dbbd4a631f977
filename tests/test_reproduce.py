"""`experiments.reproduce` end to end on a tiny two-row, two-seed spec (local submitit executor), its idempotence,
the spec checks, and the SLURM job scripts submitit would hand to sbatch (a recording stand-in for sbatch)."""

import json
import os
import shutil
import pickle
import stat

import pytest

from attention_jax.errors import UserError
from experiments import reproduce, specs
from tests import helpers


def _spec(tmp_path):
  tfds = os.environ["ATTENTION_JAX_TFDS_DIR"]
  tiny = {"num_train_steps": 8, "log_every_steps": 4, "eval_every_steps": 8, "checkpoint_every_steps": 4,
          "data.tfds_data_dir": tfds}
  spec = {"title": "tiny", "metrics": ["error"], "rows": [
      {"id": "fc", "config": "experiments/configs/mnist_fc.py", "overrides": tiny | {"model.hidden": 16},
       "seeds": [0, 1], "row": "FC", "paper_error": 0.5},
      {"id": "conv", "config": "experiments/configs/mnist_conv.py", "overrides": tiny, "seeds": [0, 1],
       "row": "conv"}]}
  path = tmp_path / "tiny.spec.json"
  path.write_text(json.dumps(spec))
  return spec, path


def test_reproduce_trains_what_is_missing_collects_the_table_and_then_does_nothing(tmp_path):
  spec, path = _spec(tmp_path)
  root = tmp_path / "runs"
  proc = helpers.run_binary("experiments.reproduce", f"--spec={path}", f"--root={root}", "--dry_run")
  assert proc.returncode == 0 and proc.stdout.count(": to run") == 4 and not root.exists()
  assert f"--workdir={root}/conv_s1 --config.seed=1 --config.num_train_steps=8" in proc.stdout
  proc = helpers.run_binary("experiments.reproduce", f"--spec={path}", f"--root={root}", "--jobs=2", "--poll_s=2",
                            timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "reproduce: 4 runs, 0 finished before" in proc.stderr and "2 running, 2 waiting" in proc.stderr
  table = json.loads((root / "tiny.json").read_text())
  fc, conv = table["rows"]
  assert fc["id"] == "fc" and fc["seeds"] == [0, 1] and fc["steps"] == [8, 8] and len(fc["errors"]) == 2
  assert fc["workdirs"] == [str(root / "fc_s0"), str(root / "fc_s1")] and fc["paper_error"] == 0.5
  assert all(specs.measured_as_specified(entry, row) for entry, row in zip(spec["rows"], table["rows"]))
  for seed, error in enumerate(conv["errors"]):
    assert error == json.loads((root / f"conv_s{seed}" / "eval.json").read_text())["error"]
  assert "| FC | 50.00% |" in (root / "tiny.md").read_text()
  before = {p: p.stat().st_mtime for p in root.glob("*/eval.json")}
  proc = helpers.run_binary("experiments.reproduce", f"--spec={path}", f"--root={root}", "--dry_run")
  assert proc.stdout.count(": finished") == 4
  proc = helpers.run_binary("experiments.reproduce", f"--spec={path}", f"--root={root}")
  assert proc.returncode == 0 and "4 runs, 4 finished before" in proc.stderr
  assert before == {p: p.stat().st_mtime for p in root.glob("*/eval.json")}  # nothing ran again


def test_a_failing_run_is_reported_with_its_log_while_the_others_go_on(tmp_path):
  spec, path = _spec(tmp_path)
  spec["rows"][0]["overrides"]["data.name"] = "nope"  # refused by the config checks, before any training
  spec["rows"][1]["seeds"] = [0]
  path.write_text(json.dumps(spec))
  root = tmp_path / "runs"
  proc = helpers.run_binary("experiments.reproduce", f"--spec={path}", f"--root={root}", "--rows=fc",
                            "--jobs=2", "--poll_s=2", timeout=600)
  assert proc.returncode == 1 and "Traceback" not in proc.stderr
  for seed in (0, 1):
    assert (f"error: fc_s{seed} failed (error: config field data.name='nope' is not known" in proc.stderr
            and f"log: {root}/_reproduce/logs/fc_s{seed}.log" in proc.stderr)
  assert not (root / "tiny.json").exists()
  assert "the table is not collected: 3 of its runs are not finished (fc_s0, fc_s1, conv_s0)" in proc.stderr


def test_specs_are_checked_by_field_and_rows_sharing_an_id_must_agree(tmp_path):
  spec, _ = _spec(tmp_path)
  specs.check_spec(spec, "s.json")
  bad = [({"id": "a b"}, "field 'id'"), ({"config": "x"}, "field 'config'"), ({"seeds": [0, 0]}, "repeats"),
         ({"seeds": []}, "field 'seeds'"), ({"overrides": [1]}, "field 'overrides'")]
  for change, message in bad:
    with pytest.raises(UserError, match=message):
      specs.check_spec({"rows": [spec["rows"][0] | change]}, "s.json")
  with pytest.raises(UserError, match="shares id 'fc'"):
    specs.check_spec({"rows": [spec["rows"][0], spec["rows"][1] | {"id": "fc"}]}, "s.json")
  with pytest.raises(UserError, match="--rows=nope: nope is not a row id"):
    reproduce.selected_runs(spec, str(tmp_path), ["nope"], [])
  assert [r.name for r in reproduce.selected_runs(spec, str(tmp_path), ["conv"], ["1"])] == ["conv_s1"]
  # A pinned field is passed to the run but may be absent from a measured command (it was the default then).
  entry = {"id": "r", "config": "c.py", "overrides": {"data.name": "mnist"}, "pinned": {"num_train_steps": 20000}}
  train, _ = specs.run_commands(entry, 0, "/w/r_s0")
  assert train[-2:] == ("--config.data.name=mnist", "--config.num_train_steps=20000")
  measured = {"command": ["python -m experiments.train --workdir=/old/r_s0 --config=c.py --config.data.name=mnist"],
              "seeds": [0]}
  assert specs.measured_as_specified(entry, measured)
  assert not specs.measured_as_specified(entry, {**measured, "command": [measured["command"][0] + " --config.seed=1"]})


def test_the_slurm_path_writes_the_job_script_sbatch_would_get(tmp_path, monkeypatch):
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  sbatch = bin_dir / "sbatch"  # records what it was handed, answers as SLURM does
  sbatch.write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\necho 'Submitted batch job 4242'\n")
  sbatch.chmod(sbatch.stat().st_mode | stat.S_IEXEC)
  (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it; the job script calls it
  (bin_dir / "srun").chmod(0o755)
  monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
  spec, _ = _spec(tmp_path)
  (run, *_) = specs.runs(spec, str(tmp_path / "runs"))
  executor = reproduce.make_executor("slurm", str(tmp_path / "submitit"), partition="gpu", gpus=1, cpus=6,
                                     time_min=90, account="lab")
  job = executor.submit(reproduce.run_job, (run.train, run.evaluate), str(tmp_path / "fc_s0.log"))
  assert job.job_id == "4242"
  script = (tmp_path / "submitted.sh").read_text()
  for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --cpus-per-task=6",
               "#SBATCH --time=90", "#SBATCH --account=lab", "#SBATCH --job-name=attention_jax",
               "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=1"):
    assert line in script
  assert "submitit.core._submit" in script
  with open(tmp_path / "submitit" / "4242_submitted.pkl", "rb") as f:
    submitted = pickle.load(f)
  assert submitted.function is reproduce.run_job
  assert submitted.args == ((run.train, run.evaluate), str(tmp_path / "fc_s0.log"))
  assert run.train[:4] == ("python", "-m", "experiments.train", "--config=experiments/configs/mnist_fc.py")


def _fake_finished_run(work, steps=8):
  os.makedirs(work)
  for name, value in (("config.json", {"num_train_steps": steps}), ("run.json", {"steps": steps}),
                      ("eval.json", {"error": 0.1})):
    with open(os.path.join(work, name), "w", encoding="utf-8") as f:
      json.dump(value, f)


def test_partial_collection_keeps_the_rows_whose_runs_all_finished(tmp_path):
  spec, _ = _spec(tmp_path)
  root = tmp_path / "runs"
  for seed in (0, 1):
    _fake_finished_run(specs.workdir(str(root), "fc", seed))
  _fake_finished_run(specs.workdir(str(root), "conv", 0))  # seed 1 of conv has not run
  partial = reproduce.finished_rows(spec, str(root))
  assert [row["id"] for row in partial["rows"]] == ["fc"] and partial["unfinished_rows"] == ["conv"]
  with pytest.raises(UserError, match="no row of --spec has all its runs finished"):
    reproduce.finished_rows(spec, str(tmp_path / "empty"))
  # With a table collected before, a row whose workdirs are all gone is carried from it if it holds that row.
  conv = spec["rows"][1]
  flags_of = lambda seed: " ".join(f"--config.{k}={v}" for k, v in conv["overrides"].items())
  measured = {"id": "conv", "seeds": [0, 1], "command": [
      f"python -m experiments.train --config={conv['config']} --workdir=/gone/conv_s{s} --config.seed={s} "
      f"{flags_of(s)}" for s in (0, 1)]}
  assert specs.measured_as_specified(conv, measured)
  shutil.rmtree(specs.workdir(str(root), "conv", 0))
  carried = reproduce.finished_rows(spec, str(root), {"rows": [measured]})
  assert [row["id"] for row in carried["rows"]] == ["fc", "conv"] and carried["unfinished_rows"] == []
  other = dict(measured, command=[c.replace("--config.seed=1", "--config.seed=2") for c in measured["command"]])
  assert reproduce.finished_rows(spec, str(root), {"rows": [other]})["unfinished_rows"] == ["conv"]
