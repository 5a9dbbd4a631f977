"""Supervised image classification (the FC and conv baselines): softmax cross-entropy, accuracy."""

import functools

import jax.numpy as jnp
import optax

from attention_jax import models
from attention_jax.data import images, pipeline
from attention_jax.tasks.base import Task


def classification_sums(logits, labels, weights):
  """Sums of cross-entropy and correct predictions over examples, weighted (0 for padding)."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # [batch]
  correct = (jnp.argmax(logits, -1) == labels).astype(jnp.float32)
  return {"loss": jnp.sum(ce * weights), "accuracy": jnp.sum(correct * weights),
          "error": jnp.sum((1.0 - correct) * weights), "count": jnp.sum(weights)}


def build(config) -> Task:
  train = images.load(config.data, "train")
  model = models.build_classifier(config.model, num_classes=10)
  example = train["image"][:1]

  def init(key):
    return model.init(key, example)["params"]

  def loss(params, batch, keys):
    del keys  # Deterministic model.
    logits = model.apply({"params": params}, batch["image"])
    sums = classification_sums(logits, batch["label"], jnp.ones(logits.shape[0]))
    return sums["loss"], sums

  def evaluate(params, batch, keys):
    del keys
    logits = model.apply({"params": params}, batch["image"])
    return classification_sums(logits, batch["label"], batch["mask"])

  @functools.cache
  def split_arrays(split):
    return train if split == "train" else images.load(config.data, split)

  return Task(name="classification", init=init, loss=loss, evaluate=evaluate, model=model,
              train_data=pipeline.train_dataset(train, config.batch_size, config.seed),
              eval_batches=lambda split: pipeline.eval_batches(split_arrays(split), config.eval_batch_size))
