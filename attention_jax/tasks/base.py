"""What the shared training loop needs from an experiment: a `Task`.

A task owns its model, data and losses; the loop owns devices, optimizer, checkpoints and logs. All functions are
pure and per-device: they see this device's slice of the batch and one PRNG key per example.

  init(key) -> params
  loss(params, batch, keys) -> (objective_sum, sums)
      objective_sum: the scalar to differentiate, summed (not averaged) over this device's examples or tokens;
      sums: metric sums with 'count', the normaliser (examples or tokens). The loop divides gradients by the
      global count, so 1 device and 8 devices take the same step.
  evaluate(params, batch, keys) -> sums   (padding has batch['mask'] == 0 and must not count)
  train_data: grain.MapDataset whose element i is the batch of step i
  eval_batches(split) -> iterator over fixed-size batches with a 'mask'
  resident(split) -> dict of host arrays (optional): what every step of that split reads whole (e.g. the digit set
      canvases are cut from). The loop places them on the devices once, replicated, and merges them into each
      batch inside the step, so batches carry indices instead of pixels.
  evaluators: {name: evaluator} (optional), what `experiments.evaluate` adds to the metrics above: host work such
      as decoding to text and BLEU, and pictures. An evaluator is (params, split, workdir) -> dict merged into
      eval.json (pictures go to workdir/plots); `config.evals` picks them by name (`training.evaluators`), and
      each is a plain function of its own, testable alone.
"""

import dataclasses
from typing import Any, Callable, Iterator

import grain


@dataclasses.dataclass
class Task:
  name: str
  init: Callable[[Any], Any]
  loss: Callable[[Any, dict, Any], tuple]
  evaluate: Callable[[Any, dict, Any], dict]
  train_data: grain.MapDataset
  eval_batches: Callable[[str], Iterator[dict]]
  model: Any = None
  evaluators: dict[str, Callable[[Any, str, str], dict]] = dataclasses.field(default_factory=dict)
  resident: Callable[[str], dict] | None = None
  extras: dict = dataclasses.field(default_factory=dict)  # task-specific handles (vocabularies, decoders) for tools
