"""Every row of the paper tables has a config with the paper's settings, and the models build and run on inputs
of the rows' sizes (traced with `jax.eval_shape`: shapes only, nothing compiled or downloaded)."""

import os

import jax
import jax.numpy as jnp
import pytest

from attention_jax import io_utils
from attention_jax.models import registry
from attention_jax.rl import catch
from attention_jax.tasks import ram as ram_task
from attention_jax.training import optim
from experiments.configs import nmt_dates, nmt_tatoeba, nmt_wmt14, ram_catch, ram_cluttered, ram_mnist, \
    ram_translated
from tests import helpers

# (config module, argument) -> (canvas, clutter pieces, glimpses, glimpse size, scales, random glimpses);
# Mnih et al. 2014, NIPS version, Tables 1 and 2.
RAM_ROWS = {
    **{(ram_mnist, str(n)): (28, 0, n, 8, 1, False) for n in range(2, 8)},
    **{(ram_translated, str(n)): (60, 0, n, 12, 3, False) for n in (4, 6, 8)},
    **{(ram_cluttered, f"60,{n}"): (60, 4, n, 12, 3, False) for n in (4, 6, 8)},
    (ram_cluttered, "60,random"): (60, 4, 8, 12, 3, True),
    **{(ram_cluttered, f"100,{n}"): (100, 8, n, 12, 4, False) for n in (4, 6, 8)},
    (ram_cluttered, "100,random"): (100, 8, 8, 12, 4, True),
}
# Baselines: (module, argument) -> (canvas, clutter, model name, hidden units); the captions' conv net has 10x10
# filters with stride 5, then 256 units (86 at 100x100).
BASELINE_ROWS = {
    (ram_translated, "fc"): (60, 0, "fc", 256), (ram_translated, "conv"): (60, 0, "conv", 256),
    (ram_cluttered, "60,fc"): (60, 4, "fc", 256), (ram_cluttered, "60,conv"): (60, 4, "conv", 256),
    (ram_cluttered, "100,fc"): (100, 8, "fc", 256), (ram_cluttered, "100,conv"): (100, 8, "conv", 86),
}


def canvas_of(c) -> int:
  return int(c.data.get("canvas", 0)) or 28


@pytest.mark.parametrize("row", list(RAM_ROWS), ids=lambda r: f"{r[0].__name__.split('.')[-1]}:{r[1]}")
def test_ram_rows(row):
  module, arg = row
  canvas, clutter, glimpses, size, scales, random = RAM_ROWS[row]
  c = module.get_config(arg)
  assert (canvas_of(c), int(c.data.get("clutter", 0))) == (canvas, clutter)
  m = c.model
  g = m.glimpse
  assert (m.name, m.num_glimpses, g.size, g.num_scales, m.random_glimpses) == ("ram", glimpses, size, scales, random)
  assert (g.what_hidden, g.where_hidden, g.output, m.core_size, g.pooling) == (128, 128, 256, 256, "mean")
  assert (c.reinforce.num_samples, c.reinforce.eval_samples, c.reinforce.weight) == (1, 16, 1.0)
  # The searched recipe (results/ram_search.json, trial 19), chosen on validation and so evaluated there.
  assert (c.optimizer.name, c.optimizer.learning_rate, m.location_std, m.location_net_hidden) == (
      "adam", ram_mnist.RECIPE["learning_rate"], ram_mnist.RECIPE["location_std"], 256)
  assert (c.num_train_steps, c.batch_size) == (200 * 391, 128)  # 200 epochs of 50,000 digits
  assert (c.data.validation_fraction, c.eval_split, c.select_by) == (1 / 6, "valid", "error_1_path")


def test_the_recipe_rows_are_their_configs_as_they_are():
  """Each row of results/ram_recipe.spec.json runs its config file's defaults: its overrides only name the full
  protocol's data and restate what the config already holds."""
  for row in assert_rows_restate_their_configs("ram_recipe", "", ignored=("data.name",)):
    assert row["overrides"]["data.name"] == "mnist" and "pinned" not in row


def assert_rows_restate_their_configs(spec_name: str, option: str, ignored: tuple) -> list:
  """Asserts each row of results/SPEC_NAME.spec.json overrides only what its config with `option` appended to its
  argument already holds (less the `ignored` fields); returns the rows."""
  spec = io_utils.read_json(os.path.join(helpers.REPO, "results", f"{spec_name}.spec.json"))
  modules = {"ram_mnist": ram_mnist, "ram_translated": ram_translated, "ram_cluttered": ram_cluttered}
  for row in spec["rows"]:
    file, _, arg = row["config"].partition(":")
    c = modules[os.path.basename(file).removesuffix(".py")].get_config(arg + option)
    restated = {k: v for k, v in row["overrides"].items() if k not in ignored}
    assert {k: c[k.split(".")[0]][k.split(".")[1]] if "." in k else c[k] for k in restated} == restated, row["id"]
  return spec["rows"]


@pytest.mark.parametrize("module,arg", [(ram_mnist, "6"), (ram_translated, "8"), (ram_cluttered, "60,6"),
                                        (ram_cluttered, "100,random")])
def test_ram_rows_take_the_papers_optimizer_as_one_option(module, arg):
  adam, sgd = module.get_config(arg), module.get_config(arg + ",sgd")
  assert (sgd.optimizer.name, sgd.optimizer.momentum, sgd.batch_size) == ("sgd", 0.9, 20)  # Mnih et al., 4.1
  assert sgd.num_train_steps * sgd.batch_size == adam.num_train_steps * adam.batch_size  # as many images
  assert sgd.model == adam.model and sgd.data == adam.data and sgd.reinforce == adam.reinforce
  with pytest.raises(ValueError, match="must be 'sgd' and/or 'lstm', each at most once, not 'adam'"):
    module.get_config(arg + ",adam")


@pytest.mark.parametrize("module,arg", [(ram_mnist, "6"), (ram_translated, "6"), (ram_cluttered, "60,8")])
def test_ram_rows_take_an_lstm_core_as_one_option_changing_nothing_else(module, arg):
  rnn, lstm, both = (module.get_config(arg + options) for options in ("", ",lstm", ",lstm,sgd"))
  assert (rnn.model.core, lstm.model.core, both.model.core) == ("rnn", "lstm", "lstm")
  assert lstm.model.to_dict() == {**rnn.model.to_dict(), "core": "lstm"}
  assert lstm.optimizer == rnn.optimizer and lstm.data == rnn.data and both.optimizer.name == "sgd"
  with pytest.raises(ValueError, match="each at most once, not 'lstm,lstm'"):
    module.get_config(arg + ",lstm,lstm")


def test_the_lstm_rows_are_their_configs_with_the_lstm_option():
  """Each row of results/ram_lstm.spec.json is its config with ',lstm', less the length where the row says so."""
  rows = assert_rows_restate_their_configs("ram_lstm", ",lstm",
                                          ignored=("data.name", "num_train_steps", "checkpoint_every_steps"))
  assert all(row["overrides"]["model.core"] == "lstm" for row in rows)
  for row in rows:  # the length the id names, e.g. 'lstm_c60_8_200ep': 200 epochs of 50,000 in batches of 128
    epochs = int(row["id"].rpartition("_")[2].removesuffix("ep"))
    assert row["overrides"]["num_train_steps"] == ram_mnist.steps_for(epochs, row["overrides"]["batch_size"]), row["id"]


def test_the_100x100_rows_are_their_search_trials_at_the_recipes_length():
  """Each row of results/ram_c100.spec.json is its config with ',lstm' less the two settings the 100x100 search
  varied, which are its trial's (`search_trial`), trained the 200 epochs its id names instead of the trial's 50."""
  from experiments import ram_search  # pylint: disable=g-import-not-at-top
  varied = ("model.location_std", "reinforce.num_samples")
  rows = assert_rows_restate_their_configs("ram_c100", ",lstm", ignored=("data.name", "num_train_steps",
                                                                          "checkpoint_every_steps", *varied))
  for row in rows:
    trial = ram_search.overrides(ram_search.sample_settings(0, row["search_trial"], "lstm_canvas"), 10)
    assert {**row["overrides"], "num_train_steps": trial["num_train_steps"],
            "checkpoint_every_steps": trial["checkpoint_every_steps"]} == trial, row["id"]
    assert row["overrides"]["num_train_steps"] == ram_mnist.steps_for(200) and row["id"].endswith("_200ep")


# One row per kind of input (image size, scales, learned or random glimpses); the glimpse count only sets the
# scan's length.
TRACED_RAM_ROWS = [(ram_mnist, "6"), (ram_translated, "8"), (ram_cluttered, "60,random"), (ram_cluttered, "100,8")]


@pytest.mark.parametrize("row", TRACED_RAM_ROWS, ids=lambda r: f"{r[0].__name__.split('.')[-1]}:{r[1]}")
def test_ram_models_run_on_their_rows_inputs(row):
  canvas, _, glimpses, _, _, _ = RAM_ROWS[row]
  model = ram_task.build_model(row[0].get_config(row[1]).model, canvas)
  images = jnp.zeros((2, canvas, canvas, 1))
  key = jax.random.PRNGKey(0)
  noise = model.draw_noise(jax.random.split(key, 2))
  params = jax.eval_shape(model.init, key, images, noise)
  out = jax.eval_shape(model.apply, params, images, noise)
  assert out["logits"].shape == (2, 10)
  assert out["location"].shape == (2, glimpses, 2)


@pytest.mark.parametrize("row", list(BASELINE_ROWS), ids=lambda r: f"{r[0].__name__.split('.')[-1]}:{r[1]}")
def test_baseline_rows(row):
  module, arg = row
  canvas, clutter, name, hidden = BASELINE_ROWS[row]
  c = module.get_config(arg)
  assert (canvas_of(c), int(c.data.get("clutter", 0)), c.model.name, c.model.hidden) == (canvas, clutter, name,
                                                                                            hidden)
  if name == "conv":
    assert (c.model.kernel_size, c.model.stride) == (10, 5)
  model = registry.build(c.model, num_classes=10)
  images = jnp.zeros((2, canvas, canvas, 1))
  params = jax.eval_shape(model.init, jax.random.PRNGKey(0), images)
  assert jax.eval_shape(model.apply, params, images).shape == (2, 10)


@pytest.mark.parametrize("module,arg", [(nmt_dates, "rnnsearch"), (nmt_dates, "rnnencdec"),
                                        (nmt_tatoeba, "rnnsearch"), (nmt_tatoeba, "rnnencdec"),
                                        (nmt_wmt14, "rnnsearch"), (nmt_wmt14, "rnnencdec"),
                                        (nmt_wmt14, "rnnsearch,paper"), (nmt_wmt14, "rnnencdec,paper")])
def test_translation_configs(module, arg):
  c = module.get_config(arg)
  assert c.model.name == arg.split(",")[0]
  if arg.endswith("paper"):  # Bahdanau et al. 2014, Section 4.2 and Appendix B
    m = c.model
    assert (m.embed, m.hidden, m.maxout, m.get("alignment", 1000)) == (620, 1000, 500, 1000)
    assert (c.data.src_vocab_size, c.data.tgt_vocab_size, c.batch_size) == (30000, 30000, 80)
    o = c.optimizer
    assert (o.name, o.eps, o.rho, o.clip_norm) == ("adadelta", 1e-6, 0.95, 1.0)


def test_catch_config():
  c = ram_catch.get_config()
  m = c.model  # Mnih et al. 2014, Section 4.2
  assert (m.name, m.glimpse.size, m.glimpse.num_scales, m.glimpse.pooling, m.core_size) == (
      "catch_agent", 6, 3, "max", 256)
  assert (c.reinforce.discount, c.reinforce.entropy_weight) == (1.0, 0.003)
  assert abs(c.num_train_steps * c.batch_size * catch.FRAMES - 20e6) < 0.01 * 20e6  # the paper's 20 million frames
  schedule = optim.build_schedule(c.optimizer, c.num_train_steps)
  assert float(schedule(0)) == pytest.approx(c.optimizer.learning_rate) and float(schedule(c.num_train_steps)) == 0.0
