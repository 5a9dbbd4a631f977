"""A commit's tree unpacked beside this checkout, for the tools that run two commits side by side
(`benchmarks.compare`, `benchmarks.same_results`)."""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def unpack(commit: str, folder: str) -> str:
  """The tree of `commit` in `folder` (its library, configs and benchmark harness)."""
  archive = subprocess.run(["git", "-C", REPO, "archive", commit], capture_output=True, check=False)
  if archive.returncode:
    raise SystemExit(f"error: --base/--head={commit} is not a commit of {REPO}: "
                     f"{archive.stderr.decode().strip()}")
  subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
  return folder
