"""What a results table needs to know of each training run: `WORKDIR/run.json`.

`experiments.train` updates it at every checkpoint it saves and when it ends (a resumed run adds to it):
  command   the last training command line, as typed (the flags that made the run)
  commit    the git commit of the code (`+dirty` when the work tree had uncommitted changes), or "unknown"
  hardware  the devices JAX trained on and the host's CPU
  wall_s    the wall-clock seconds of every invocation together (compilation and evaluations included); of an
            invocation that was killed (SIGKILL, a lost machine), the seconds up to its last checkpoint, the work
            the resumed run builds on
  steps     the step the newest invocation reached (or its last checkpoint, if it was killed)
`experiments.collect_results` reads it beside `eval.json` and `config.json`.
"""

import os
import platform
import subprocess
import time

from attention_jax import io_utils
from attention_jax.data import notes

FILENAME = "run.json"


def git_commit(repo: str) -> str:
  """The short commit hash of `repo`, with '+dirty' when tracked files differ from it; 'unknown' without git."""
  try:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                           capture_output=True, text=True, check=True, timeout=10).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return "unknown"
  return head + ("+dirty" if dirty else "")


def cpu_name() -> str:
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def hardware() -> str:
  """e.g. '1 x cpu (2 CPU cores, AMD EPYC 9B14)' or '1 x NVIDIA H200 (16 CPU cores, ...)'."""
  import jax  # pylint: disable=g-import-not-at-top
  devices = jax.devices()
  return f"{len(devices)} x {devices[0].device_kind} ({os.cpu_count()} CPU cores, {cpu_name()})"


class Recorder:
  """Keeps WORKDIR/run.json up to date through one invocation of a training run.

  Made when the invocation starts: it reads the seconds earlier invocations recorded, and each `update(step)`
  rewrites run.json (atomically) with those plus this invocation's seconds so far. Called at every checkpoint, it
  leaves a killed run's time in run.json up to the checkpoint its resumption starts from.
  """

  def __init__(self, workdir: str, command: str, repo: str, clock=time.time):
    self.path = os.path.join(workdir, FILENAME)
    self.clock, self.started = clock, clock()
    earlier = io_utils.read_json(self.path) if os.path.exists(self.path) else {}
    self.earlier_s = float(earlier.get("wall_s", 0.0))
    self.fields = {"command": command, "commit": git_commit(repo), "hardware": hardware()}
    self.first_note = len(notes.RUN)

  def update(self, steps: int) -> dict:
    """Writes and returns the record as of now, with `steps` the step the run has reached."""
    rec = self.fields | {"wall_s": round(self.earlier_s + self.clock() - self.started, 1), "steps": int(steps)}
    if notes.since(self.first_note):  # what reading the data found (skipped lines, overlaps, cut sentences)
      rec["data_warnings"] = notes.since(self.first_note)
    io_utils.atomic_write_json(self.path, rec)
    return rec


def read_run_file(workdir: str, name: str, producer: str) -> dict:
  """WORKDIR/name (JSON: eval.json, run.json, config.json); missing, an error that names `producer`."""
  path = os.path.join(workdir, name)
  if not os.path.exists(path):
    from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
    raise UserError(f"{path} is missing; run {producer} for that workdir first")
  return io_utils.read_json(path)
