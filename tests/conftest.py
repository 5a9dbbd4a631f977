"""Test setup: 8 simulated CPU devices (before JAX starts), a private folder for prepared TFDS data and an on-disk
cache of compiled programs."""

import os
import shutil
import sys

# The tests are dominated by compilation, not by running steps: LLVM's backend optimisations are off, which halves
# XLA's compile time on CPU, in this process and in the subprocesses a test starts (the absl binaries, the
# kill/resume runs). Every run a test compares with another uses the same flags; the 1 vs 8 device tests still
# agree to 1e-5. A test whose time is running many steps starts its binary with XLA_FLAGS="" instead.
SUBPROCESS_XLA_FLAGS = "--xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" {SUBPROCESS_XLA_FLAGS}"
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # pylint: disable=wrong-import-position

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_MNIST = os.path.join(REPO, "..", "shared", "data", "mnist")
SHARED_TATOEBA = os.path.join(REPO, "..", "shared", "data", "tatoeba")
# The tests' fixed folder: prepared TFDS data when pytest is given no --basetemp, the compilation cache always.
TEST_FOLDER = os.path.join("/tmp", f"attention_jax_tests_{os.getuid()}")
sys.path.insert(0, REPO)


def pytest_configure(config):
  # One prepared-data folder per test process (xdist workers prepare their own copy; no races).
  worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
  base = config.getoption("basetemp") or TEST_FOLDER
  os.environ["ATTENTION_JAX_TFDS_DIR"] = os.path.join(str(base), "tfds_" + worker)
  # Compiled programs go to an on-disk cache shared by this test process and the subprocesses it starts: tests
  # build the same small trainers again and again (each build jits new functions, which JAX's in-memory cache
  # cannot match), and every kill/resume or train-then-evaluate subprocess compiles what the process before it
  # compiled. Entries are keyed by the program, the XLA flags and the JAX version, so a hit runs the same
  # executable (the bit-identity tests stay exact). One folder per process of this session, outside the basetemp
  # (which pytest empties when a worker first makes a tmp_path), removed at the end.
  run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))
  # read by JAX when it is imported, here and in the subprocesses
  os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(TEST_FOLDER, "jax_compilation_cache", f"{run}_{worker}")
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


def pytest_unconfigure(config):
  del config
  shutil.rmtree(os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)


@pytest.fixture(scope="session")
def shared_mnist_dir():
  if not os.path.exists(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
    pytest.fail(f"the real MNIST test set is expected in {SHARED_MNIST} (see ../shared/data/README.md)")
  return SHARED_MNIST
