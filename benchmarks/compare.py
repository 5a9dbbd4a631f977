r"""Benchmarks of two commits side by side, on the same machine, in one run:

  python -m benchmarks.compare --base=COMMIT [--head=HEAD|worktree] --only=NAME[,NAME] [--rounds=2] \
      [--out=results/NAME.json]

Both sides run this checkout's `benchmarks/run.py` (so a benchmark added since BASE still runs there) against
each commit's own library: `git archive` unpacks the commit into a temporary folder that goes first on
PYTHONPATH. The sides alternate, round by round, so a machine that slows down hurts both. It prints each run's
JSON line, then one line per benchmark: steps/s (examples/s where there are no steps, as in evaluation) and glimpse_ms of each side
(medians over the rounds) and the ratio head / base. `--out` also writes all of it as JSON (the command, both
commits, the hardware, every run's line and the medians), which `experiments.front_page` reads into the docs.
"""

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from attention_jax import io_utils, run_record
from benchmarks import commits

_BASE = flags.DEFINE_string("base", None, "The commit to compare against.", required=True)
_HEAD = flags.DEFINE_string("head", "worktree", "The other side: a commit, or 'worktree' (this checkout as it is).")
_ONLY = flags.DEFINE_list("only", [], "Benchmarks of benchmarks/run.py to run (required).")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Times each side runs each benchmark.")
_OUT = flags.DEFINE_string("out", "", "Also write the runs and their medians to this JSON file.")

REPO = commits.REPO


def run_side(root: str, name: str) -> dict:
  env = dict(os.environ, PYTHONPATH=root)
  proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "run.py"), f"--only={name}"], cwd=REPO,
                        env=env, capture_output=True, text=True, check=False)
  lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
  if proc.returncode or not lines:
    raise SystemExit(f"error: benchmark {name} failed under {root}: {proc.stderr.strip()[-2000:]}")
  return json.loads(lines[-1])


def medians(rows: dict) -> dict:
  """{field: (base median, head median)} for the rate (steps/s, else examples/s) and glimpse_ms, and the unit."""
  rate = lambda r: r["steps_per_s"] or r["examples_per_s"]
  unit = "steps/s" if rows["base"][0]["steps_per_s"] else f"{rows['base'][0].get('unit', 'examples')}/s"
  out = {"unit": unit}
  for field, get in (("rate", rate), ("glimpse_ms", lambda r: r.get("glimpse_ms"))):
    base = [get(r) for r in rows["base"] if get(r) is not None]
    head = [get(r) for r in rows["head"] if get(r) is not None]
    if base and head:
      out[field] = (statistics.median(base), statistics.median(head))
  return out


def summary(name: str, rows: dict) -> str:
  m = medians(rows)
  parts = [name]
  for field, label in (("rate", m["unit"]), ("glimpse_ms", "glimpse_ms")):
    if field in m:
      b, h = m[field]
      parts.append(f"{label} base {b:.3f} head {h:.3f} (head/base {h / b:.2f}x)")
  return "  ".join(parts)


def record(runs: dict, base: str, head: str, rounds: int, started: float) -> dict:
  """What --out writes: how the comparison was made and, per benchmark, every run and the medians."""
  head = run_record.git_commit(REPO) if head == "worktree" else head
  table = []
  for name, rows in runs.items():
    m = medians(rows)
    entry = {"name": name, "unit": m["unit"], "runs": rows}
    for field in ("rate", "glimpse_ms"):
      if field in m:
        entry[field] = {"base": m[field][0], "head": m[field][1], "ratio": m[field][1] / m[field][0]}
    table.append(entry)
  return {"command": "python -m benchmarks.compare " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
          "base": base, "head": head, "rounds": rounds, "hardware": run_record.hardware(),
          "wall_s": round(time.time() - started, 1), "benchmarks": table}


def main(argv):
  del argv
  if not _ONLY.value:
    raise SystemExit("error: --only must name the benchmarks to compare (see benchmarks/run.py)")
  with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "base"))
    roots = {"base": commits.unpack(_BASE.value, os.path.join(tmp, "base"))}
    if _HEAD.value == "worktree":
      roots["head"] = REPO
    else:
      os.makedirs(os.path.join(tmp, "head"))
      roots["head"] = commits.unpack(_HEAD.value, os.path.join(tmp, "head"))
    started, runs = time.time(), {}
    for name in _ONLY.value:
      rows = runs[name] = {"base": [], "head": []}
      for _ in range(_ROUNDS.value):
        for side in ("base", "head"):
          row = {k: v for k, v in run_side(roots[side], name).items() if k != "config"} | {"side": side}
          rows[side].append(row)
          print(json.dumps(row), flush=True)
    print("\n".join(summary(name, rows) for name, rows in runs.items()))
    if _OUT.value:
      io_utils.atomic_write_json(_OUT.value, record(runs, _BASE.value, _HEAD.value, _ROUNDS.value, started))


if __name__ == "__main__":
  app.run(main)
