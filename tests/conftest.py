"""Test setup: 8 simulated CPU devices (before JAX starts) and a private folder for prepared TFDS data."""

import os
import sys

# Subprocesses that a test starts (the absl binaries, the kill/resume runs) are dominated by compilation: for them
# LLVM's backend optimisations are off, which halves XLA's compile time on CPU (every run a test compares with
# another uses the same flags). In this process the defaults stay: the 1 vs 8 device tests compare to 1e-5.
SUBPROCESS_XLA_FLAGS = "--xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.path.join(REPO, "..", "shared", "data", "mnist")
SHARED_TATOEBA = os.path.join(REPO, "..", "shared", "data", "tatoeba")
sys.path.insert(0, REPO)


def pytest_configure(config):
  # One prepared-data folder per test process (xdist workers prepare their own copy; no races).
  worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
  base = config.getoption("basetemp") or os.path.join("/tmp", f"attention_jax_tests_{os.getuid()}")
  os.environ["ATTENTION_JAX_TFDS_DIR"] = os.path.join(str(base), "tfds_" + worker)


@pytest.fixture(scope="session")
def shared_mnist_dir():
  if not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
    pytest.fail(f"the real MNIST test set is expected in {SHARED_MNIST} (see ../shared/data/README.md)")
  return SHARED_MNIST
