"""Multi-host data parallelism on one machine: 2 processes on localhost (4 simulated CPU devices each) joined by
`jax.distributed` train to the same parameters as 1 process with 8 devices."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from attention_jax import io_utils
from tests import helpers
from tests.test_preemption import FAMILIES

STEPS = 6
COMMON = ["--config.batch_size=32", f"--config.num_train_steps={STEPS}", "--config.log_every_steps=2",
          f"--config.eval_every_steps={STEPS}", "--config.checkpoint_every_steps=3", "--config.eval_batch_size=200",
          "--config.optimizer.schedule=constant"]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def command(family, workdir, tfds_dir):
  config, *overrides = FAMILIES[family]
  return [sys.executable, "-m", "experiments.train", config, *COMMON, *overrides, f"--workdir={workdir}",
          f"--config.data.tfds_data_dir={tfds_dir}"]


def env_with_devices(n):
  return dict(os.environ, XLA_FLAGS=helpers.SUBPROCESS_XLA_FLAGS, ATTENTION_JAX_CPU_DEVICES=str(n))


@pytest.mark.parametrize("family", ["ram"])  # per-example keys, scans, sampling: the most to get wrong
def test_two_processes_equal_one_process_with_eight_devices(family, tmp_path):
  # Fresh prepared-data folder: process 0 prepares the data while process 1 waits, then reads it.
  multi, single, port, tfds_dir = tmp_path / "multi", tmp_path / "single", free_port(), tmp_path / "tfds"
  procs = []
  for pid in range(2):
    log = open(tmp_path / f"process{pid}.log", "w", encoding="utf-8")  # pylint: disable=consider-using-with
    procs.append((subprocess.Popen(
        command(family, multi, tfds_dir) + [f"--coordinator_address=localhost:{port}", "--num_processes=2",
                                            f"--process_id={pid}"],
        cwd=helpers.REPO, env=env_with_devices(4), stdout=log, stderr=subprocess.STDOUT), log))
  for proc, log in procs:
    try:
      proc.wait(timeout=300)
    finally:
      proc.kill()
      log.close()
  for pid, (proc, _) in enumerate(procs):
    assert proc.returncode == 0, (tmp_path / f"process{pid}.log").read_text()[-3000:]
  assert "process 1 of 2; 4 local and 8 global devices" in (tmp_path / "process1.log").read_text()

  done = subprocess.run(command(family, single, tfds_dir), cwd=helpers.REPO, env=env_with_devices(8),
                        capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]

  step_single, state_single = helpers.final_state(single)
  step_multi, state_multi = helpers.final_state(multi)
  assert step_single == step_multi == STEPS
  assert helpers.max_abs_diff(state_single.params, state_multi.params) < 1e-5
  assert helpers.max_abs_diff(state_single.opt_state, state_multi.opt_state) < 1e-5

  rows = {name: io_utils.read_json_lines(os.path.join(d, "metrics.jsonl")) for name, d in
          (("single", single), ("multi", multi))}
  assert [(r["step"], r["split"]) for r in rows["multi"]] == [(r["step"], r["split"]) for r in rows["single"]]
  for a, b in zip(rows["single"], rows["multi"]):
    key = "loss" if a["split"] == "train" else "accuracy"
    np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_distributed_flags_go_together(tmp_path):
  done = helpers.run_binary("experiments.train", "--config=experiments/configs/mnist_fc.py",
                            f"--workdir={tmp_path}", "--num_processes=2")
  assert done.returncode == 2
  assert "--coordinator_address (HOST:PORT), --num_processes (>= 1) and --process_id (>= 0) go together" \
      in done.stderr
