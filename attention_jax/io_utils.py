"""Atomic file writes: a kill at any moment leaves either the old file or the new one, never half of one."""

import json
import os
import tempfile
from typing import Any, Iterable


def atomic_write_text(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file in the same folder and an atomic rename."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_" + os.path.basename(path))
  try:
    os.chmod(tmp, readable_mode())  # mkstemp makes 0600 files; results are meant to be shared
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.unlink(tmp)
    raise


def _read_umask() -> int:
  umask = os.umask(0)  # the only way to read it; done once, at import, before any threads write files
  os.umask(umask)
  return umask


_UMASK = _read_umask()


def readable_mode() -> int:
  """The mode a plain new file gets under the process umask (0644 with the usual umask 022)."""
  return 0o666 & ~_UMASK


def atomic_write_json(path: str, obj: Any) -> None:
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_to_builtin) + "\n")


def to_json_line(obj: Any) -> str:
  return json.dumps(obj, default=_to_builtin)


def read_json_lines(path: str, with_partial: bool = False) -> list:
  """Reads a JSON-lines file; a missing file reads as empty. A last line without its newline (an append cut short
  by a kill) is skipped, or, with `with_partial`, returned as the string it holds (so a caller can tell)."""
  if not os.path.exists(path):
    return []
  with open(path, encoding="utf-8") as f:
    lines = f.read().split("\n")
  rows = [json.loads(line) for line in lines[:-1] if line.strip()]
  if lines[-1].strip() and with_partial:
    rows.append(lines[-1])
  return rows


def append_json_line(path: str, obj: Any) -> None:
  """Appends one JSON line and flushes it to disk (a kill leaves at most this line cut short)."""
  with open(path, "a", encoding="utf-8") as f:
    f.write(to_json_line(obj) + "\n")
    f.flush()
    os.fsync(f.fileno())


def atomic_write_json_lines(path: str, rows: Iterable[Any]) -> None:
  atomic_write_text(path, "".join(to_json_line(r) + "\n" for r in rows))


def _to_builtin(x):
  """json.dumps fallback for NumPy/JAX scalars and arrays."""
  if hasattr(x, "tolist"):
    return x.tolist()
  raise TypeError(f"cannot write {type(x).__name__} as JSON")


def read_json(path: str, expected: type = dict) -> Any:
  """The JSON value in `path`; a file that is not valid UTF-8 JSON, or not of the `expected` type (a dict: the
  suite's own files are objects), is a UserError naming the file."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except (UnicodeDecodeError, ValueError) as e:
    raise UserError(f"{path} is damaged: not valid JSON ({e}); restore it from a copy, or "
                    "delete it and start the run again in a new workdir") from None
  if expected is not None and not isinstance(value, expected):
    raise UserError(f"{path} is damaged: expected a JSON {'object' if expected is dict else expected.__name__}, "
                    f"got {type(value).__name__}")
  return value
