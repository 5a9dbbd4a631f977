"""Evaluators: what `experiments.evaluate` computes beyond a task's batch metrics, picked by name by `config.evals`.

Each task offers its own (`Task.evaluators`): `bleu` (BLEU, BLEU with no <unk>, BLEU by source length, the
translations) and `alignment_heatmaps` for translation; `path_rules` (the test error under other evaluation rules),
`glimpse_strips` and `reward_curves` for RAM; `catch_games` for Catch; `word_attention` for text classification.
Every task also has `training_curves` (its metrics.jsonl drawn). An evaluator is (params, split, workdir) -> dict:
the dict is merged into eval.json, pictures go to workdir/plots. `config.evals` lists the ones to run, in order;
empty (the default) runs every one the task offers.
"""

import os

from absl import logging

from attention_jax import io_utils
from attention_jax.errors import UserError


def training_curves(params, split: str, workdir: str) -> dict:
  """Train and test metrics against the step, one panel per metric (plots/training_curves.png)."""
  del params, split
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  plotting.training_curves(io_utils.read_json_lines(os.path.join(workdir, "metrics.jsonl")),
                           os.path.join(workdir, "plots", "training_curves.png"))
  return {}


def offered(task) -> dict:
  """{name: evaluator} this task can run: the shared ones, then its own."""
  return {"training_curves": training_curves} | dict(task.evaluators)


def pick(task, names) -> dict:
  """The evaluators `names` (config.evals) asks for, in its order; empty: all of them. An unknown name is an error
  that lists what the task offers."""
  available = offered(task)
  names = list(names) or list(available)
  unknown = [n for n in names if n not in available]
  if unknown:
    raise UserError(f"config field evals names {unknown[0]!r}, which the {task.name} task does not offer; it offers "
                    f"{list(available)}")
  return {n: available[n] for n in names}


def run(chosen: dict, params, split: str, workdir: str) -> dict:
  """Runs `chosen` (from `pick`) in order; their dicts merged (a later evaluator's keys win)."""
  result = {}
  for name, evaluator in chosen.items():
    result |= evaluator(params, split, workdir) or {}
    logging.info("evaluator %s done", name)
  return result
