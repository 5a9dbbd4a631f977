"""Supervised image classification (the FC and conv baselines): softmax cross-entropy, accuracy."""

import jax.numpy as jnp
import optax

from attention_jax.models import registry
from attention_jax.data import images
from attention_jax.tasks.base import Task


def classification_sums(logits, labels, weights):
  """Sums of cross-entropy and correct predictions over examples, weighted (0 for padding)."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # [batch]
  correct = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
  return {"loss": jnp.sum(ce * weights), "accuracy": jnp.sum(correct * weights),
          "error": jnp.sum((1.0 - correct) * weights), "count": jnp.sum(weights)}


def build(config) -> Task:
  data = images.task_data(config)
  canvas, example = data.canvas, data.example
  model = registry.build(config.model, names=("fc", "conv"), num_classes=10)

  def init(key):
    return model.init(key, example)["params"]

  def loss(params, batch, keys):  # keys draw the canvases; the model is deterministic
    logits = model.apply({"params": params}, images.render(canvas, batch, keys))
    sums = classification_sums(logits, batch["label"], jnp.ones(logits.shape[0]))
    return sums["loss"], sums

  def evaluate(params, batch, keys):
    logits = model.apply({"params": params}, images.render(canvas, batch, keys))
    return classification_sums(logits, batch["label"], batch["mask"])

  return Task(name="classification", init=init, loss=loss, evaluate=evaluate, model=model,
              train_data=data.train, eval_batches=data.eval_batches, resident=data.resident)
