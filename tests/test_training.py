"""The shared training loop: 1 vs 8 devices (pmap and sharding), exact resume, determinism, NaN stop, errors."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attention_jax import io_utils
from attention_jax.errors import UserError
from attention_jax.training import checkpoint, loop
from tests import helpers


def train(tmp_path, name, **overrides):
  config = helpers.tiny_classifier_config(**overrides)
  state = loop.train_and_evaluate(config, str(tmp_path / name))
  return state, io_utils.read_json_lines(str(tmp_path / name / "metrics.jsonl"))


def test_eight_devices_pmap_and_sharding_equal_one_device(tmp_path):
  assert len(jax.devices()) == 8
  one, _ = train(tmp_path, "one", parallel="sharding", num_devices=1)
  pmapped, _ = train(tmp_path, "pmap", parallel="pmap", num_devices=8)
  sharded, _ = train(tmp_path, "sharding", parallel="sharding", num_devices=8)
  assert int(one.step) == int(pmapped.step) == int(sharded.step) == 8
  # The runs really trained (parameters moved), and agree to 1e-5.
  init, _ = train(tmp_path, "zero_lr", num_devices=1, **{"optimizer.learning_rate": 1e-12})
  assert helpers.max_abs_diff(one.params, init.params) > 1e-3
  assert helpers.max_abs_diff(one.params, pmapped.params) < 1e-5
  assert helpers.max_abs_diff(one.params, sharded.params) < 1e-5
  assert helpers.max_abs_diff(one.opt_state, pmapped.opt_state) < 1e-5


def test_same_config_and_seed_give_the_same_metrics(tmp_path):
  _, rows_a = train(tmp_path, "a")
  _, rows_b = train(tmp_path, "b")
  strip = lambda rows: [{k: v for k, v in r.items() if k != "steps_per_s"} for r in rows]
  assert strip(rows_a) == strip(rows_b)
  assert [r["step"] for r in rows_a if r["split"] == "train"] == [2, 4, 6, 8]
  _, rows_c = train(tmp_path, "c", seed=1)
  assert strip(rows_c) != strip(rows_a)


def test_metrics_file_config_and_checkpoints_are_written(tmp_path):
  train(tmp_path, "w", keep_checkpoints=1)
  workdir = tmp_path / "w"
  assert json.loads((workdir / "config.json").read_text())["model"]["hidden"] == 32
  ckpt = checkpoint.Checkpointer(str(workdir), 4, 1)
  assert ckpt.all_steps() == [8]  # saved at 4 and 8, kept the newest one
  assert (workdir / "plots" / "training_curves.png").stat().st_size > 1000
  assert any(name.startswith("events.out.tfevents") for name in os.listdir(workdir / "tensorboard"))
  test_rows = [r for r in io_utils.read_json_lines(str(workdir / "metrics.jsonl")) if r["split"] == "test"]
  assert test_rows[-1]["num_examples"] == 1000 and 0 < test_rows[-1]["accuracy"] <= 1


def test_resume_in_a_new_process_is_exact(tmp_path):
  """2N steps in one go equals N steps, a new process, then N more (params, optimizer state and metrics)."""
  args = ["--config=experiments/configs/mnist_fc.py", "--config.model.hidden=32", "--config.batch_size=32",
          "--config.log_every_steps=3", "--config.eval_every_steps=6", "--config.checkpoint_every_steps=6",
          "--config.optimizer.schedule=constant",
          f"--config.data.tfds_data_dir={os.environ['ATTENTION_JAX_TFDS_DIR']}"]
  for workdir, steps in (("straight", [12]), ("resumed", [6, 12])):
    for n in steps:
      proc = helpers.run_binary("experiments.train", *args, f"--workdir={tmp_path / workdir}",
                                f"--config.num_train_steps={n}")
      assert proc.returncode == 0, proc.stderr[-3000:]
  like = loop.load_config(str(tmp_path / "straight"))
  like.num_devices = 1  # the runs used one device; this process simulates eight
  states = []
  for workdir in ("straight", "resumed"):
    ckpt = checkpoint.Checkpointer(str(tmp_path / workdir), 6, 3)
    assert ckpt.latest_step() == 12
    states.append(ckpt.restore(12, _template(like))[0])
  for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1])):
    np.testing.assert_array_equal(a, b)  # bit-identical
  rows = [[{k: v for k, v in r.items() if k != "steps_per_s"}
           for r in io_utils.read_json_lines(str(tmp_path / w / "metrics.jsonl"))] for w in ("straight", "resumed")]
  assert rows[0] == rows[1]


def _template(config):
  return loop.build_trainer(config).initial_state()


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
  with pytest.raises(loop.NonFiniteError, match=r"non-finite \w+ at step \d+"):
    train(tmp_path, "nan", num_train_steps=12, checkpoint_every_steps=2, log_every_steps=4,
          **{"optimizer.learning_rate": 1e6})
  ckpt = checkpoint.Checkpointer(str(tmp_path / "nan"), 2, 3)
  config = helpers.tiny_classifier_config()
  state, _ = ckpt.restore(ckpt.latest_step(), _template(config))
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state.params))


@pytest.mark.parametrize("overrides,message", [
    ({"batch_size": 30}, r"batch_size=30 must be a positive multiple of the device count \(8"),
    ({"eval_batch_size": 102}, r"eval_batch_size=102 must be a positive multiple"),
    ({"parallel": "tpu_magic"}, r"parallel='tpu_magic' is not known; expected one of: pmap, sharding"),
    ({"model.name": "resnet"}, r"model.name='resnet' is not known; expected one of: conv, fc"),
    ({"optimizer.name": "lamb"}, r"optimizer.name='lamb' is not known; expected one of: adadelta, adam, sgd"),
    ({"data.name": "cifar"}, r"data.name='cifar' is not known"),
    ({"task": "chess"}, r"task='chess' is not known"),
    ({"num_train_steps": 0}, r"num_train_steps=0 must be an integer >= 1"),
    ({"num_devices": 9}, r"num_devices=9 is out of range"),
])
def test_bad_config_values_get_clear_errors(tmp_path, overrides, message):
  with pytest.raises(UserError, match=message):
    train(tmp_path, "bad", **overrides)


def test_resuming_with_a_different_config_is_refused_and_nothing_is_overwritten(tmp_path):
  train(tmp_path, "w")
  before = (tmp_path / "w" / "config.json").read_text()
  with pytest.raises(UserError, match=r"model.hidden: 32 -> 64.*new --workdir.*config.json"):
    train(tmp_path, "w", **{"model.hidden": 64})
  assert (tmp_path / "w" / "config.json").read_text() == before
  train(tmp_path, "w", num_train_steps=10)  # a longer run of the same experiment resumes


def test_unwritable_workdir_is_refused(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("x")
  with pytest.raises(UserError, match="--workdir=.*is not writable"):
    train(tmp_path, "file/sub")


def test_named_random_streams_keep_the_keys_of_earlier_runs_and_are_distinct():
  """Every root key comes from random_streams; the values are those the earlier code drew (PRNGKey(seed + k)), so
  results recorded before the streams had names still reproduce."""
  from attention_jax import random_streams  # pylint: disable=g-import-not-at-top
  from attention_jax.training import state as state_lib  # pylint: disable=g-import-not-at-top
  for seed in (0, 3):
    for stream, offset in (("params", 0), ("train", 1), ("eval", 2), ("eval_games", 7)):
      np.testing.assert_array_equal(random_streams.key(seed, stream), jax.random.PRNGKey(seed + offset))
    np.testing.assert_array_equal(state_lib.eval_example_keys(seed, jnp.arange(3)),
                                  [jax.random.fold_in(jax.random.PRNGKey(seed + 2), i) for i in range(3)])
  roots = {tuple(np.asarray(random_streams.key(0, s)).tolist()) for s in random_streams.STREAMS}
  assert len(roots) == len(random_streams.STREAMS)
  with pytest.raises(ValueError, match="unknown random stream 'dropout'"):
    random_streams.key(0, "dropout")


def test_device_prefetch_keeps_order_and_the_position_of_what_was_handed_out():
  """Batches come out in the iterator's order, get_state() is the position after the batches handed out (not after
  those queued ahead), so a checkpoint resumes at the next batch; an error in the thread reaches the caller."""
  from attention_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  dataset = pipeline.train_dataset({"x": np.arange(100)}, 10, seed=0)
  reference = pipeline.train_iterator(dataset)
  expected = [next(reference)["x"] for _ in range(6)]
  prefetch = pipeline.DevicePrefetch(pipeline.train_iterator(dataset), lambda b: b, size=3)
  for i in range(2):
    np.testing.assert_array_equal(next(prefetch)["x"], expected[i])
  state = prefetch.get_state()
  prefetch.close()
  resumed = pipeline.train_iterator(dataset)
  resumed.set_state(state)
  np.testing.assert_array_equal(next(resumed)["x"], expected[2])

  def broken(batch):
    raise ValueError("cannot place this batch")
  failing = pipeline.DevicePrefetch(pipeline.train_iterator(dataset), broken)
  with pytest.raises(ValueError, match="cannot place this batch"):
    next(failing)
  failing.close()
