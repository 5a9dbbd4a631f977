"""Preemption and broken state: killed runs resume exactly, SIGTERM checkpoints and exits, broken checkpoints are
skipped, a checkpoint of another config is refused, files are replaced atomically."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from attention_jax import io_utils, run_record
from attention_jax.errors import UserError
from attention_jax.training import loop
from tests import helpers

KILLS = {"classifier": 2, "ram": 1, "translation": 1, "catch": 1, "textcls": 1}  # process starts (compilation) are the slow part
FAMILIES = {
    "classifier": ["--config=experiments/configs/mnist_fc.py", "--config.model.hidden=32"],
    "ram": ["--config=experiments/configs/ram_mnist.py:3", "--config.model.core_size=64",
            "--config.model.glimpse.output=64", "--config.reinforce.eval_samples=1", "--config.model.unroll=1"],
    "translation": ["--config=experiments/configs/nmt_dates.py:rnnsearch", "--config.model.embed=16",
                    "--config.model.hidden=24", "--config.model.maxout=12", "--config.model.alignment=16",
                    "--config.data.sizes=(400,40,40)", "--config.data.buckets=()", "--config.eval_batch_size=40",
                    "--config.optimizer.warmup_steps=0"],
    "catch": ["--config=experiments/configs/ram_catch.py", "--config.model.core_size=32",
              "--config.model.glimpse.what_hidden=16", "--config.model.glimpse.where_hidden=16",
              "--config.model.glimpse.output=32", "--config.eval_games=40", "--config.eval_batch_size=40"],
    "textcls": ["--config=experiments/configs/textcls.py:sst2", "--config.model.embed_size=16",
                "--config.model.hidden=16", "--config.model.attention_size=16", "--config.data.valid_path=",
                "--config.eval_batch_size=40"],  # data paths: helpers.write_cue_sentences (train_args)
}
COMMON = ["--config.batch_size=32", "--config.num_train_steps=30", "--config.log_every_steps=1",
          "--config.eval_every_steps=30", "--config.checkpoint_every_steps=3", "--config.eval_batch_size=500",
          "--config.optimizer.schedule=constant", "--config.optimizer.cooldown_steps=0", "--config.keep_checkpoints=2"]


def train_args(family, workdir):
  config, *overrides = FAMILIES[family]  # --config first; the family's overrides win over COMMON's
  if family == "textcls":
    paths = helpers.write_cue_sentences(os.path.join(os.environ["ATTENTION_JAX_TFDS_DIR"], "cue_sentences"))
    overrides += [f"--config.data.train_path={paths['train']}", f"--config.data.test_path={paths['test']}"]
  return ["-m", "experiments.train", config, *COMMON, *overrides, f"--workdir={workdir}",
          f"--config.data.tfds_data_dir={os.environ['ATTENTION_JAX_TFDS_DIR']}"]


def start(family, workdir, log_path):
  env = dict(os.environ, XLA_FLAGS=helpers.SUBPROCESS_XLA_FLAGS)  # no simulated devices; see conftest
  log = open(log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
  return subprocess.Popen([sys.executable, *train_args(family, workdir)], cwd=helpers.REPO, env=env,
                          stdout=log, stderr=subprocess.STDOUT), log


def logged_steps(log_path):
  with open(log_path, encoding="utf-8") as f:
    return [int(m) for m in re.findall(r"step (\d+)/30 \(", f.read())]


def wait_for_step(proc, log_path, step, timeout=180):
  deadline = time.time() + timeout
  while time.time() < deadline:
    if proc.poll() is not None:
      return False
    if any(s >= step for s in logged_steps(log_path)):
      return True
    time.sleep(0.02)
  raise AssertionError(f"no step {step} within {timeout}s: {open(log_path).read()[-2000:]}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path, family):
  straight = tmp_path / "straight"
  proc = helpers.run_binary(*train_args(family, straight)[1:])
  assert proc.returncode == 0, proc.stderr[-3000:]

  rng = random.Random(hash(family) % 1000)
  workdir, kills = tmp_path / "killed", 0
  for attempt in range(8):
    log_path = tmp_path / f"log{attempt}"
    proc, log = start(family, workdir, log_path)
    if kills < KILLS[family]:
      target = rng.randint(2, 26)
      if wait_for_step(proc, log_path, target):
        time.sleep(rng.uniform(0, 0.05))  # land anywhere: inside a step, a log write or a checkpoint save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        log.close()
        kills += 1
        last_logged = max(logged_steps(log_path), default=0)
        resumed_from, _ = helpers.final_state(workdir) if (workdir / "config.json").exists() else (0, None)
        assert last_logged - (resumed_from or 0) <= 3 + 1, (last_logged, resumed_from)  # at most one interval
        continue
    assert proc.wait(timeout=300) == 0, open(log_path).read()[-3000:]
    log.close()
    break
  assert kills == KILLS[family]
  step_a, state_a = helpers.final_state(straight)
  step_b, state_b = helpers.final_state(workdir)
  assert step_a == step_b == 30
  helpers.assert_bit_identical(state_a, state_b)
  strip = lambda rows: [{k: v for k, v in r.items() if k != "steps_per_s"} for r in rows]
  assert strip(io_utils.read_json_lines(str(straight / "metrics.jsonl"))) == \
      strip(io_utils.read_json_lines(str(workdir / "metrics.jsonl")))
  assert io_utils.read_json(str(workdir / "run.json"))["steps"] == 30


def test_sigterm_saves_the_current_step_and_exits_143(tmp_path):
  workdir = tmp_path / "w"
  proc, log = start("classifier", workdir, tmp_path / "log")
  assert wait_for_step(proc, tmp_path / "log", 4)
  proc.send_signal(signal.SIGTERM)
  assert proc.wait(timeout=120) == 143  # not 0: `train && evaluate` must not go on with a half-trained model
  log.close()
  text = open(tmp_path / "log").read()
  stopped_at = int(re.search(r"signal 15: saving step (\d+) and exiting", text).group(1))
  step, _ = helpers.final_state(workdir)
  assert step == stopped_at and 4 <= stopped_at < 30
  assert f"stopped by a signal at step {stopped_at} of 30, after its checkpoint; run the same command" in text


def tiny(tmp_path, name="w", **overrides):
  fields = dict(num_devices=1, num_train_steps=8, checkpoint_every_steps=2, keep_checkpoints=5) | overrides
  return helpers.tiny_classifier_config(**fields), str(tmp_path / name)


@pytest.mark.parametrize("damage", ["truncated", "half_deleted", "unfinished_tmp"])
def test_a_broken_newest_checkpoint_falls_back_to_the_newest_good_one(tmp_path, damage, caplog):
  config, reference = tiny(tmp_path, "reference")
  expected = loop.train_and_evaluate(config, reference)
  config, workdir = tiny(tmp_path, num_train_steps=6)
  loop.train_and_evaluate(config, workdir)
  newest = os.path.join(workdir, "checkpoints", "6")
  if damage == "truncated":
    files = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(newest, "state")) for f in fs]
    for path in files:  # cut every data file in half
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  elif damage == "half_deleted":
    shutil.rmtree(os.path.join(newest, "state"))
  else:  # a save killed before Orbax's final rename
    os.rename(newest, newest + ".orbax-checkpoint-tmp-1234")
  config, _ = tiny(tmp_path)
  final = loop.train_and_evaluate(config, workdir)  # resumes from step 4 and trains to 8
  helpers.assert_bit_identical(expected.params, final.params)
  if damage != "unfinished_tmp":
    assert "checkpoint 6 is damaged" in caplog.text
    assert os.listdir(os.path.join(workdir, "checkpoints_broken"))


def test_a_checkpoint_of_another_config_is_refused_by_shape(tmp_path):
  config, workdir = tiny(tmp_path)
  loop.train_and_evaluate(config, workdir)
  os.remove(os.path.join(workdir, "config.json"))  # nothing left to compare but the arrays
  config, _ = tiny(tmp_path, **{"model.hidden": 48})
  with pytest.raises(UserError, match="written by a different config"):
    loop.train_and_evaluate(config, workdir)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["2", "4", "6", "8"]  # untouched


def test_checkpoints_keep_the_run_record_current_so_a_killed_invocation_still_counts(tmp_path):
  """run.json's wall time: each checkpoint rewrites it (earlier invocations' seconds + this one's so far), so a
  SIGKILL loses only the seconds after the last checkpoint, and a resumed invocation adds to what is there."""
  config, workdir = tiny(tmp_path, num_train_steps=5)
  saved = []
  loop.train_and_evaluate(config, workdir, on_checkpoint=saved.append)
  assert saved == [2, 4, 5]  # every 2 steps, and the last one
  now = iter([100.0, 130.0, 160.0, 1000.0, 1010.0])
  first = run_record.Recorder(workdir, "python -m experiments.train a", helpers.REPO, clock=lambda: next(now))
  assert first.update(2)["wall_s"] == 30.0
  assert first.update(4) == io_utils.read_json(os.path.join(workdir, "run.json"))
  # killed here: no final update; the next invocation starts from the 60 s the checkpoint at step 4 recorded
  second = run_record.Recorder(workdir, "python -m experiments.train b", helpers.REPO, clock=lambda: next(now))
  rec = second.update(6)
  assert rec["wall_s"] == 70.0 and rec["steps"] == 6 and rec["command"] == "python -m experiments.train b"
  assert "cpu" in rec["hardware"] and rec["commit"]


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
  path = str(tmp_path / "metrics.jsonl")
  io_utils.atomic_write_json_lines(path, [{"step": 1}])

  def interrupted(fd):
    raise KeyboardInterrupt  # a signal arriving mid-write

  monkeypatch.setattr(os, "fsync", interrupted)
  with pytest.raises(KeyboardInterrupt):
    io_utils.atomic_write_json_lines(path, [{"step": 1}, {"step": 2}])
  assert io_utils.read_json_lines(path) == [{"step": 1}]
  assert os.listdir(tmp_path) == ["metrics.jsonl"]  # no temporary file left behind


def test_metrics_are_appended_and_cut_back_to_the_resume_step(tmp_path):
  """metrics.jsonl is appended to (the same file, one line per row), and a resume cuts it back once: rows past the
  resume step and a line cut short by a kill are dropped, every earlier row is kept."""
  from attention_jax.training import metrics  # pylint: disable=g-import-not-at-top
  path = tmp_path / "metrics.jsonl"
  writer = metrics.MetricWriter(str(tmp_path), 0, 10)
  writer.write(2, "train", {"loss": 1.0})
  inode = os.stat(path).st_ino
  for step in (4, 6):
    writer.write(step, "train", {"loss": 1.0 / step})
  writer.close()
  assert os.stat(path).st_ino == inode  # appended, never replaced
  assert [r["step"] for r in io_utils.read_json_lines(str(path))] == [2, 4, 6]
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"step": 8, "split": "tr')  # a kill in the middle of an append
  assert [r["step"] for r in io_utils.read_json_lines(str(path))] == [2, 4, 6]
  resumed = metrics.MetricWriter(str(tmp_path), 4, 10)  # the newest checkpoint was step 4
  assert [r["step"] for r in io_utils.read_json_lines(str(path))] == [2, 4]
  resumed.write(6, "train", {"loss": 0.5})
  resumed.close()
  assert io_utils.read_json_lines(str(path), with_partial=True) == [
      {"step": 2, "split": "train", "loss": 1.0}, {"step": 4, "split": "train", "loss": 0.25},
      {"step": 6, "split": "train", "loss": 0.5}]


def test_a_workdir_from_before_a_field_was_added_resumes(tmp_path):
  """config.json written before `optimizer.weight_decay_type` existed: the run resumes (the old behaviour is the
  field's default), but not with the field set to something else."""
  config, workdir = tiny(tmp_path, num_train_steps=4)
  loop.train_and_evaluate(config, workdir)
  path = os.path.join(workdir, "config.json")
  old = io_utils.read_json(path)
  del old["optimizer"]["weight_decay_type"]
  io_utils.atomic_write_json(path, old)
  config, _ = tiny(tmp_path, num_train_steps=6)
  assert int(loop.train_and_evaluate(config, workdir).step) == 6
  io_utils.atomic_write_json(path, old)
  config, _ = tiny(tmp_path, num_train_steps=8, **{"optimizer.weight_decay_type": "decoupled"})
  with pytest.raises(UserError, match="optimizer.weight_decay_type: None -> 'decoupled'|weight_decay_type: 'l2'"):
    loop.train_and_evaluate(config, workdir)


def test_a_failed_first_run_leaves_its_workdir_free_for_the_corrected_rerun(tmp_path, caplog):
  """A run that fails before its first checkpoint holds no run to protect: the rerun, with the mistake corrected,
  starts cleanly in the same workdir (it was refused as 'a different config')."""
  config, workdir = tiny(tmp_path, checkpoint_every_steps=8)
  config.optimizer.learning_rate = 1e6  # non-finite within the first steps, before the first checkpoint
  with pytest.raises(UserError, match="non-finite"):
    loop.train_and_evaluate(config, workdir)
  assert os.path.exists(os.path.join(workdir, "config.json"))
  config.optimizer.learning_rate = 0.05
  final = loop.train_and_evaluate(config, workdir)
  assert int(final.step) == 8 and "saved no checkpoint; starting over there" in caplog.text
  assert io_utils.read_json(os.path.join(workdir, "config.json"))["optimizer"]["learning_rate"] == 0.05
  config.optimizer.learning_rate = 0.1  # with a checkpoint there, another config is still refused
  with pytest.raises(UserError, match="holds a run of a different config"):
    loop.train_and_evaluate(config, workdir)
