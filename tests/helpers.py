"""Small configs and runners shared by the tests."""

import os
import subprocess
import sys

import jax
import numpy as np

from experiments.configs import base
from tests.conftest import SUBPROCESS_XLA_FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_classifier_config(**overrides):
  """An FC classifier on the embedded digits, small enough to train in seconds."""
  c = base.base_config()
  c.model = dict(name="fc", hidden=32, num_layers=2)
  c.batch_size = 32
  c.eval_batch_size = 200
  c.num_train_steps = 8
  c.log_every_steps = 2
  c.eval_every_steps = 8
  c.checkpoint_every_steps = 4
  c.optimizer.learning_rate = 0.05
  c.data.tfds_data_dir = os.environ["ATTENTION_JAX_TFDS_DIR"]
  return with_overrides(c, overrides)


def with_overrides(c, overrides: dict):
  """Sets dotted config fields: {'optimizer.learning_rate': 0.1} -> c.optimizer.learning_rate = 0.1."""
  for key, value in overrides.items():
    target = c
    *path, leaf = key.split(".")
    for p in path:
      target = target[p]
    target[leaf] = value
  return c


def run_binary(module: str, *args: str, env_extra=None, timeout=300):
  """Runs `python -m module args` from the repo root; returns the CompletedProcess."""
  env = dict(os.environ)
  env["XLA_FLAGS"] = SUBPROCESS_XLA_FLAGS  # no simulated devices; see conftest
  env.update(env_extra or {})
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=timeout, check=False)


def max_abs_diff(a, b) -> float:
  diffs = jax.tree.map(lambda x, y: float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)))),
                       a, b)
  return max(jax.tree.leaves(diffs))


def final_state(workdir):
  """The newest checkpoint of a run (restored on one device, whatever the run used)."""
  from attention_jax.training import checkpoint, loop  # pylint: disable=g-import-not-at-top
  config = loop.load_config(str(workdir))
  config.num_devices = 1
  template = loop.build_trainer(config).initial_state()
  ckpt = checkpoint.Checkpointer(str(workdir), config.checkpoint_every_steps, config.keep_checkpoints)
  step, state, _ = ckpt.restore_newest(template)
  ckpt.close()
  return step, state


def assert_bit_identical(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def tiny_translation_config(model: str = "rnnsearch", **overrides):
  """RNNsearch/RNNencdec on a small generated dates set, small enough to train in seconds."""
  from experiments.configs import nmt_dates  # pylint: disable=g-import-not-at-top
  c = nmt_dates.get_config(model)
  c.model.update(embed=16, hidden=24, maxout=12)
  if "alignment" in c.model:  # RNNsearch's own argument
    c.model.alignment = 16
  c.data.sizes = (400, 40, 40)
  c.optimizer.warmup_steps = 0
  c.data.tfds_data_dir = os.environ["ATTENTION_JAX_TFDS_DIR"]
  c.batch_size = 16
  c.eval_batch_size = 40
  c.num_train_steps = 6
  c.log_every_steps = 2
  c.eval_every_steps = 6
  c.checkpoint_every_steps = 3
  c.num_heatmaps = 2
  return with_overrides(c, overrides)


def train_steps(config, steps: int, with_start: bool = False):
  """`steps` compiled train steps of the shared loop's trainer (no evaluation), on the config's devices; with
  `with_start`, (initial state, final state)."""
  from attention_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  trainer = loop.build_trainer(config)
  start = trainer.initial_state()
  state = trainer.par.put_replicated(start)
  batches = pipeline.train_iterator(trainer.task.train_data)
  for _ in range(steps):
    state, _ = trainer.train_step(state, trainer.par.put_batch(next(batches)))
  final = trainer.par.get_replicated(state)
  return (start, final) if with_start else final


CUES = {"neg": ("awful", "dull", "boring"), "pos": ("great", "superb", "moving"), "ask": ("where", "who", "when")}
FILLER = tuple(f"w{i}" for i in range(40))


def write_cue_sentences(folder, n_train: int = 600, n_test: int = 120, seed: int = 0) -> dict:
  """A small labelled set (3 classes) where one cue word anywhere among 3 to 14 filler words decides the label;
  writes folder/{train,test}.tsv (label<TAB>sentence) once and returns their paths."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  paths = {}
  for split, n in (("train", n_train), ("test", n_test)):
    lines = []
    for _ in range(n):
      label = rng.choice(sorted(CUES))
      words = list(rng.choice(FILLER, rng.integers(3, 15)))
      words.insert(int(rng.integers(0, len(words) + 1)), rng.choice(CUES[label]))
      lines.append(f"{label}\t{' '.join(words)}\n")
    paths[split] = os.path.join(folder, f"{split}.tsv")
    if not os.path.exists(paths[split]):
      with open(paths[split] + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(lines)
      os.replace(paths[split] + ".tmp", paths[split])
  return paths


def tiny_textcls_config(folder, **overrides):
  """The text classifier (attention pooling) on `write_cue_sentences(folder)`, small enough to train in seconds."""
  from experiments.configs import textcls  # pylint: disable=g-import-not-at-top
  paths = write_cue_sentences(folder)
  c = textcls.get_config("sst2")
  c.data.update(train_path=paths["train"], valid_path="", test_path=paths["test"], tfds_data_dir=os.environ[
      "ATTENTION_JAX_TFDS_DIR"], buckets=(8,))
  c.model.update(embed_size=16, hidden=16, attention_size=16)
  c.update(batch_size=40, eval_batch_size=40, num_train_steps=6, log_every_steps=2, eval_every_steps=6,
           checkpoint_every_steps=3)
  return with_overrides(c, overrides)
