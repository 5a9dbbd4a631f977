r"""A short run at two commits, compared bit for bit: a speedup must not change what a run computes.

  python -m benchmarks.same_results --base=COMMIT --config=experiments/configs/ram_cluttered.py:60,6 \
      --root=/tmp/same --set=num_train_steps=100 [--set=FIELD=VALUE ...] [--head=HEAD|worktree] \
      [--base_patch=benchmarks/patches/NAME.diff]

Each side trains the config (its own copy of the config file, with the same `--set` overrides) with its own library
(`git archive` of the commit, as `benchmarks.compare` unpacks it; the head side defaults to this checkout), then
`experiments.evaluate` writes its eval.json. It prints one line per check and exits 1 if any differs:
- the two config.json files (the runs must have computed the same thing: pin with --set what the commits' defaults
  disagree on);
- every array of the two newest checkpoints (parameters, optimiser state, step and key), bit for bit;
- the two eval.json files, every value.
`--base_patch` applies a diff to the base tree first: a fix made since BASE that is not what is being compared
(`benchmarks/patches/f8f71e4_exact_patch_starts.diff` gives f8f71e4 today's exact integer patch starts, without
which a location within 1e-6 of a pixel boundary may pick another pixel in another compiled program).
"""

import os
import subprocess
import sys
import tempfile

from absl import app, flags
import jax
import numpy as np
import orbax.checkpoint as ocp

from attention_jax import io_utils
from benchmarks import commits

def define_flags() -> None:
  """The flags (defined when the binary runs, so the module imports beside benchmarks.compare)."""
  flags.DEFINE_string("base", None, "The commit to compare against.", required=True)
  flags.DEFINE_string("head", "worktree", "The other side: a commit, or 'worktree' (this checkout as it is).")
  flags.DEFINE_string("config", None, "The config file and its argument, as experiments.train takes it.",
                      required=True)
  flags.DEFINE_multi_string("set", [], "FIELD=VALUE: a --config.FIELD=VALUE both sides train with.")
  flags.DEFINE_string("base_patch", "", "A diff (git apply -p1) applied to the base tree before it runs.")
  flags.DEFINE_string("root", None, "Folder of the two workdirs (ROOT/base, ROOT/head); must not hold them.",
                      required=True)
  flags.DEFINE_string("mnist_dir", os.path.join(os.path.dirname(commits.REPO), "shared", "data", "mnist"),
                      "The MNIST IDX files both sides read (config field data.mnist_dir).")


def run_side(tree: str, workdir: str, config: str, overrides: list, mnist_dir: str) -> None:
  """Trains and evaluates in `tree` (a checkout: its library and its config file) into `workdir`."""
  env = dict(os.environ, PYTHONPATH=tree)
  mnist = f"--config.data.mnist_dir={os.path.abspath(mnist_dir)}"
  for command in ([sys.executable, "-m", "experiments.train", f"--config={config}", f"--workdir={workdir}", mnist]
                  + [f"--config.{o}" for o in overrides],
                  [sys.executable, "-m", "experiments.evaluate", f"--workdir={workdir}"]):
    proc = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
      raise SystemExit(f"error: {' '.join(command[1:4])} failed in {tree}: {proc.stderr.strip()[-2000:]}")


def newest_checkpoint(workdir: str) -> dict:
  """The arrays of the newest checkpoint's state, by their path in the tree."""
  folder = os.path.join(workdir, "checkpoints")
  step = max(int(n) for n in os.listdir(folder) if n.isdigit())
  tree = ocp.StandardCheckpointer().restore(os.path.join(folder, str(step), "state"))
  flat, _ = jax.tree_util.tree_flatten_with_path(tree)
  return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in flat}


def differences(base: str, head: str) -> tuple:
  """(the checks that differ between the two workdirs, one line each (empty: identical), the number of arrays in
  the head's newest checkpoint)."""
  read = lambda workdir, name: io_utils.read_json(os.path.join(workdir, name))
  out = []
  if read(base, "config.json") != read(head, "config.json"):
    out.append("config.json differs: the sides trained different configs (pin the fields with --set)")
  a, b = newest_checkpoint(base), newest_checkpoint(head)
  if sorted(a) != sorted(b):
    out.append(f"the checkpoints hold different arrays: {sorted(set(a) ^ set(b))[:5]}")
  for path in sorted(set(a) & set(b)):
    if a[path].dtype != b[path].dtype or a[path].shape != b[path].shape or a[path].tobytes() != b[path].tobytes():
      out.append(f"checkpoint array {path} differs")
  eval_a, eval_b = read(base, "eval.json"), read(head, "eval.json")
  for key in sorted(set(eval_a) | set(eval_b)):
    if eval_a.get(key) != eval_b.get(key):
      out.append(f"eval.json {key}: {eval_a.get(key)!r} against {eval_b.get(key)!r}")
  return out, len(b)


def main(argv):
  del argv
  f = flags.FLAGS
  root = os.path.abspath(f.root)
  sides = {"base": os.path.join(root, "base"), "head": os.path.join(root, "head")}
  if any(os.path.exists(w) for w in sides.values()):
    raise SystemExit(f"error: --root={root} already holds base/ or head/; pass an empty folder")
  with tempfile.TemporaryDirectory() as tmp:
    trees = {"base": commits.unpack(f.base, _folder(tmp, "base"))}
    if f.base_patch:
      applied = subprocess.run(["git", "apply", "-p1", os.path.abspath(f.base_patch)], cwd=trees["base"],
                               capture_output=True, text=True, check=False)
      if applied.returncode:
        raise SystemExit(f"error: --base_patch={f.base_patch} does not apply to {f.base}: {applied.stderr.strip()}")
    trees["head"] = commits.REPO if f.head == "worktree" else commits.unpack(f.head, _folder(tmp, "head"))
    for side, workdir in sides.items():
      run_side(trees[side], workdir, f.config, f.set, f.mnist_dir)
  found, arrays = differences(sides["base"], sides["head"])
  print("\n".join(found) if found else
        f"identical: config.json, all {arrays} arrays of the newest checkpoint, and eval.json "
        f"({f.base} against {f.head}; workdirs under {root})")
  sys.exit(1 if found else 0)


def _folder(tmp: str, name: str) -> str:
  os.makedirs(os.path.join(tmp, name))
  return os.path.join(tmp, name)


if __name__ == "__main__":
  define_flags()
  app.run(main)
