"""RAM on (translated, cluttered) MNIST: the hybrid loss of Mnih et al. (2014), Section 3.2.

Per image, averaged over M = `reinforce.num_samples` Monte-Carlo samples of the glimpse path:
  loss = cross-entropy(action network)                          trains glimpse, core and action networks
       + reinforce.weight * -sum_t log pi(l_t) (R - b_t)         trains the location network (R - b_t constant)
       + sum_t (R - b_t)^2                                       trains the baseline
with reward R = 1 if the final classification is right, else 0. Evaluation draws `reinforce.eval_samples` (m)
glimpse paths per image and reports three rules: `error_1_path`, the error of one sampled path (the paper's rule,
averaged over the m draws so that it is a low-noise estimate, not an ensemble; also `error`), `error_mean_path`
(the deterministic path of the policy's means) and `error_{m}_paths` (the class probabilities of the m paths
averaged: an m-fold test-time ensemble).
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from attention_jax import io_utils, plotting
from attention_jax.data import images
from attention_jax.models import glimpse, registry
from attention_jax.errors import UserError, check_choice
from attention_jax.models.ram import RecurrentAttentionModel
from attention_jax.rl import reinforce
from attention_jax.tasks.base import Task
from attention_jax.training import state as state_lib

# The sampled paths per image of the `path_rules` evaluator (the one-path error is averaged over them, and their
# class probabilities averaged make the ensemble's).
PATH_SAMPLES = 16


def build_model(model_config, image_size: int) -> RecurrentAttentionModel:
  """The RAM `config.model` describes (`models.registry`), checked against the image size."""
  model = registry.build(model_config, names=("ram",), num_classes=10)
  check_choice("model.core", model.core, ("rnn", "lstm"))
  check_choice("model.baseline_input", model.baseline_input, ("state", "constant"))
  if model.location_net_hidden < 0:
    raise UserError(f"config field model.location_net_hidden={model.location_net_hidden} must be >= 0 "
                    f"(0: the paper's linear location network)")
  if model.num_glimpses < 1:
    raise UserError(f"config field model.num_glimpses={model.num_glimpses} must be at least 1")
  glimpse.check_spec(model.glimpse, image_size)
  return model


def reinforce_settings(config) -> tuple:
  """(num_samples M, eval_samples, REINFORCE weight) from `config.reinforce`."""
  r = config.reinforce
  if r.num_samples < 1 or r.eval_samples < 1:
    raise UserError(f"config fields reinforce.num_samples={r.num_samples} and reinforce.eval_samples="
                    f"{r.eval_samples} must be >= 1")
  return int(r.num_samples), int(r.eval_samples), float(r.weight)


def repeat_samples(x, samples: int):
  """[b, ...] -> [b * samples, ...], each example's copies adjacent."""
  return jnp.repeat(x, samples, axis=0)


def sample_keys(keys, samples: int):
  """One key per (example, sample): [b, 2] -> [b * samples, 2]."""
  return jax.vmap(lambda k: jax.random.split(k, samples))(keys).reshape(-1, *keys.shape[1:])


def hybrid_loss_terms(out, labels, reinforce_weight: float):
  """Per-sample terms of the hybrid loss; every array [b * M]."""
  ce = optax.softmax_cross_entropy_with_integer_labels(out["logits"], labels)
  reward = (jnp.argmax(out["logits"], -1) == labels).astype(jnp.float32)
  returns = reinforce.final_reward_returns(reward, out["baseline"].shape[1])  # [b*M, T]
  rl = reinforce.reinforce_loss(out["log_prob"], returns, out["baseline"])
  bl = reinforce.baseline_loss(returns, out["baseline"])
  total = ce + reinforce_weight * rl + bl
  return {"loss": total, "cross_entropy": ce, "reinforce": rl, "baseline_mse": bl, "reward": reward,
          "baseline": jnp.mean(out["baseline"], axis=1)}


def _one_per_class(batches, count: int):
  """The first test example of each of the first `count` classes met (test sets may be sorted by class), as one
  batch of the split's arrays (label, index, clutter cuts, mask)."""
  picked = {}
  for batch in batches:
    for i, (label, real) in enumerate(zip(batch["label"], batch["mask"])):
      if real and int(label) not in picked:
        picked[int(label)] = {k: v[i] for k, v in batch.items()}
    if len(picked) >= count:
      break
  labels = sorted(picked)[:count]
  return {k: np.stack([picked[c][k] for c in labels]) for k in picked[labels[0]]}


def reward_curves(params, split: str, workdir: str) -> dict:
  """Evaluator: training reward, accuracy and the learned baseline against the step (metrics.jsonl)."""
  del params, split
  rows = io_utils.read_json_lines(os.path.join(workdir, "metrics.jsonl"))
  plotting.metric_curves(rows, ("reward", "accuracy", "baseline"), "train",
                         os.path.join(workdir, "plots", "reward_accuracy_baseline.png"),
                         "train reward, accuracy and baseline")
  return {}


def _path_and_strip_evaluators(config, data, model, forward, rule_sums) -> dict:
  """The evaluators that read a split's batches: `path_rules` (the error under each rule with 16 paths) and
  `glimpse_strips` (one path per class, drawn); `forward` and `rule_sums` are the task's own (`build`)."""
  eval_batches = data.eval_batches

  def path_rules(params, split, workdir):
    """Evaluator: the error on `split` under each rule with `PATH_SAMPLES` (16) paths (the batch metrics use
    `eval_samples`; with eval_samples = 16 they are the same numbers)."""
    del workdir
    sums_fn = jax.jit(lambda p, batch, keys: rule_sums(p, batch, keys, PATH_SAMPLES))
    resident = data.resident(split)
    totals = None
    for batch in eval_batches(split):
      batch = {k: jnp.asarray(v) for k, v in batch.items()} | resident
      sums = sums_fn(params, batch, state_lib.eval_example_keys(config.seed, batch["index"]))
      totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    count = float(totals["count"])
    return {k: float(v) / count for k, v in totals.items() if k.startswith("error_")}

  def glimpse_strips(params, split, workdir, num_images: int = 6):
    """Glimpse strips for the first images of `split`, one per class (one fixed glimpse path each)."""
    picked = _one_per_class(eval_batches(split), num_images) | data.resident(split)
    labels = picked["label"]
    # The test canvases the evaluation scores (same keys); the glimpse path is one sample of the policy.
    out, imgs = forward(params, picked, state_lib.eval_example_keys(config.seed, picked["index"]), 1)
    imgs = np.asarray(imgs)
    spec = model.glimpse
    tables = glimpse.glimpse_tables(jnp.asarray(imgs), spec.num_scales, spec.pooling)
    seen = glimpse.batched_glimpse_sensor(tables, out["location"].reshape(-1, 2), imgs.shape[1:3], spec.size,
                                          spec.pooling)  # [b * T, k, g, g, c]: each image's T glimpses
    seen = seen.reshape(*out["location"].shape[:2], *seen.shape[1:])
    plotting.glimpse_strips(imgs, out["location"], seen, spec.size, spec.num_scales,
                            os.path.join(workdir, "plots", "glimpse_strips.png"), labels, jnp.argmax(out["logits"], -1))
    return {}

  return {"path_rules": path_rules, "glimpse_strips": glimpse_strips}


def build(config) -> Task:
  data = images.task_data(config)
  canvas, example, eval_batches = data.canvas, data.example, data.eval_batches
  model = build_model(config.model, example.shape[1])
  samples, eval_samples, reinforce_weight = reinforce_settings(config)

  def forward(params, batch, keys, m, mean_path=False):
    """M glimpse paths per example over its canvas (drawn once from the example's key); `mean_path`: the one path
    of the policy's means (no location noise)."""
    imgs = images.render(canvas, batch, keys)
    noise = model.draw_noise(sample_keys(keys, m))
    if mean_path:
      noise = jnp.zeros_like(noise)
    return model.apply({"params": params}, imgs, noise), imgs  # the m paths share each image's glimpse tables

  def init(key):
    return model.init(key, example, model.draw_noise(jax.random.split(key, example.shape[0])))["params"]

  def loss(params, batch, keys):
    out, _ = forward(params, batch, keys, samples)
    terms = hybrid_loss_terms(out, repeat_samples(batch["label"], samples), reinforce_weight)
    sums = {k: jnp.sum(v) / samples for k, v in terms.items()}  # mean over samples, sum over images
    sums["accuracy"] = sums["reward"]
    sums["count"] = jnp.asarray(batch["label"].shape[0], jnp.float32)
    return sums["loss"], sums

  def path_probs(params, batch, keys, m, mean_path=False):
    """<float32>[b, 10]: the class probabilities of m glimpse paths averaged."""
    out, _ = forward(params, batch, keys, m, mean_path)
    return jax.nn.softmax(out["logits"]).reshape(-1, m, out["logits"].shape[-1]).mean(1)

  def evaluate(params, batch, keys):
    """Metric sums under each evaluation rule, from `eval_samples` sampled paths per image (and the mean path):
    `error_1_path` (the 0/1 error of one sampled path, averaged over the m draws: a low-noise estimate of the
    expected single-path error, the paper's rule), `error_{m}_paths` (the m paths' class probabilities averaged:
    a test-time ensemble) and `error_mean_path` (every location at the policy's mean; not for random glimpses,
    whose mean is the centre). `error` and `accuracy` are the one-path rule's; `loss` is one path's NLL."""
    return rule_sums(params, batch, keys, eval_samples)

  def rule_sums(params, batch, keys, m: int):
    out, _ = forward(params, batch, keys, m)
    probs = jax.nn.softmax(out["logits"]).reshape(-1, m, out["logits"].shape[-1])  # [b, m, 10]
    labels, w = batch["label"], batch["mask"]
    one_path_wrong = jnp.mean(jnp.argmax(probs, -1) != labels[:, None], axis=1)  # [b], in [0, 1]
    nll = -jnp.mean(jnp.log(jnp.take_along_axis(probs, labels[:, None, None], 2)[..., 0] + 1e-12), axis=1)
    sums = {"error_1_path": one_path_wrong, f"error_{m}_paths": jnp.argmax(probs.mean(1), -1) != labels}
    if not model.random_glimpses:
      sums["error_mean_path"] = jnp.argmax(path_probs(params, batch, keys, 1, mean_path=True), -1) != labels
    sums = {k: jnp.sum(v * w) for k, v in sums.items()}
    sums |= {"error": sums["error_1_path"], "accuracy": jnp.sum(w) - sums["error_1_path"], "loss": jnp.sum(nll * w),
             "count": jnp.sum(w)}
    return sums

  return Task(name="ram", init=init, loss=loss, evaluate=evaluate, model=model, train_data=data.train,
              eval_batches=eval_batches, resident=data.resident,
              evaluators=_path_and_strip_evaluators(config, data, model, forward, rule_sums)
              | {"reward_curves": reward_curves})
