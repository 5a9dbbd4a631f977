"""Metrics: `metrics.jsonl` (one JSON object per logged step and split), TensorBoard event files (via
tensorboardX, no TensorFlow needed) and a console progress line with steps/s and an ETA.

`metrics.jsonl` is written once and appended to: each row is one line, written and flushed to disk as it is logged
(a kill can at worst cut the last line short, and readers skip such a line). When a run resumes from step s, the
file is cut back once, atomically (temporary file + rename), to the rows of steps up to s, so it reads as if the
run had never stopped: rows logged after the checkpoint it resumes from, and any cut-short line, are dropped.
"""

import math
import os
import time

import numpy as np
from absl import logging

from attention_jax import io_utils


def summarize(step_outputs: list) -> dict:
  """Reduces the host copies of several steps' outputs into one row of averages.

  Each step output is {'sums': {..., 'count': n}, 'scalars': {...}}: sums are divided by the total count, scalars
  (learning rate, gradient norm) averaged over steps.
  """
  sums = {k: sum(float(o["sums"][k]) for o in step_outputs) for k in step_outputs[0]["sums"]}
  row = averages(sums)
  row.pop("num_examples")
  for k in step_outputs[0].get("scalars", {}):
    row[k] = float(np.mean([float(o["scalars"][k]) for o in step_outputs]))
  return row


def averages(sums: dict) -> dict:
  """Metric sums -> averages: `x` is divided by `x_count` when the sums hold one (e.g. per-sentence metrics
  beside per-token ones), else by `count`. The result has `num_examples` = count."""
  out = {}
  for k, v in sums.items():
    if k != "count" and not k.endswith("_count"):
      denominator = sums.get(k + "_count", sums["count"])
      out[k] = v / denominator if denominator else float("nan")
  return out | {"num_examples": sums["count"]}


def first_non_finite(step_outputs: list, first_step: int):
  """(step, metric) of the first non-finite value among consecutive step outputs, or None."""
  for i, out in enumerate(step_outputs):
    for group in ("sums", "scalars"):
      for k, v in out.get(group, {}).items():
        if not math.isfinite(float(v)):
          return first_step + i, k
  return None


class MetricWriter:
  """Writes metric rows to metrics.jsonl, TensorBoard and the log."""

  def __init__(self, workdir: str, resume_step: int, total_steps: int, write: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.total_steps = total_steps
    self._write = write
    self._rows = [r for r in io_utils.read_json_lines(self.path) if r.get("step", 0) <= resume_step]
    self._tb = None
    if write:
      if not os.path.exists(self.path) or io_utils.read_json_lines(self.path, with_partial=True) != self._rows:
        io_utils.atomic_write_json_lines(self.path, self._rows)  # cut back to the resume step, once
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
    self._clock = (time.time(), resume_step)

  @property
  def rows(self) -> list:
    return list(self._rows)

  def write(self, step: int, split: str, values: dict) -> dict:
    row = {"step": int(step), "split": split, **{k: float(v) for k, v in values.items()}}
    self._rows.append(row)
    if self._write:
      io_utils.append_json_line(self.path, row)
      for k, v in values.items():
        self._tb.add_scalar(f"{split}/{k}", float(v), int(step))
      self._tb.flush()
    return row

  def steps_per_second(self, step: int) -> float:
    """Steps per second since the previous call (the clock starts at construction)."""
    now = time.time()
    last_time, last_step = self._clock
    self._clock = (now, step)
    return (step - last_step) / max(now - last_time, 1e-9)

  def progress(self, step: int, steps_per_s: float, values: dict) -> str:
    eta_s = (self.total_steps - step) / max(steps_per_s, 1e-9)
    shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
    line = (f"step {step}/{self.total_steps} ({100.0 * step / self.total_steps:.1f}%)  {shown}  "
            f"{steps_per_s:.1f} steps/s  ETA {_duration(eta_s)}")
    logging.info(line)
    return line

  def close(self):
    if self._tb is not None:
      self._tb.close()


def _duration(seconds: float) -> str:
  seconds = int(round(seconds))
  h, rem = divmod(seconds, 3600)
  m, s = divmod(rem, 60)
  return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"
