"""Sentence classification with an attention-pooled BiLSTM and its pooling baselines (`models.text_classifier`),
and Kim (2014)'s CNN-rand as the published reference (`models.text_cnn`).

Loss: softmax cross-entropy summed over the batch; dropout masks from each example's key. Evaluation reports
accuracy and error on the split; `experiments.evaluate` adds, for the attention model, the share of each test
sentence's attention on its 3 most attended words, averaged per predicted class, the words most often attended
most, and pictures of test sentences with each word shaded by its weight (correct and wrong predictions).
"""

import collections
import os

import jax
import jax.numpy as jnp
import numpy as np

from attention_jax.data import pipeline, text_classification as text_data
from attention_jax.errors import UserError
from attention_jax.models import registry
from attention_jax.tasks import text_pictures
from attention_jax.tasks.base import Task
from attention_jax.tasks.classification import classification_sums


def predict_with_attention(model, params, arrays, batch_size: int = 500):
  """(predicted class [n], attention weights [n, max_len] or None) over a split, in batches of fixed size."""
  apply = jax.jit(lambda p, t, l: model.apply({"params": p}, t, l, mutable=["intermediates"]))
  preds, weights = [], []
  for batch in pipeline.eval_batches(arrays, batch_size):
    logits, state = apply(params, batch["tokens"], batch["lengths"])
    real = batch["mask"] > 0
    preds.append(np.asarray(jnp.argmax(logits, -1))[real])
    sown = state.get("intermediates", {}).get("attention")
    if sown is not None:
      weights.append(np.asarray(sown[0])[real])
  return np.concatenate(preds), (np.concatenate(weights) if weights else None)


def attention_summary(weights, lengths, tokens_text, predicted, classes, top: int = 3) -> dict:
  """Per predicted class: the mean share of attention on each sentence's `top` most attended words, and the
  words most often attended most."""
  shares, firsts = collections.defaultdict(list), collections.defaultdict(collections.Counter)
  for w, n, words, c in zip(weights, lengths, tokens_text, predicted):
    w = w[:n]
    shares[classes[c]].append(float(np.sort(w)[::-1][:top].sum()))
    firsts[classes[c]][words[int(np.argmax(w))]] += 1
  return {"attention_top3_share": {c: round(float(np.mean(v)), 4) for c, v in sorted(shares.items())},
          "most_attended_words": {c: [w for w, _ in firsts[c].most_common(5)] for c in sorted(firsts)}}


def train_dataset(config, train: dict):
  """Training batches from length buckets (`config.data.buckets`, words; the step compiles once per bucket), or
  all padded to the longest sentence when there are none."""
  max_len = train["tokens"].shape[1]
  buckets = sorted({int(b) for b in config.data.get("buckets", ()) if int(b) < max_len} | {max_len})
  if buckets[0] < 1:
    raise UserError(f"config field data.buckets={tuple(config.data.buckets)} must hold lengths >= 1")
  bucket = np.searchsorted(np.asarray(buckets), train["lengths"], side="left").astype(np.int32)
  return pipeline.bucketed_train_dataset(train, bucket, buckets, config.batch_size, config.seed, ("tokens",))


def build(config) -> Task:
  arrays, vocab, classes, sentences = text_data.load(config.data)
  model = registry.build(config.model, names=("text_classifier", "text_cnn"), vocab_size=len(vocab),
                         num_classes=len(classes))
  example = {k: v[:2] for k, v in arrays["train"].items()}

  def init(key):
    return model.init(key, example["tokens"], example["lengths"])["params"]

  def loss(params, batch, keys):
    logits = model.apply({"params": params}, batch["tokens"], batch["lengths"], keys)
    sums = classification_sums(logits, batch["label"], jnp.ones(logits.shape[0]))
    return sums["loss"], sums

  def evaluate(params, batch, keys):
    del keys  # no dropout at evaluation
    logits = model.apply({"params": params}, batch["tokens"], batch["lengths"])
    return classification_sums(logits, batch["label"], batch["mask"])

  def eval_batches(split):
    if split not in arrays:
      raise UserError(f"split {split!r} is not in this data (config fields data.valid_path / data.test_path / "
                      f"data.num_folds); it has {sorted(arrays)}")
    return pipeline.eval_batches(arrays[split], config.eval_batch_size)

  def attention_report(params, split: str, workdir: str) -> dict:
    """Attention share of the top-3 words and the most attended words per predicted class; word strips."""
    predicted, weights = predict_with_attention(model, params, arrays[split])
    words = [s.split() for s in sentences[split]]
    lengths = arrays[split]["lengths"]
    report = attention_summary(weights, lengths, words, predicted, classes)
    plots = os.path.join(workdir, "plots")
    text_pictures.sentence_strips(words, weights, lengths, arrays[split]["label"], predicted, classes,
                                  os.path.join(plots, "word_attention.png"), config.get("num_strips", 6))
    text_pictures.top_share_bars(report["attention_top3_share"], os.path.join(plots, "attention_top3_share.png"))
    return report

  offered = {"word_attention": attention_report} if getattr(model, "pooling", None) == "attention" else {}
  return Task(name="text_classification", init=init, loss=loss, evaluate=evaluate,
              train_data=train_dataset(config, arrays["train"]),
              eval_batches=eval_batches, model=model, evaluators=offered,
              extras={"vocab": vocab, "classes": classes, "arrays": arrays, "sentences": sentences})
