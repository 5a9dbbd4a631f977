"""Baseline models against NumPy references and finite differences; optimizers and schedules against formulas."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from attention_jax.models import registry
from attention_jax.models.glimpse import GlimpseSpec
from attention_jax.errors import UserError
from attention_jax.models import baselines
from attention_jax.tasks import classification
from attention_jax.training import optim, workdir
from experiments.configs import nmt_dates, ram_catch, ram_mnist


def test_fc_equals_numpy_forward_pass():
  model = baselines.FullyConnected(hidden=64, num_layers=2)
  images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1)).astype(np.uint8)
  params = model.init(jax.random.PRNGKey(0), images)["params"]
  assert [params[f"Dense_{i}"]["kernel"].shape for i in range(3)] == [(784, 64), (64, 64), (64, 10)]
  x = images.reshape(5, -1).astype(np.float64) / 255
  for i in range(2):
    x = np.maximum(x @ np.asarray(params[f"Dense_{i}"]["kernel"]) + np.asarray(params[f"Dense_{i}"]["bias"]), 0)
  expected = x @ np.asarray(params["Dense_2"]["kernel"]) + np.asarray(params["Dense_2"]["bias"])
  np.testing.assert_allclose(model.apply({"params": params}, images), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("filters", [8, 16])
def test_conv_equals_numpy_strided_convolution(filters):
  model = baselines.ConvNet(filters=filters)
  images = np.random.default_rng(1).random((2, 28, 28, 1)).astype(np.float32)
  params = model.init(jax.random.PRNGKey(1), images)["params"]
  kernel, bias = np.asarray(params["Conv_0"]["kernel"]), np.asarray(params["Conv_0"]["bias"])
  assert kernel.shape == (10, 10, 1, filters)
  out = np.zeros((2, 4, 4, filters))  # (28 - 10) / 5 + 1 = 4 positions a side
  for i in range(4):
    for j in range(4):
      patch = images[:, 5 * i:5 * i + 10, 5 * j:5 * j + 10, :]
      out[:, i, j] = np.einsum("bhwc,hwcf->bf", patch, kernel) + bias
  x = np.maximum(out, 0).reshape(2, -1)
  x = np.maximum(x @ np.asarray(params["Dense_0"]["kernel"]) + np.asarray(params["Dense_0"]["bias"]), 0)
  assert params["Dense_0"]["kernel"].shape == (16 * filters, 256)
  expected = x @ np.asarray(params["Dense_1"]["kernel"]) + np.asarray(params["Dense_1"]["bias"])
  np.testing.assert_allclose(model.apply({"params": params}, images), expected, rtol=1e-4, atol=1e-4)


def test_classification_gradient_matches_finite_differences():
  model = baselines.FullyConnected(hidden=8, num_layers=1)
  images = np.random.default_rng(2).random((4, 28, 28, 1)).astype(np.float32)
  labels = np.array([0, 3, 7, 9])
  params = model.init(jax.random.PRNGKey(2), images)["params"]

  def loss(p):
    return classification.classification_sums(model.apply({"params": p}, images), labels, jnp.ones(4))["loss"]

  grads = jax.grad(loss)(params)
  rng = np.random.default_rng(3)
  for _ in range(3):  # central differences along random unit directions
    direction = jax.tree.map(lambda x: rng.standard_normal(x.shape).astype(np.float32), params)
    norm = np.sqrt(sum(float(jnp.vdot(d, d)) for d in jax.tree.leaves(direction)))
    direction = jax.tree.map(lambda d: d / norm, direction)
    eps = 1e-2
    plus = loss(jax.tree.map(lambda p, d: p + eps * d, params, direction))
    minus = loss(jax.tree.map(lambda p, d: p - eps * d, params, direction))
    numeric = (float(plus) - float(minus)) / (2 * eps)
    analytic = sum(float(jnp.vdot(g, d)) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-2, atol=1e-4)


def test_classification_sums_respect_the_mask():
  logits = jnp.array([[2.0, 0.0], [0.0, 2.0], [5.0, 0.0]])
  sums = classification.classification_sums(logits, jnp.array([0, 0, 1]), jnp.array([1.0, 1.0, 0.0]))
  assert float(sums["count"]) == 2 and float(sums["accuracy"]) == 1 and float(sums["error"]) == 1
  np.testing.assert_allclose(float(sums["loss"]), np.log1p(np.exp(-2)) + np.log1p(np.exp(2)), rtol=1e-6)


def opt_config(**kw):
  c = dict(name="sgd", learning_rate=0.1, schedule="constant", warmup_steps=0, momentum=0.9, nesterov=False,
           b1=0.9, b2=0.999, eps=1e-8, rho=0.95, clip_norm=0.0)
  c.update(kw)
  return ml_collections.ConfigDict(c)


def test_linear_schedule_anneals_to_zero_with_warmup():
  schedule = optim.build_schedule(opt_config(schedule="linear", learning_rate=0.2, warmup_steps=10), 110)
  np.testing.assert_allclose([schedule(s) for s in (0, 5, 10, 60, 110)], [0.0, 0.1, 0.2, 0.1, 0.0], atol=1e-7)


def test_constant_schedule_with_cooldown_is_constant_until_its_last_steps():
  # warmup 10, constant 0.2 until step 80, then linear to 0 at step 110 (the run's end)
  schedule = optim.build_schedule(opt_config(learning_rate=0.2, warmup_steps=10, cooldown_steps=30), 110)
  np.testing.assert_allclose([schedule(s) for s in (0, 5, 10, 50, 80, 95, 110)],
                             [0.0, 0.1, 0.2, 0.2, 0.2, 0.1, 0.0], atol=1e-7)
  # Before the cooldown starts it is the plain constant schedule: a run without one resumes into one exactly.
  plain = optim.build_schedule(opt_config(learning_rate=0.2, warmup_steps=10), 110)
  assert all(float(schedule(s)) == float(plain(s)) for s in range(81))
  whole_run = optim.build_schedule(opt_config(learning_rate=0.2, cooldown_steps=110), 110)
  np.testing.assert_allclose([whole_run(s) for s in (0, 55, 110)], [0.2, 0.1, 0.0], atol=1e-7)


def test_sgd_momentum_and_clipping_follow_their_formulas():
  tx, _ = optim.build_optimizer(opt_config(learning_rate=0.1, momentum=0.9, clip_norm=1.0), 100)
  params = {"w": jnp.array([1.0, 1.0])}
  state = tx.init(params)
  grads = {"w": jnp.array([3.0, 4.0])}  # norm 5 -> clipped to [0.6, 0.8]
  u1, state = tx.update(grads, state, params)
  u2, state = tx.update(grads, state, params)
  np.testing.assert_allclose(u1["w"], [-0.06, -0.08], rtol=1e-6)
  np.testing.assert_allclose(u2["w"], [-0.06 * 1.9, -0.08 * 1.9], rtol=1e-6)  # v2 = g + 0.9 v1


def test_adadelta_first_step_follows_zeiler():
  rho, eps = 0.95, 1e-6
  tx, _ = optim.build_optimizer(opt_config(name="adadelta", learning_rate=1.0, rho=rho, eps=eps), 100)
  params = {"w": jnp.array([0.5])}
  update, _ = tx.update({"w": jnp.array([2.0])}, tx.init(params), params)
  acc_grad = (1 - rho) * 4.0
  expected = -np.sqrt(0 + eps) / np.sqrt(acc_grad + eps) * 2.0
  np.testing.assert_allclose(update["w"], [expected], rtol=1e-4)


def test_adam_matches_optax():
  tx, _ = optim.build_optimizer(opt_config(name="adam", learning_rate=1e-3), 100)
  ref = optax.adam(1e-3)
  params, grads = {"w": jnp.array([0.5, -1.0])}, {"w": jnp.array([0.3, 0.1])}
  np.testing.assert_allclose(tx.update(grads, tx.init(params))[0]["w"], ref.update(grads, ref.init(params))[0]["w"])


@pytest.mark.parametrize("kw,message", [
    ({"schedule": "step"}, "optimizer.schedule='step' is not known"),
    ({"learning_rate": 0.0}, "optimizer.learning_rate=0.0 must be positive"),
    ({"warmup_steps": 100}, r"optimizer.warmup_steps=100 must lie in \[0, num_train_steps=100\)"),
    ({"clip_norm": -1.0}, "optimizer.clip_norm=-1.0 must be >= 0"),
    ({"schedule": "cosine", "cooldown_steps": 10}, "optimizer.cooldown_steps=10 needs optimizer.schedule='constant'"),
    ({"warmup_steps": 10, "cooldown_steps": 91},
     r"optimizer.cooldown_steps=91 must lie in \[0, num_train_steps - warmup_steps = 90\]"),
])
def test_bad_optimizer_fields(kw, message):
  with pytest.raises(UserError, match=message):
    optim.build_optimizer(opt_config(**kw), 100)


def test_model_registry_builds_any_model_from_exactly_its_arguments():
  cfg = ml_collections.ConfigDict(dict(name="conv", filters=16, kernel_size=10, stride=5, hidden=256))
  assert registry.build(cfg, num_classes=10).filters == 16
  ram = registry.build(ram_mnist.get_config("6").model, num_classes=10)
  assert isinstance(ram.glimpse, GlimpseSpec) and ram.glimpse == GlimpseSpec(size=8, num_scales=1)
  agent = registry.build(ram_catch.get_config().model, greedy=True)
  assert agent.greedy and agent.glimpse.pooling == "max"
  with pytest.raises(UserError, match=r"model.filterz is not an argument of ConvNet \(model.name='conv'\)"):
    registry.build(ml_collections.ConfigDict(dict(name="conv", filterz=16)))
  with pytest.raises(UserError, match="model.glimpse_size moved to model.glimpse.size"):
    registry.build(ml_collections.ConfigDict(dict(name="ram", glimpse_size=8)))
  with pytest.raises(UserError, match="model.glimpse.sise is not a field of GlimpseSpec"):
    registry.build(ml_collections.ConfigDict(dict(name="ram", glimpse=dict(sise=8))))
  with pytest.raises(UserError, match="model.name='ram' is not known; expected one of: rnnencdec, rnnsearch"):
    registry.build(ml_collections.ConfigDict(dict(name="ram")), names=("rnnsearch", "rnnencdec"))


def test_config_json_from_before_the_registry_is_upgraded_to_todays_layout():
  """An old RAM, Catch and RNNencdec config.json (flat glimpse and loss fields, no model name, every translation
  field) reads as today's config, so old workdirs resume and evaluate."""
  old_ram = {"task": "ram", "model": dict(num_glimpses=6, glimpse_size=8, num_scales=1, glimpse_hidden=128,
                                          location_hidden=128, glimpse_output=256, core="rnn", core_size=256,
                                          location_std=0.17, tanh_mean=True, random_glimpses=False, num_samples=1,
                                          eval_samples=4, reinforce_weight=1.0, unroll=6)}
  # Today's config with the defaults of that day (before the searched recipe of issue 34).
  new = ram_mnist.get_config("6").to_dict()
  new["model"].update(location_std=0.17, location_net_hidden=0)
  new["reinforce"]["eval_samples"] = 4
  upgraded = workdir.upgrade(old_ram)
  # Fields added since then are absent from the old file and take their ADDED_FIELDS default when the run loads:
  # the value the old run had.
  added = {k.split(".")[-1] for k in workdir.ADDED_FIELDS if k.startswith("model.")}
  assert upgraded["model"] == {k: v for k, v in new["model"].items() if k != "glimpse" and k not in added} | {
      "glimpse": {k: v for k, v in new["model"]["glimpse"].items() if k not in added}}
  assert all(new["model"][k] == workdir.ADDED_FIELDS[f"model.{k}"] for k in added if k in new["model"])
  assert upgraded["reinforce"] == new["reinforce"]
  old_catch = {"task": "catch", "model": dict(glimpse_size=6, num_scales=3, glimpse_hidden=128, location_hidden=128,
                                              glimpse_output=256, core_size=256, location_std=0.2, discount=1.0,
                                              unroll=1, glimpse_pooling="max", baseline_trains_core=True,
                                              entropy_weight=0.003)}
  catch_new = ram_catch.get_config().to_dict()
  assert workdir.upgrade(old_catch)["model"] == catch_new["model"]
  assert workdir.upgrade(old_catch)["reinforce"] == catch_new["reinforce"]
  old_encdec = {"task": "translation", "model": dict(name="rnnencdec", embed=64, hidden=128, maxout=64,
                                                     alignment=64, attention="additive", reverse_source=False,
                                                     repeat_source=False, unroll=1)}
  assert workdir.upgrade(old_encdec)["model"] == nmt_dates.get_config("rnnencdec").to_dict()["model"]
  assert workdir.upgrade(upgraded) == upgraded  # today's layout is left alone


def test_decoupled_weight_decay_is_adamw_and_l2_is_not():
  params = {"w": jnp.array([1.0, -2.0, 0.5])}
  grads = [{"w": jnp.array([0.3, -0.1, 2.0])}, {"w": jnp.array([-0.2, 0.4, 1.0])}]
  lr, wd = 0.01, 0.1

  def run(tx):
    state, p = tx.init(params), params
    for g in grads:
      updates, state = tx.update(g, state, p)
      p = optax.apply_updates(p, updates)
    return np.asarray(p["w"])

  adam = dict(name="adam", learning_rate=lr, weight_decay=wd)
  decoupled = run(optim.build_optimizer(opt_config(**adam, weight_decay_type="decoupled"), 10)[0])
  np.testing.assert_allclose(decoupled, run(optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=wd)),
                             rtol=1e-6)
  l2 = run(optim.build_optimizer(opt_config(**adam), 10)[0])  # the default: wd * w added to the gradient
  expected_l2 = run(optax.chain(optax.add_decayed_weights(wd), optax.adam(lr, eps=1e-8)))
  np.testing.assert_allclose(l2, expected_l2, rtol=1e-6)
  assert np.abs(l2 - decoupled).max() > 1e-4
  # SGDW: momentum carries the gradient only; the decay lr * wd * w is applied at each step.
  sgdw = run(optim.build_optimizer(opt_config(learning_rate=lr, momentum=0.9, weight_decay=wd,
                                              weight_decay_type="decoupled"), 10)[0])
  w, v = np.asarray(params["w"]), 0.0
  for g in grads:
    v = np.asarray(g["w"]) + 0.9 * v
    w = w - lr * (v + wd * w)
  np.testing.assert_allclose(sgdw, w, rtol=1e-6)
  with pytest.raises(UserError, match="optimizer.weight_decay_type='adamw' is not known"):
    optim.build_optimizer(opt_config(weight_decay_type="adamw"), 10)
