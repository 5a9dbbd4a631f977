"""Hostile inputs and faults end in one `error:` line naming the culprit (no traceback, nothing accepted silently,
no workdir left unusable): config arguments, out-of-range fields, damaged files and checkpoints, a full disk,
data warnings said again on every run, and data files changed under a run."""

import json
import math
import os
import subprocess

import pytest

from attention_jax import io_utils, run_record
from attention_jax.data import notes, text_classification
from attention_jax.errors import UserError
from attention_jax.training import config_checks, loop, workdir as workdir_lib
from experiments.configs import arguments, mnist_fc, nmt_europarl, ram_cluttered, ram_mnist, ram_translated, textcls
from tests import helpers


@pytest.mark.parametrize("module, arg, detail", [
    (ram_cluttered, "70,6", "canvas size '70' is none of 60, 100"),
    (ram_cluttered, "60,abc", "row 'abc' is not a whole number from 1 to 8"),
    (ram_cluttered, "60", "it needs the canvas size and the row"),
    (ram_cluttered, "60,conv,sgd", "the baselines take no options"),
    (ram_mnist, "6,x", "must be 'sgd' and/or 'lstm'"),
    (ram_mnist, "0", "not a whole number from 1 to 7"),
    (ram_translated, "fc,sgd", "the baselines take no options"),
    (nmt_europarl, "rnnsearch,x", "length limit 'x' is not a whole number from 1 to 1000"),
    (nmt_europarl, "transformer", "model 'transformer' is none of rnnsearch, rnnencdec"),
    (textcls, "imdb", "dataset 'imdb' is none of sst2, mr, trec"),
    (textcls, "sst2,gru", "model 'gru' is none of attention, last, mean, max, cnn"),
])
def test_a_config_argument_of_no_known_form_names_it_and_lists_the_forms(module, arg, detail):
  with pytest.raises(arguments.ConfigArgumentError) as refused:
    module.get_config(arg)
  message = str(refused.value)
  assert message.startswith(f"config argument {arg!r} is not a valid form") and detail in message
  assert message.endswith(f"expected {module.FORMS}")


def test_a_config_without_an_argument_refuses_one():
  with pytest.raises(arguments.ConfigArgumentError, match="this config takes none"):
    mnist_fc.get_config("3")


@pytest.mark.parametrize("config, expected", [
    ("experiments/configs/nope.py", "cannot load the config file: [Errno 2] No such file or directory"),
    ("BAD_SYNTAX", "cannot load the config file: invalid syntax (line 1)"),
    ("experiments/configs/ram_cluttered.py:70,6", "config argument '70,6' is not a valid form"),
])
def test_the_config_flag_gives_one_error_line_without_a_traceback(tmp_path, config, expected):
  if config == "BAD_SYNTAX":
    config = str(tmp_path / "bad.py")
    (tmp_path / "bad.py").write_text("def get_config(:\n")
  proc = helpers.run_binary("experiments.train", f"--config={config}", f"--workdir={tmp_path / 'w'}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1 and errors[0].startswith(f"error: --config={config}: {expected}")
  assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("field, value, expected", [
    ("model.hidden", 0, "config field model.hidden=0 must be an integer >= 1"),
    ("seed", -1, "config field seed=-1 must be an integer >= 0"),
    ("optimizer.learning_rate", math.nan, "config field optimizer.learning_rate=nan must be a finite number"),
    ("optimizer.learning_rate", 0.0, "expected a number in (0, inf)"),
    ("optimizer.momentum", 1.0, "expected a number in [0, 1)"),
    ("batch_size", 0, "config field batch_size=0 must be an integer >= 1"),
    ("data.buckets", (8, 0), "every entry must be an integer >= 1"),
])
def test_an_out_of_range_field_is_refused_before_the_run_starts(tmp_path, field, value, expected):
  config = helpers.tiny_classifier_config(**{field: value})
  with pytest.raises(UserError) as refused:
    loop.train_and_evaluate(config, str(tmp_path / "w"))
  assert expected in str(refused.value)
  assert not (tmp_path / "w").exists()  # refused before anything was written


@pytest.mark.parametrize("field, value", [("model.location_std", 0.0), ("reinforce.weight", math.nan),
                                          ("reinforce.eval_samples", 0), ("model.glimpse.size", 0)])
def test_ram_fields_are_checked_with_their_ranges(field, value):
  with pytest.raises(UserError, match=f"config field {field}="):
    config_checks.check_fields(helpers.with_overrides(ram_mnist.get_config("6"), {field: value}))


def test_every_shipped_config_passes_the_field_checks():
  for module, args in ((ram_mnist, ("2", "7,sgd", "6,lstm")), (ram_cluttered, ("60,6", "100,random", "60,conv")),
                       (ram_translated, ("8", "fc")), (nmt_europarl, ("rnnsearch,50", "rnnencdec,30,paper")),
                       (textcls, ("sst2", "trec,cnn", "mr,max"))):
    for arg in args:
      config_checks.check_fields(module.get_config(arg))
  config_checks.check_fields(mnist_fc.get_config())


@pytest.mark.parametrize("text, expected", [('{"a": ', "not valid JSON"), ("[1, 2]", "expected a JSON object"),
                                            (b"\xff\xfe", "not valid JSON")])
def test_a_damaged_json_file_of_a_workdir_is_named(tmp_path, text, expected):
  path = tmp_path / "config.json"
  path.write_bytes(text if isinstance(text, bytes) else text.encode())
  with pytest.raises(UserError, match=f"{path} is damaged: {expected}"):
    workdir_lib.load_config(str(tmp_path))


def _damage_every_checkpoint(workdir):
  for folder, _, files in os.walk(os.path.join(workdir, "checkpoints")):
    for name in files:
      if "/d" in folder:  # the array data of each checkpoint
        path = os.path.join(folder, name)
        with open(path, "r+b") as f:
          f.truncate(8)


def test_all_checkpoints_damaged_evaluate_says_what_it_found_and_training_starts_over(tmp_path, caplog):
  config = helpers.tiny_classifier_config(num_devices=1, num_train_steps=4, checkpoint_every_steps=2)
  workdir = str(tmp_path / "w")
  loop.train_and_evaluate(config, workdir)
  _damage_every_checkpoint(workdir)
  proc = helpers.run_binary("experiments.evaluate", f"--workdir={workdir}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
  assert proc.stderr.count("is damaged") == 2  # one warning per checkpoint, naming it
  assert proc.stderr.strip().splitlines()[-1] == (
      f"error: --workdir={workdir}: nothing to evaluate: every checkpoint in {workdir}/checkpoints was damaged "
      f"(steps 2, 4; moved to {workdir}/checkpoints_broken)")
  loop.train_and_evaluate(config, workdir)  # the moved checkpoints are gone: a fresh start, said as such
  _damage_every_checkpoint(workdir)
  caplog.clear()
  final = loop.train_and_evaluate(config, workdir)
  assert "was damaged (steps 2, 4; moved to" in caplog.text and "starting over from step 0" in caplog.text
  assert int(final.step) == 4


def _small_disk(tmp_path):
  folder = tmp_path / "disk"
  folder.mkdir()
  done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True,
                        check=False)
  if done.returncode != 0:
    pytest.skip("mounting a small tmpfs is not allowed here")
  return folder


def test_a_full_disk_ends_with_one_error_line_and_no_temporary_folder(tmp_path):
  disk = _small_disk(tmp_path)
  try:
    workdir = disk / "run"
    proc = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                              f"--workdir={workdir}", "--config.num_train_steps=20", "--config.log_every_steps=10",
                              "--config.eval_every_steps=10", "--config.checkpoint_every_steps=10",
                              f"--config.data.tfds_data_dir={os.environ['ATTENTION_JAX_TFDS_DIR']}")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: no space left on the device"), errors
    assert not [n for n in os.listdir(workdir / "checkpoints") if "tmp" in n]
  finally:
    subprocess.run(["umount", str(disk)], check=False)


def test_data_warnings_are_said_on_every_run_and_recorded_in_run_json(tmp_path, caplog):
  config = helpers.tiny_textcls_config(tmp_path / "data")
  with open(config.data.train_path, "a", encoding="utf-8") as f:
    f.write("a line with no tab\n")
  first = len(notes.RUN)
  text_classification.read_splits(config.data)  # prepares the data: the skipped line is found
  caplog.clear()
  text_classification.read_splits(config.data)  # reads what was prepared: said again
  assert f"{config.data.train_path}: skipped 1 bad lines" in caplog.text
  assert "(found when this data was prepared)" in caplog.text
  recorder = run_record.Recorder(str(tmp_path), "python -m experiments.train x", helpers.REPO)
  recorder.first_note = first
  record = recorder.update(1)
  assert [w for w in record["data_warnings"] if "skipped 1 bad lines" in w]
  assert json.loads((tmp_path / "run.json").read_text())["data_warnings"] == record["data_warnings"]


def test_a_data_file_changed_under_a_run_is_refused_on_resume(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "data")
  workdir = str(tmp_path / "w")
  os.makedirs(os.path.join(workdir, "checkpoints", "3"))  # a run with a saved step
  workdir_lib.check_inputs(config, workdir)
  recorded = io_utils.read_json(os.path.join(workdir, "inputs.json"))
  assert sorted(recorded) == sorted(os.path.abspath(p) for p in (config.data.train_path, config.data.test_path))
  workdir_lib.check_inputs(config, workdir)  # unchanged: resumes
  lines = open(config.data.train_path, encoding="utf-8").read().splitlines(keepends=True)
  labels = sorted({l.split("\t")[0] for l in lines})
  turn = dict(zip(labels, labels[1:] + labels[:1]))
  rotated = [f"{turn[l.split(chr(9))[0]]}\t{l.split(chr(9), 1)[1]}" for l in lines]
  with open(config.data.train_path, "w", encoding="utf-8") as f:
    f.writelines(rotated)  # the same size, other labels
  with pytest.raises(UserError, match=f"{config.data.train_path} changed since this run started"):
    workdir_lib.check_inputs(config, workdir)
