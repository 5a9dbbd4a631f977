"""A run's workdir: is it writable, does its config.json describe the same experiment, and reading it back."""

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import shutil
import tempfile

from absl import logging
import ml_collections

from attention_jax import config_layout, io_utils
from attention_jax.errors import UserError

# Fields that may differ when a run resumes in an existing workdir (they change how long or how visibly it runs,
# not what it computes).
RESUMABLE_FIELDS = ("num_train_steps", "log_every_steps", "eval_every_steps", "checkpoint_every_steps",
                    "keep_checkpoints", "parallel", "num_devices", "data.tfds_data_dir", "data.mnist_dir",
                    "eval_batch_size", "decode.method", "decode.beam_size", "decode.length_penalty",
                    "num_heatmaps", "heatmap_min_source_len", "evals", "num_strips")

# Fields added to the configs after runs were made, with the value that reproduces what those runs computed: a
# workdir whose config.json lacks one resumes if the new config holds that value.
ADDED_FIELDS = {"optimizer.weight_decay_type": "l2", "model.glimpse.pooling": "mean",
                "model.baseline_trains_core": True, "reinforce.entropy_weight": 0.0, "reinforce.discount": 1.0,
                "eval_split": "test", "select_by": "", "data.validation_fraction": 0.0,
                "model.location_net_hidden": 0, "model.baseline_input": "state"}


def upgrade(config: dict) -> dict:
  """A config.json written before the model registry (November 2026) in today's layout, so old workdirs resume
  and evaluate: RAM and Catch models get their `name`, the glimpse fields become the `model.glimpse` block, loss and
  policy fields move to `reinforce` (`config_layout.MOVED`), and a translation model keeps only its own
  arguments. A config already in today's layout is returned unchanged."""
  config = copy.deepcopy(config)
  model = config.get("model", {})
  if "name" not in model and config.get("task") in ("ram", "catch"):
    model["name"] = "ram" if config["task"] == "ram" else "catch_agent"
  for old, new in config_layout.MOVED.items():
    if old in model:
      section, *path = new.split(".")
      target = model.setdefault("glimpse", {}) if section == "model" else config.setdefault(section, {})
      target[path[-1]] = model.pop(old)
  unused = {"rnnsearch": ("reverse_source", "repeat_source"), "rnnencdec": ("alignment", "attention")}
  for field in unused.get(model.get("name"), ()):
    model.pop(field, None)
  return config


def flat_fields(config) -> dict:
  """{'a.b': value} for every leaf of a config (a ConfigDict or the dict read back from config.json)."""
  d = config.to_dict() if hasattr(config, "to_dict") else config
  out = {}
  for k, v in d.items():
    if isinstance(v, dict):
      out.update({f"{k}.{kk}": vv for kk, vv in flat_fields(v).items()})
    else:
      out[k] = list(v) if isinstance(v, tuple) else v
  return out


def check_same_experiment(config, workdir: str) -> None:
  """Refuses to resume a workdir whose config.json describes a different experiment (nothing is overwritten)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  old = flat_fields(upgrade(io_utils.read_json(path)))
  new = flat_fields(json.loads(config.to_json_best_effort()))
  old = {k: v for k, v in ADDED_FIELDS.items() if k in new} | old
  differ = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in RESUMABLE_FIELDS)
  if differ:
    shown = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differ)
    if not holds_checkpoint(workdir):
      logging.warning("workdir %s holds the files of a run of another config (%s) that saved no checkpoint; "
                      "starting over there", workdir, shown[:500])
      clear_unstarted_run(workdir)
      return
    raise UserError(f"workdir {workdir} holds a run of a different config ({shown}). Either pass a new --workdir, "
                    f"or rerun with the config that made it (all its fields are in {path})")


STARTED_RUN_FILES = ("config.json", "metrics.jsonl", "run.json", "eval.json", "inputs.json", "tensorboard", "plots",
                     "checkpoints", "checkpoint_selected")


def holds_checkpoint(workdir: str) -> bool:
  """Whether `workdir` holds a saved step (a run worth protecting), in checkpoints/ or checkpoint_selected/."""
  for sub in ("checkpoints", "checkpoint_selected"):
    folder = os.path.join(workdir, sub)
    if os.path.isdir(folder) and any(name.isdigit() for name in os.listdir(folder)):
      return True
  return False


def clear_unstarted_run(workdir: str) -> None:
  """Removes what a run that never saved a step left in `workdir` (a failed first run), so a rerun starts clean."""
  for name in STARTED_RUN_FILES:
    path = os.path.join(workdir, name)
    if os.path.isdir(path):
      shutil.rmtree(path)
    elif os.path.exists(path):
      os.remove(path)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise UserError(f"--workdir={workdir} holds no config.json; expected the workdir of a training run")
  return ml_collections.ConfigDict(upgrade(io_utils.read_json(path)))


def prepare_workdir(workdir: str) -> None:
  try:
    os.makedirs(workdir, exist_ok=True)
    # A probe of its own per process: the processes of a multi-host job check the same workdir at once.
    with tempfile.NamedTemporaryFile(dir=workdir, prefix=".write_test_"):
      pass
  except OSError as e:
    raise UserError(f"--workdir={workdir} is not writable ({e.strerror})") from e


LOCK_FILE = ".lock"  # held (flock) by the training run in a workdir


@contextlib.contextmanager
def exclusive(workdir: str):
  """Holds WORKDIR/.lock while a run trains there: a second training run in the same workdir is refused, and
  `in_use` tells others (`experiments.reproduce`) that one is running. The lock goes with the process, however it
  ends."""
  prepare_workdir(workdir)
  path = os.path.join(workdir, LOCK_FILE)
  with open(path, "a", encoding="utf-8") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      raise UserError(f"--workdir={workdir} is in use by another training run (it holds {path}); wait for it to "
                      "end, or stop it (it saves a checkpoint on SIGTERM) and run again") from e
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def in_use(workdir: str) -> bool:
  """Whether a training run holds `workdir`'s lock now."""
  path = os.path.join(workdir, LOCK_FILE)
  if not os.path.exists(path):
    return False
  with open(path, "a", encoding="utf-8") as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      return True
    fcntl.flock(f, fcntl.LOCK_UN)
    return False


INPUTS_FILE = "inputs.json"
INPUT_FIELDS = ("data.path", "data.train_path", "data.valid_path", "data.test_path")
MNIST_FILES_PROTOCOLS = ("mnist", "mnist_offline")  # the data.name values that read data.mnist_dir


def input_files(config) -> list:
  """The absolute paths of the data files a run of `config` reads: the files its path fields name, and the files
  of data.mnist_dir under the protocols that read it."""
  data = config.get("data", {})
  paths = [data.get(field.split(".", 1)[1], "") for field in INPUT_FIELDS]
  paths = [os.path.abspath(os.path.expanduser(p)) for p in paths if p and os.path.isfile(os.path.expanduser(p))]
  folder = os.path.expanduser(data.get("mnist_dir", "") or "")
  if data.get("name") in MNIST_FILES_PROTOCOLS and folder and os.path.isdir(folder):
    paths += [os.path.abspath(os.path.join(folder, n)) for n in sorted(os.listdir(folder))
              if os.path.isfile(os.path.join(folder, n))]
  return sorted(set(paths))


def fingerprint(path: str) -> dict:
  """{size, sha256} of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


def check_inputs(config, workdir: str) -> None:
  """Refuses to resume a run whose data files changed since it started (WORKDIR/inputs.json records each file's
  size and SHA-256 when the run starts); otherwise records them. A workdir with no checkpoint has nothing to
  protect: its record is written anew."""
  path = os.path.join(workdir, INPUTS_FILE)
  now = {p: fingerprint(p) for p in input_files(config)}
  if os.path.exists(path) and holds_checkpoint(workdir):
    for name, was in io_utils.read_json(path).items():
      if name not in now and os.path.exists(name):
        now[name] = fingerprint(name)
      if name not in now:
        raise UserError(f"{name}: this run read it and it is gone; restore it, or pass a new --workdir")
      if now[name] != was:
        raise UserError(f"{name} changed since this run started in {workdir} (size {was.get('size')} -> "
                        f"{now[name]['size']} bytes, sha256 {str(was.get('sha256'))[:12]} -> "
                        f"{now[name]['sha256'][:12]}); its checkpoints were trained on the old contents: restore the "
                        "file, or pass a new --workdir to train on the new one")
  io_utils.atomic_write_json(path, now)
