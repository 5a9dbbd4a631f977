r"""Benchmarks of two commits side by side, on the same machine, in one run:

  python -m benchmarks.compare --base=COMMIT [--head=HEAD|worktree] --only=NAME[,NAME] [--rounds=2]

Both sides run this checkout's `benchmarks/run.py` (so a benchmark added since BASE still runs there) against
each commit's own library: `git archive` unpacks the commit into a temporary folder that goes first on
PYTHONPATH. The sides alternate, round by round, so a machine that slows down hurts both. It prints each run's
JSON line, then one line per benchmark: steps/s (examples/s where there are no steps, as in evaluation) and glimpse_ms of each side
(medians over the rounds) and the ratio head / base.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

_BASE = flags.DEFINE_string("base", None, "The commit to compare against.", required=True)
_HEAD = flags.DEFINE_string("head", "worktree", "The other side: a commit, or 'worktree' (this checkout as it is).")
_ONLY = flags.DEFINE_list("only", [], "Benchmarks of benchmarks/run.py to run (required).")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Times each side runs each benchmark.")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unpack(commit: str, folder: str) -> str:
  """The tree of `commit` in `folder` (its library, configs and benchmark harness)."""
  archive = subprocess.run(["git", "-C", REPO, "archive", commit], capture_output=True, check=False)
  if archive.returncode:
    raise SystemExit(f"error: --base/--head={commit} is not a commit of {REPO}: "
                     f"{archive.stderr.decode().strip()}")
  subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
  return folder


def run_side(root: str, name: str) -> dict:
  env = dict(os.environ, PYTHONPATH=root)
  proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "run.py"), f"--only={name}"], cwd=REPO,
                        env=env, capture_output=True, text=True, check=False)
  lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
  if proc.returncode or not lines:
    raise SystemExit(f"error: benchmark {name} failed under {root}: {proc.stderr.strip()[-2000:]}")
  return json.loads(lines[-1])


def summary(name: str, rows: dict) -> str:
  rate = lambda r: r["steps_per_s"] or r["examples_per_s"]
  parts = [name]
  unit = "steps/s" if rows["base"][0]["steps_per_s"] else f"{rows['base'][0].get('unit', 'examples')}/s"
  for field, get in ((unit, rate), ("glimpse_ms", lambda r: r.get("glimpse_ms"))):
    base = [get(r) for r in rows["base"] if get(r) is not None]
    head = [get(r) for r in rows["head"] if get(r) is not None]
    if base and head:
      b, h = statistics.median(base), statistics.median(head)
      parts.append(f"{field} base {b:.3f} head {h:.3f} (head/base {h / b:.2f}x)")
  return "  ".join(parts)


def main(argv):
  del argv
  if not _ONLY.value:
    raise SystemExit("error: --only must name the benchmarks to compare (see benchmarks/run.py)")
  with tempfile.TemporaryDirectory() as tmp:
    os.makedirs(os.path.join(tmp, "base"))
    roots = {"base": unpack(_BASE.value, os.path.join(tmp, "base"))}
    if _HEAD.value == "worktree":
      roots["head"] = REPO
    else:
      os.makedirs(os.path.join(tmp, "head"))
      roots["head"] = unpack(_HEAD.value, os.path.join(tmp, "head"))
    lines = []
    for name in _ONLY.value:
      rows = {"base": [], "head": []}
      for _ in range(_ROUNDS.value):
        for side in ("base", "head"):
          row = run_side(roots[side], name) | {"side": side}
          rows[side].append(row)
          print(json.dumps({k: v for k, v in row.items() if k != "config"}), flush=True)
      lines.append(summary(name, rows))
    print("\n".join(lines))


if __name__ == "__main__":
  app.run(main)
