"""What preparing or loading data found (skipped lines, held-out pairs also in the training file, cut sentences),
said on every run that uses the data, not only on the run that prepared it, and recorded in the run's run.json.

`warn(message)` logs a warning and keeps it for this process (`RUN`, which `run_record.Recorder` writes to
run.json as `data_warnings`). While `preparing(data_dir)` is active it also collects the warnings, and writes them
beside the prepared data (`DATA_DIR/preparation_warnings.json`) once preparation succeeded; `repeat(data_dir)`
says them again, and keeps them, whenever a later run reads data prepared earlier.
"""

import contextlib
import json
import os

from absl import logging

FILENAME = "preparation_warnings.json"
RUN = []  # this process's data warnings, in the order said (`since` gives them without repeats)
_collecting = []  # the warnings of the preparations in progress (nested: one list each)


def _keep(message: str) -> None:
  RUN.append(message)


def since(first: int) -> list:
  """The distinct warnings said since `RUN` had `first` entries, in order."""
  return list(dict.fromkeys(RUN[first:]))


def warn(message: str) -> None:
  logging.warning("%s", message)
  _keep(message)
  for collected in _collecting:
    collected.append(message)


@contextlib.contextmanager
def preparing(data_dir: str):
  """Collects the warnings said while the data of `data_dir` is prepared, and stores them with it."""
  collected = []
  _collecting.append(collected)
  try:
    yield
  finally:
    _collecting.remove(collected)
  if os.path.isdir(data_dir):
    from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
    io_utils.atomic_write_json(os.path.join(data_dir, FILENAME), collected)


def repeat(data_dir: str) -> None:
  """Says again (and keeps for run.json) what preparing `data_dir` found, where it was recorded."""
  path = os.path.join(data_dir, FILENAME)
  if not os.path.exists(path):
    return
  try:
    with open(path, encoding="utf-8") as f:
      found = json.load(f)
  except (OSError, ValueError):
    logging.warning("%s is damaged; the warnings of this data's preparation are not repeated", path)
    return
  for message in found if isinstance(found, list) else []:
    logging.warning("%s (found when this data was prepared)", message)
    _keep(str(message))
