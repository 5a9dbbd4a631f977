"""Reader for the IDX files MNIST is distributed in (http://yann.lecun.com/exdb/mnist/).

Format: a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one big-endian uint32 per
dimension, then the data in row-major order. MNIST uses type 0x08 (unsigned byte): images are 3-d
[n, 28, 28], labels 1-d [n]. Files may be gzip-compressed.
"""

import gzip
import os

import numpy as np

from attention_jax.errors import UserError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str, expected_ndim: int | None = None) -> np.ndarray:
  """Reads one IDX file (plain or .gz) into a NumPy array, checking the magic number and the size.

  Raises UserError naming the file when it is missing, has a wrong magic number, or is truncated.
  """
  if not os.path.isfile(path):
    raise UserError(f"IDX file {path} does not exist")
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(path, "rb") as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise UserError(f"IDX file {path} cannot be read ({e}); expected a plain or gzip-compressed IDX file") from e
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
    raise UserError(f"IDX file {path} has a wrong magic number {raw[:4].hex()!r}; expected 0000TTNN with a "
                    f"known type TT (08 for MNIST)")
  dtype, ndim = np.dtype(_DTYPES[raw[2]]), raw[3]
  if expected_ndim is not None and ndim != expected_ndim:
    raise UserError(f"IDX file {path} has {ndim} dimensions; expected {expected_ndim}")
  header = 4 + 4 * ndim
  if len(raw) < header:
    raise UserError(f"IDX file {path} is truncated inside its header")
  shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
  expected_bytes = header + int(np.prod(shape)) * dtype.itemsize
  if len(raw) != expected_bytes:
    raise UserError(f"IDX file {path} holds {len(raw)} bytes; its header {shape} promises {expected_bytes} "
                    f"(truncated or not an IDX file)")
  return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str, array: np.ndarray) -> None:
  """Writes a uint8 array as an IDX file (gzip-compressed when the name ends in .gz). Used by tests."""
  array = np.ascontiguousarray(array, np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(header + array.tobytes())
