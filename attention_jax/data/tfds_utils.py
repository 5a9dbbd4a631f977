"""Helpers every TFDS builder of this package shares: where prepared data lives, reading a data source back whole,
and reading the raw lines of a local text file, plain or gzip."""

import fcntl
import gzip
import os
import zlib

import numpy as np
import tensorflow_datasets as tfds

from attention_jax.data import notes
from attention_jax.errors import UserError


def default_tfds_dir() -> str:
  return os.environ.get("ATTENTION_JAX_TFDS_DIR", os.path.expanduser("~/attention_jax_data/tfds"))


def prepare(builder):
  """Prepares `builder`'s data (`download_and_prepare`) under an exclusive lock on a file beside it and returns
  the builder to read it with, so runs started together on one machine prepare a dataset once: the first writes
  it, the others wait and then read what it wrote (without the lock the second one's rename failed, "Destination
  ... already exists"). A builder made before the data existed knows no splits: it is replaced by one read from
  the prepared folder."""
  folder = os.path.dirname(os.path.abspath(builder.data_dir))  # .../NAME/CONFIG, above the version folder
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, ".prepare.lock"), "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      if os.path.exists(os.path.join(builder.data_dir, "dataset_info.json")):
        notes.repeat(builder.data_dir)
        if not builder.info.splits:
          return tfds.builder_from_directory(builder.data_dir)  # prepared by another process while we waited
        builder.download_and_prepare(file_format="array_record")  # already prepared: reads its info only
        return builder
      with notes.preparing(builder.data_dir):
        builder.download_and_prepare(file_format="array_record")
      return builder
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def all_records(source) -> list:
  """Every record of a TFDS data source, in source order (the `id` feature) when records carry one."""
  try:
    records = source.__getitems__(list(range(len(source))))
  except TypeError:  # the sources of tfds.testing.mock_data only read one record at a time
    records = [source[i] for i in range(len(source))]
  if records and "id" in records[0]:
    records = [records[i] for i in np.argsort([r["id"] for r in records], kind="stable")]
  return records


def as_text(value) -> str:
  """A TFDS Text feature as read back from a data source (bytes) or a mock (str), as str."""
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)


GZIP_MAGIC = b"\x1f\x8b"


def read_lines(path: str, field: str):
  """The raw byte lines of a plain or gzip file (told apart by its first bytes, whatever its name)."""
  with open(path, "rb") as f:
    compressed = f.read(2) == GZIP_MAGIC
  if path.endswith(".gz") and not compressed:
    raise UserError(f"config field {field}={path!r} is named .gz but is not a gzip file")
  if not compressed:
    with open(path, "rb") as f:
      yield from f
    return
  try:
    with gzip.open(path, "rb") as f:
      yield from f
  except (EOFError, gzip.BadGzipFile, zlib.error) as e:
    raise UserError(f"config field {field}={path!r} is a truncated or damaged gzip file ({e}); expected the "
                    f"whole gzip file") from e


def text_lines(path: str, field: str, bad: dict):
  """(line number, text) of each non-blank line of a UTF-8 file, plain or gzip, without its line end (a byte-order
  mark at the start dropped); a line that is not UTF-8 is skipped and its number added to bad['invalid UTF-8']."""
  for number, raw in enumerate(read_lines(path, field), start=1):
    try:
      line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
      bad.setdefault("invalid UTF-8", []).append(number)
      continue
    if line.strip():
      yield number, line


def warn_skipped(path: str, bad: dict) -> dict:
  """{reason: [line numbers]} without the empty reasons; a warning counts them and names the first ten lines."""
  bad = {k: v for k, v in bad.items() if v}
  if bad:
    shown = "; ".join(f"{len(v)} with {k} (lines {', '.join(map(str, v[:10]))}{', ...' if len(v) > 10 else ''})"
                      for k, v in bad.items())
    notes.warn(f"{path}: skipped {sum(map(len, bad.values()))} bad lines: {shown}")
  return bad
