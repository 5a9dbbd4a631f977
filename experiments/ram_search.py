r"""Random search for RAM's recipe on a validation split (Mnih et al. 2014 chose "the initial learning rate and
the variance of the location policy ... using random search"; issue 34 widens it to the training length, the
optimiser, M paths per image, the location network and the baseline).

  python -m experiments.ram_search --root=$HOME/runs/ram_search28 --trials=24 --jobs=2     # run (resumable)
  python -m experiments.ram_search --root=$HOME/runs/ram_search28 --collect \
      --output=results/ram_search.json                                                    # the table
  python -m experiments.ram_search --root=$HOME/runs/ram_search_t60 --space=near_recipe --first=-1 --trials=9 \
      --config=experiments/configs/ram_translated.py:6 --eval_every_epochs=10 --jobs=2   # around the recipe
  python -m experiments.ram_search --root=$HOME/runs/ram_search_c100 --space=lstm_canvas --trials=7 \
      --config=experiments/configs/ram_cluttered.py:100,8 --eval_every_epochs=10 --jobs=2  # a larger canvas

`--space=wide` (the default) samples everything below; `--space=near_recipe` keeps the 28x28 search's winner
(Adam, a location hidden layer of 256, the baseline from h_t, 100 epochs) and samples the two knobs the paper
searched, the learning rate and the location std (log-uniformly, down to 0.02: the same std in [-1, 1] units is
60/28 times as many pixels on a 60x60 canvas as on 28x28), and M = 1 or 2, for carrying the recipe to a new set.
Its trial -1 (`--first=-1`) is the recipe itself trained the space's 100 epochs: the point the samples are
measured against. `--space=std_sweep` is that reference with only the location std changed, trial i at
std x sqrt(2)^(i+1) (0.12, 0.17, 0.24, 0.34, ...): the direction the near_recipe trials point to at 60x60.
`--space=variants` is that reference with one of `VARIANTS` changed: an LSTM core, or M = 2 or 4 paths per image.
`--space=lstm_canvas` is a first look at a larger canvas, where one recipe run costs hours: the LSTM recipe (the
reference with an LSTM core; trial 0) and `LSTM_CANVAS_VARIANTS` of it (trial 1: the location std at 60/100 of
the recipe's, i.e. the same pixels on 100x100 as on 60x60; 2: sqrt(2) times it; 3: M = 2; 4 and 5: 2 and 2 sqrt(2)
times the std; 6: 2 times the std and M = 2), all trained a quarter of the recipe's 200 epochs.

Trial i's settings are a fixed function of (--search_seed, i), so a rerun with the same flags continues the same
trials: a finished trial is skipped, an interrupted one resumes from its checkpoint. Every trial trains on the
full protocol's 50,000 digits, evaluates on the 10,000 held out (`data.validation_fraction=1/6`) under the
paper's one-path rule, and keeps its best checkpoint by that validation error. The test set is never read here.
"""

import concurrent.futures
import json
import math
import os
import shlex
import subprocess
import sys

from absl import app, flags
import numpy as np

from experiments import cli
from experiments.configs import ram_mnist

_ROOT = flags.DEFINE_string("root", None, "Folder of the trials' workdirs (outside the repo).")
_TRIALS = flags.DEFINE_integer("trials", 16, "Trials to run: indices 0 .. trials-1.")
_FIRST = flags.DEFINE_integer("first", 0, "First trial index (to split a search between machines; -1 adds "
                              "near_recipe's reference trial).")
_SEARCH_SEED = flags.DEFINE_integer("search_seed", 0, "Seed of the trials' settings.")
_JOBS = flags.DEFINE_integer("jobs", 2, "Trials trained at a time.")
_CONFIG = flags.DEFINE_string("config", "experiments/configs/ram_mnist.py:6", "The config every trial starts from.")
_COLLECT = flags.DEFINE_bool("collect", False, "Write the results table instead of running trials.")
_OUTPUT = flags.DEFINE_string("output", "results/ram_search.json", "The table --collect writes.")
_DRY_RUN = flags.DEFINE_bool("dry_run", False, "Print the trials' commands and run nothing.")
_SPACE = flags.DEFINE_enum("space", "wide", ["wide", "near_recipe", "std_sweep", "variants", "lstm_canvas"],
                           "What the trials sample (see the docstring).")
_EVAL_EVERY = flags.DEFINE_integer("eval_every_epochs", None, "Validation (and checkpoint) cadence in epochs; "
                                   "default ram_mnist.EVAL_EVERY_EPOCHS.", lower_bound=1)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULE = "error_1_path"  # the paper's rule: the 0/1 error of one sampled path, averaged over 16 draws per image
# Fields every trial sets, whatever it samples: the full protocol, the validation split and selection by it.
FIXED = {"data.name": "mnist", "data.validation_fraction": 1 / 6, "eval_split": "valid", "select_by": RULE,
         "reinforce.eval_samples": 16}
OPTIMIZERS = {  # name: (batch size, learning-rate range sampled log-uniformly, extra overrides)
    "adam": (128, (1e-4, 3e-3), {"optimizer.name": "adam"}),
    "sgd": (20, (3e-3, 1e-1), {"optimizer.name": "sgd", "optimizer.momentum": 0.9, "optimizer.nesterov": False}),
}
EPOCHS = (50, 100, 200)
REFERENCE = -1  # near_recipe's trial -1: the recipe's own settings, at the space's length
VARIANTS = ({"core": "lstm"}, {"num_samples": 2}, {"num_samples": 4})  # space "variants": trial i changes one
_STD = ram_mnist.RECIPE["location_std"]
LSTM_CANVAS_VARIANTS = ({}, {"location_std": 0.6 * _STD}, {"location_std": math.sqrt(2) * _STD}, {"num_samples": 2},
                        {"location_std": 2 * _STD}, {"location_std": 2 * math.sqrt(2) * _STD},
                        {"location_std": 2 * _STD, "num_samples": 2})  # space "lstm_canvas": trial i's change
LSTM_CANVAS_EPOCHS = ram_mnist.RECIPE["epochs"] // 4  # 50: a first look, not a recipe run
NEAR_RECIPE = {"learning_rate": (2.5e-4, 3e-3), "location_std": (0.02, 0.2), "num_samples": (1, 2), "epochs": 100}


def sample_settings(search_seed: int, index: int, space: str = "wide") -> dict:
  """The searched settings of trial `index`: a pure function of (search_seed, index, space)."""
  if space == "variants":
    return {**reference_settings(), **VARIANTS[index]}
  if space == "lstm_canvas":
    return {**reference_settings(), "core": "lstm", "epochs": LSTM_CANVAS_EPOCHS, **LSTM_CANVAS_VARIANTS[index]}
  if space == "std_sweep":
    return {**reference_settings(), "location_std": ram_mnist.RECIPE["location_std"] * math.sqrt(2) ** (index + 1)}
  if (space, index) == ("near_recipe", REFERENCE):
    return reference_settings()
  rng = np.random.default_rng([search_seed, index])
  if space == "near_recipe":
    return sample_near_recipe(rng)
  optimizer = str(rng.choice(sorted(OPTIMIZERS)))
  return {"optimizer": optimizer,
          "learning_rate": log_uniform(rng, *OPTIMIZERS[optimizer][1]),
          "location_std": float(rng.uniform(0.05, 0.25)),
          "num_samples": int(rng.choice([1, 2, 4])),
          "location_net_hidden": int(rng.choice([0, 256])),
          "baseline_input": str(rng.choice(["state", "constant"])),
          "epochs": int(rng.choice(EPOCHS))}


def reference_settings() -> dict:
  """The recipe (ram_mnist.RECIPE: Adam, its lr and std, a location hidden layer, M = 1) at near_recipe's length."""
  recipe = ram_mnist.RECIPE
  return {"optimizer": "adam", "learning_rate": recipe["learning_rate"], "location_std": recipe["location_std"],
          "num_samples": 1, "location_net_hidden": recipe["location_net_hidden"], "baseline_input": "state",
          "epochs": NEAR_RECIPE["epochs"]}


def log_uniform(rng, low: float, high: float) -> float:
  return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def sample_near_recipe(rng) -> dict:
  """Space "near_recipe": the recipe's Adam, location hidden layer and baseline; log-uniform lr and std, M."""
  return {"optimizer": "adam", "learning_rate": log_uniform(rng, *NEAR_RECIPE["learning_rate"]),
          "location_std": log_uniform(rng, *NEAR_RECIPE["location_std"]),
          "num_samples": int(rng.choice(NEAR_RECIPE["num_samples"])), "location_net_hidden": 256,
          "baseline_input": "state", "epochs": NEAR_RECIPE["epochs"]}


def overrides(settings: dict, eval_every_epochs: int = ram_mnist.EVAL_EVERY_EPOCHS) -> dict:
  """The --config.FIELD values that train a trial with `settings` (FIXED included), validating (and saving a
  checkpoint) every `eval_every_epochs`."""
  batch, _, extra = OPTIMIZERS[settings["optimizer"]]
  steps_per_epoch = ram_mnist.steps_for(1, batch)  # of the full protocol's 50,000 left after the 10,000 held out
  every = ram_mnist.steps_for(eval_every_epochs, batch)
  return {**FIXED, **extra, "batch_size": batch, "optimizer.learning_rate": settings["learning_rate"],
          "model.location_std": settings["location_std"], "reinforce.num_samples": settings["num_samples"],
          "model.location_net_hidden": settings["location_net_hidden"],
          "model.baseline_input": settings["baseline_input"],
          "num_train_steps": steps_per_epoch * settings["epochs"], "eval_every_steps": every,
          "checkpoint_every_steps": every, "log_every_steps": steps_per_epoch,
          **({"model.core": settings["core"]} if "core" in settings else {})}  # the RNN core unless a variant


def relative_cost(settings: dict) -> float:
  """A trial's training time relative to one epoch of Adam with M = 1 (measured on 2 CPU cores: batches of 20
  pass about a third as many images a second as batches of 128), for running the cheap trials first."""
  return settings["epochs"] * settings["num_samples"] * (3 if settings["optimizer"] == "sgd" else 1)


def train_command(config: str, workdir: str, fields: dict) -> list:
  return ([sys.executable, "-m", "experiments.train", f"--config={config}", f"--workdir={workdir}"]
          + [f"--config.{k}={v}" for k, v in fields.items()])


def trial_dir(root: str, search_seed: int, index: int, space: str = "wide") -> str:
  prefix = "" if space == "wide" else f"{space}_"  # the wide space's trials keep their first names
  name = "reference" if index == REFERENCE else f"trial{index:03d}"
  return os.path.join(root, f"{prefix}seed{search_seed}_{name}")


def read_json(path: str, default=None):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return default


def write_json(path: str, value) -> None:
  """Writes through a temporary file, so a reader never sees half a file."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=1, sort_keys=True)
    f.write("\n")
  os.replace(tmp, path)


def finished(workdir: str, steps: int) -> bool:
  return read_json(os.path.join(workdir, "run.json"), {}).get("steps", 0) >= steps


def run_trial(config: str, root: str, search_seed: int, index: int, space: str = "wide",
              eval_every_epochs: int = ram_mnist.EVAL_EVERY_EPOCHS) -> str:
  """Trains trial `index` of `space` (resuming it if it was interrupted); returns a one-line outcome."""
  workdir = trial_dir(root, search_seed, index, space)
  settings = sample_settings(search_seed, index, space)
  fields = overrides(settings, eval_every_epochs)
  if finished(workdir, fields["num_train_steps"]):
    return f"trial {index}: finished before"
  os.makedirs(workdir, exist_ok=True)
  command = train_command(config, workdir, fields)
  shown = " ".join(["python"] + [shlex.quote(c) for c in command[1:]])
  write_json(os.path.join(workdir, "trial.json"), {"index": index, "search_seed": search_seed, "config": config,
                                                   "space": space, "settings": settings, "overrides": fields,
                                                   "command": shown})
  with open(os.path.join(workdir, "log.txt"), "a") as log:
    code = subprocess.run(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
  return f"trial {index}: " + ("finished" if code == 0 else f"failed (exit {code}; see {workdir}/log.txt)")


def trial_row(workdir: str) -> dict:
  """One trial's line of the table: its settings, its run record and its best validation error under RULE (with
  the mean-path error and the 16-path ensemble's at that step), from the files the run wrote."""
  trial = read_json(os.path.join(workdir, "trial.json"))
  run = read_json(os.path.join(workdir, "run.json"), {})
  rows = []
  if os.path.exists(os.path.join(workdir, "metrics.jsonl")):
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      rows = [r for r in map(json.loads, filter(str.strip, f)) if r.get("split") == "valid" and RULE in r]
  best = min(rows, key=lambda r: (r[RULE], r["step"])) if rows else None
  steps, target = run.get("steps", 0), trial["overrides"]["num_train_steps"]
  row = {"index": trial["index"], "space": trial.get("space", "wide"), "search_seed": trial["search_seed"],
         "settings": trial["settings"],
         "config": trial["config"], "overrides": trial["overrides"], "command": trial["command"],
         "commit": run.get("commit"), "hardware": run.get("hardware"), "wall_s": run.get("wall_s"),
         "steps": steps, "num_train_steps": target, "finished": steps >= target,
         "epochs_trained": round(steps * trial["overrides"]["batch_size"] / ram_mnist.TRAIN_IMAGES, 1)}
  if best:
    row.update({"best_step": best["step"], "best_epoch": round(best["step"] * trial["overrides"]["batch_size"]
                                                              / ram_mnist.TRAIN_IMAGES, 1),
                "valid_error_1_path": best[RULE], "valid_error_mean_path": best.get("error_mean_path"),
                "valid_error_16_paths": best.get("error_16_paths")})
  return row


def collect(root: str) -> dict:
  trials = sorted(d for d in os.listdir(root) if os.path.exists(os.path.join(root, d, "trial.json")))
  rows = [trial_row(os.path.join(root, d)) for d in trials]
  rows.sort(key=lambda r: (r.get("valid_error_1_path", math.inf), r["index"]))
  configs = sorted({r["config"] for r in rows})
  return {"description": f"RAM random search ({', '.join(configs)}) on the validation split (10,000 of the "
                         "60,000 training digits held out); error_1_path: the 0/1 error of one sampled glimpse "
                         "path, averaged over 16 draws per image (the paper's rule); error_mean_path: the "
                         "policy's mean path; error_16_paths: the 16 paths' ensemble (not the paper's rule). "
                         "Best step by error_1_path. Written by python -m experiments.ram_search --collect.",
          "rule": RULE, "fixed": FIXED, "trials": rows}


def markdown(table: dict) -> str:
  lines = ["| trial | optimiser | lr | std | M | core | loc. hidden | baseline | epochs (best) | valid 1 path | "
           "valid mean path | wall |", "|" + " --- |" * 12]
  for r in table["trials"]:
    s = r["settings"]
    error = lambda key: f"{100 * r[key]:.2f}%" if r.get(key) is not None else "-"
    space = r.get("space", "wide")  # the 28x28 search's rows predate the field: all "wide"
    name = "recipe" if r["index"] == REFERENCE else (r["index"] if space == "wide" else f"{space} {r['index']}")
    lines.append(f"| {name} | {s['optimizer']} | {s['learning_rate']:.2g} | {s['location_std']:.3f} | "
                 f"{s['num_samples']} | {s.get('core', 'rnn')} | {s['location_net_hidden']} | "
                 f"{s['baseline_input']} | {r['epochs_trained']:g}/{s['epochs']} ({r.get('best_epoch', '-')}) | "
                 f"{error('valid_error_1_path')} | {error('valid_error_mean_path')} | "
                 f"{(r['wall_s'] or 0) / 60:.0f} min |")
  return "\n".join(lines)


def main(argv):
  del argv
  if not _ROOT.value:
    sys.exit("error: --root is required: the folder of the trials' workdirs")
  root = os.path.abspath(os.path.expanduser(_ROOT.value))
  if _COLLECT.value:
    if not os.path.isdir(root):
      sys.exit(f"error: --root={_ROOT.value} is not a folder of trials")
    table = collect(root)
    write_json(_OUTPUT.value, table)
    print(markdown(table))
    return
  if _FIRST.value < (REFERENCE if _SPACE.value == "near_recipe" else 0):
    sys.exit(f"error: --first={_FIRST.value}: expected 0 or more (-1, the reference trial, only with "
             "--space=near_recipe)")
  listed = {"variants": VARIANTS, "lstm_canvas": LSTM_CANVAS_VARIANTS}.get(_SPACE.value)
  if listed is not None and _FIRST.value + _TRIALS.value > len(listed):
    sys.exit(f"error: --first={_FIRST.value} --trials={_TRIALS.value}: --space={_SPACE.value} has trials 0 to "
             f"{len(listed) - 1} only")
  indices = range(_FIRST.value, _FIRST.value + _TRIALS.value)
  seed, space, every = _SEARCH_SEED.value, _SPACE.value, _EVAL_EVERY.value or ram_mnist.EVAL_EVERY_EPOCHS
  if _DRY_RUN.value:
    for i in indices:
      fields = overrides(sample_settings(seed, i, space), every)
      print(" ".join(shlex.quote(c) for c in train_command(_CONFIG.value, trial_dir(root, seed, i, space), fields)))
    return
  with concurrent.futures.ThreadPoolExecutor(max(1, _JOBS.value)) as pool:
    # The cheapest first, so that an interrupted search holds as many finished trials as it can.
    order = sorted(indices, key=lambda i: (relative_cost(sample_settings(seed, i, space)), i))
    futures = [pool.submit(run_trial, _CONFIG.value, root, seed, i, space, every) for i in order]
    failures = 0
    for future in concurrent.futures.as_completed(futures):
      outcome = future.result()
      failures += "failed" in outcome
      print(outcome, flush=True)
  sys.exit(1 if failures else 0)


if __name__ == "__main__":
  flags.mark_flag_as_required("root")
  app.run(main, flags_parser=cli.parse_flags)
