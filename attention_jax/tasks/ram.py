"""RAM on (translated, cluttered) MNIST: the hybrid loss of Mnih et al. (2014), Section 3.2.

Per image, averaged over M = `reinforce.num_samples` Monte-Carlo samples of the glimpse path:
  loss = cross-entropy(action network)                          trains glimpse, core and action networks
       + reinforce.weight * -sum_t log pi(l_t) (R - b_t)         trains the location network (R - b_t constant)
       + sum_t (R - b_t)^2                                       trains the baseline
with reward R = 1 if the final classification is right, else 0. Evaluation averages the class probabilities of
`reinforce.eval_samples` glimpse paths per image; `experiments.evaluate` also reports the test error under the
other rules of `PATH_RULES` (the mean path, one sampled path, 16 paths averaged), as `error_mean_path`,
`error_1_path` and `error_16_paths`.
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

# The evaluation rules `path_rules` reports: 0 is the mean path (every location at the policy's mean), N > 0 the
# class probabilities of N sampled paths averaged.
PATH_RULES = (0, 1, 16)


def build_model(model_config, image_size: int) -> RecurrentAttentionModel:
  """The RAM `config.model` describes (`models.registry`), checked against the image size."""
  model = registry.build(model_config, names=("ram",), num_classes=10)
  check_choice("model.core", model.core, ("rnn", "lstm"))
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
    return model.apply({"params": params}, repeat_samples(imgs, m), noise), imgs

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
    probs = path_probs(params, batch, keys, eval_samples)
    correct = (jnp.argmax(probs, -1) == batch["label"]).astype(jnp.float32)
    nll = -jnp.log(jnp.take_along_axis(probs, batch["label"][:, None], 1)[:, 0] + 1e-12)
    w = batch["mask"]
    return {"accuracy": jnp.sum(correct * w), "error": jnp.sum((1 - correct) * w), "loss": jnp.sum(nll * w),
            "count": jnp.sum(w)}

  def path_rules(params, split, workdir):
    """Evaluator: the error on `split` under each rule of `PATH_RULES` (same canvases and path keys as the batch
    metrics, so N = eval_samples gives their `error`): `error_mean_path` (not for random glimpses, whose mean is the
    centre), `error_1_path`, `error_16_paths`."""
    del workdir
    rules = [m for m in PATH_RULES if m > 0 or not model.random_glimpses]
    wrong_fn = jax.jit(lambda p, batch, keys: jnp.stack([
        jnp.sum((jnp.argmax(path_probs(p, batch, keys, max(m, 1), mean_path=m == 0), -1) != batch["label"])
                * batch["mask"]) for m in rules]))
    resident = data.resident(split)
    wrong, count = np.zeros(len(rules)), 0.0
    for batch in eval_batches(split):
      batch = {k: jnp.asarray(v) for k, v in batch.items()} | resident
      wrong += np.asarray(wrong_fn(params, batch, state_lib.eval_example_keys(config.seed, batch["index"])))
      count += float(np.sum(batch["mask"]))
    names = {0: "error_mean_path", 1: "error_1_path"}
    return {names.get(m, f"error_{m}_paths"): float(w / count) for m, w in zip(rules, wrong)}

  def glimpse_strips(params, split, workdir, num_images: int = 6):
    """Glimpse strips for the first images of `split`, one per class (one fixed glimpse path each)."""
    picked = _one_per_class(eval_batches(split), num_images) | data.resident(split)
    labels = picked["label"]
    # The test canvases the evaluation scores (same keys); the glimpse path is one sample of the policy.
    out, imgs = forward(params, picked, state_lib.eval_example_keys(config.seed, picked["index"]), 1)
    imgs = np.asarray(imgs)
    spec = model.glimpse
    padded = glimpse.pad_images(jnp.asarray(imgs), spec.size, spec.num_scales)
    seen = jax.vmap(lambda p, locs: jax.vmap(lambda l: glimpse.extract_glimpse(
        p, l, imgs.shape[1:3], spec.size, spec.num_scales, spec.pooling))(locs))(padded, out["location"])
    plotting.glimpse_strips(imgs, out["location"], seen, spec.size, spec.num_scales,
                            os.path.join(workdir, "plots", "glimpse_strips.png"), labels, jnp.argmax(out["logits"], -1))
    return {}

  return Task(name="ram", init=init, loss=loss, evaluate=evaluate, model=model, train_data=data.train,
              eval_batches=eval_batches, resident=data.resident,
              evaluators={"path_rules": path_rules, "glimpse_strips": glimpse_strips,
                          "reward_curves": reward_curves})
