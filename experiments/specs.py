r"""A results table's spec (`results/NAME.spec.json`) is the table's definition: which runs make it and how.

Every row names its runs, beside its fixed fields (the paper's number, labels, the evaluation rule it reads):

  {"id": "full_m28_6",                                # the runs' name: workdir ROOT/full_m28_6_s0, ..._s1
   "config": "experiments/configs/ram_mnist.py:6",    # the config file and its argument
   "overrides": {"data.name": "mnist"},               # --config.FIELD=VALUE of every run of the row
   "seeds": [0, 1],                                   # one run per value of `seed_field` ("seed" unless named:
   "seed_field": "seed",                              #   MR's 10 folds are "data.fold")
   "pinned": {"num_train_steps": 20000},              # config defaults the measured runs had, since changed
   "row": "RAM, 6 glimpses, 8x8, 1 scale", "paper_error": 0.0112, ...}

`pinned` fields are passed like overrides; they hold what a measured run got from its config file's defaults of
the day, which its recorded command does not show, so that a rerun computes what the table reports. Rows that
pool the same runs (a per-seed row and an all-seeds row) share an `id`, and must then agree on config and
overrides. A translation spec names its runs the same way under `"models": {NAME: {"id": ..., "config": ...}}`.
The run of (id, seed) trains in `ROOT/ID_sSEED` with

  python -m experiments.train --config=CONFIG --workdir=ROOT/ID_sSEED --config.SEED_FIELD=SEED --config.K=V ...
  python -m experiments.evaluate --workdir=ROOT/ID_sSEED

(`run_commands`); `experiments.reproduce` runs what is missing and `experiments.collect_results` reads the table.
"""

import dataclasses
import json
import os
import re
import shlex

from attention_jax.errors import UserError

RUN_FIELDS = ("id", "config", "overrides", "pinned", "seeds", "seed_field")
# Fields that set how often a run logs or saves, or where it reads data from, not what it computes: a measured row
# matches its spec whatever they were (`measured_as_specified`).
CADENCE_FIELDS = ("log_every_steps", "checkpoint_every_steps", "keep_checkpoints", "parallel", "num_devices",
                  "data.tfds_data_dir", "data.mnist_dir", "eval_batch_size")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class Run:
  """One training run of a table: row `run_id`, one seed, its workdir and the two commands that make it."""
  run_id: str
  seed: int
  workdir: str
  train: tuple
  evaluate: tuple

  @property
  def name(self) -> str:
    return f"{self.run_id}_s{self.seed}"


def flag_value(value) -> str:
  """A JSON value as ml_collections reads it from --config.FIELD=VALUE."""
  if isinstance(value, bool):
    return str(value)
  if isinstance(value, (list, tuple)):
    return "(" + ",".join(flag_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
  return repr(value) if isinstance(value, float) else str(value)


def _check_run_fields(where: str, entry: dict) -> None:
  """Refuses a row (or model) whose run fields are missing or malformed, naming the spec entry and field."""
  if not isinstance(entry, dict):
    raise UserError(f"{where}: expected an object with {', '.join(RUN_FIELDS[:2])}")
  if not isinstance(entry.get("id"), str) or not _ID.match(entry["id"]):
    raise UserError(f"{where}: field 'id' must be a name of letters, digits, '_', '.', '-' (got {entry.get('id')!r})")
  if not isinstance(entry.get("config"), str) or not entry["config"].split(":")[0].endswith(".py"):
    raise UserError(f"{where}: field 'config' must name a config file, 'experiments/configs/NAME.py[:ARG]' "
                    f"(got {entry.get('config')!r})")
  for field in ("overrides", "pinned"):
    if not isinstance(entry.get(field, {}), dict):
      raise UserError(f"{where}: field {field!r} must be an object of FIELD: VALUE")
  seeds = entry.get("seeds", [0])
  if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
    raise UserError(f"{where}: field 'seeds' must be a non-empty list of integers >= 0 (got {seeds!r})")
  if len(set(seeds)) != len(seeds):
    raise UserError(f"{where}: field 'seeds' repeats a seed ({seeds!r})")
  if not isinstance(entry.get("seed_field", "seed"), str):
    raise UserError(f"{where}: field 'seed_field' must be a config field name such as 'seed' or 'data.fold'")


def entries(spec: dict) -> list:
  """[(where, entry)] for every row (or translation model) of the spec, in order."""
  if "models" in spec:
    return [(f"model {name!r}", entry) for name, entry in spec["models"].items()]
  return [(f"row {i} ({entry.get('row', '') if isinstance(entry, dict) else ''!r})", entry)
          for i, entry in enumerate(spec["rows"])]


def check_spec(spec, path: str) -> dict:
  """`spec` if it is a table definition of this module's form; else a UserError naming the file and the entry."""
  if not isinstance(spec, dict) or not (isinstance(spec.get("rows"), list) or isinstance(spec.get("models"), dict)):
    raise UserError(f"--spec={path}: expected a JSON object with 'rows' (a list) or 'models' (an object)")
  runs_by_id = {}
  for where, entry in entries(spec):
    _check_run_fields(f"--spec={path}: {where}", entry)
    what = (entry["config"], entry.get("overrides", {}), entry.get("pinned", {}), entry.get("seed_field", "seed"))
    if runs_by_id.setdefault(entry["id"], what) != what:
      raise UserError(f"--spec={path}: {where} shares id {entry['id']!r} with another row but not its config, "
                      "overrides, pins and seed_field; give it an id of its own")
  return spec


def load_spec(path: str) -> dict:
  try:
    with open(path, encoding="utf-8") as f:
      spec = json.load(f)
  except OSError as e:
    raise UserError(f"--spec={path}: cannot read it ({e.strerror})") from e
  except ValueError as e:
    raise UserError(f"--spec={path}: not valid JSON ({e})") from e
  return check_spec(spec, path)


def workdir(root: str, run_id: str, seed: int) -> str:
  return os.path.join(os.path.expanduser(root), f"{run_id}_s{seed}")


def run_commands(entry: dict, seed: int, work: str) -> tuple:
  """(train, evaluate) argument lists of one run of `entry` (a spec row or model)."""
  train = ["python", "-m", "experiments.train", f"--config={entry['config']}", f"--workdir={work}",
           f"--config.{entry.get('seed_field', 'seed')}={seed}"]
  fields = entry.get("overrides", {}) | entry.get("pinned", {})
  train += [f"--config.{k}={flag_value(v)}" for k, v in fields.items()]
  return tuple(train), ("python", "-m", "experiments.evaluate", f"--workdir={work}")


def runs(spec: dict, root: str, ids=None, seeds=None) -> list:
  """Every distinct run of the spec (rows sharing an id share runs), optionally only those ids and seeds."""
  out = {}
  for _, entry in entries(spec):
    if ids is not None and entry["id"] not in ids:
      continue
    for seed in entry.get("seeds", [0]):
      if seeds is not None and seed not in seeds:
        continue
      work = workdir(root, entry["id"], seed)
      out.setdefault(work, Run(entry["id"], seed, work, *run_commands(entry, seed, work)))
  return list(out.values())


def with_workdirs(spec: dict, root: str) -> dict:
  """The spec with each row's (or model's) workdirs filled in from `root`, the form the collectors read."""
  spec = json.loads(json.dumps(spec))
  for _, entry in entries(spec):
    entry["workdirs"] = [workdir(root, entry["id"], s) for s in entry.get("seeds", [0])]
  if "models" in spec:
    spec["models"] = {name: entry["workdirs"][0] for name, entry in spec["models"].items()}
  return spec


def command_settings(command: str, seed_field: str = "seed") -> tuple:
  """(config, {FIELD: VALUE}, seed or None) of a recorded `python -m experiments.train ...` command line; the seed
  field is taken out of the overrides."""
  config, fields = None, {}
  for arg in shlex.split(command):
    if arg.startswith("--config="):
      config = arg.partition("=")[2]
    elif arg.startswith("--config."):
      key, _, value = arg[len("--config."):].partition("=")
      fields[key] = value
  seed = fields.pop(seed_field, None)
  return config, fields, None if seed is None else int(seed)


def measured_id(measured: dict) -> str | None:
  """The run id of a collected row: its `id`, or (tables collected before rows recorded it) its first workdir's
  name less the seed suffix (`_s0`, or `_f0` for folds)."""
  if "id" in measured:
    return measured["id"]
  workdirs = measured.get("workdirs") or re.findall(r"--workdir=(\S+)", " ".join(measured.get("command") or []))
  return re.sub(r"_[sf]\d+$", "", os.path.basename(workdirs[0])) if workdirs else None


def measured_as_specified(entry: dict, measured: dict) -> bool:
  """Whether a collected row (`measured`, with its `command` per seed) ran exactly the runs `entry` names: the same
  id, the same config, the same overrides, the same seeds (a command without the seed flag ran the config's seed, which the row
  records in `seeds`), whatever their `CADENCE_FIELDS`; a `pinned` field may be absent from the command (it was the
default then)."""
  commands = measured.get("command")
  commands = [commands] if isinstance(commands, str) else commands or []
  if measured_id(measured) not in (None, entry["id"]):
    return False
  field = entry.get("seed_field", "seed")
  wanted = {k: flag_value(v) for k, v in entry.get("overrides", {}).items() if k not in CADENCE_FIELDS}
  pinned = {k: flag_value(v) for k, v in entry.get("pinned", {}).items()}
  seeds = []
  for i, command in enumerate(commands):
    config, fields, seed = command_settings(command, field)
    if any(fields.get(k, v) != v for k, v in pinned.items()):
      return False
    fields = {k: v for k, v in fields.items() if k not in CADENCE_FIELDS and k not in pinned}
    if config != entry["config"] or fields != wanted:
      return False
    recorded = measured.get("seeds", [None] * len(commands))
    seeds.append(seed if seed is not None else (recorded[i] if field == "seed" and i < len(recorded) else None))
  return seeds == list(entry.get("seeds", [0]))
