"""Translation with RNNsearch / RNNencdec: teacher-forced training, decoding, alignment scores.

Training minimises the summed token cross-entropy of the target (eos included, padding masked). Periodic
evaluation (inside the compiled eval step, on every device) reports per-token loss and accuracy, greedy
exact match per sentence and, on dates, the alignment accuracy: the share of target characters whose
highest-weight source position lies in the gold span. `experiments.evaluate` adds `nmt.reports`: BLEU
(sacrebleu) of beam search or greedy output, BLEU by source length, the translations, and alignment heat maps.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from attention_jax.data import pipeline, translation as translation_data
from attention_jax.errors import UserError, check_choice, check_positive
from attention_jax.models import registry
from attention_jax.text.ids import BOS, EOS, PAD
from attention_jax.nmt import decoding, reports
from attention_jax.text import vocab as vocab_lib
from attention_jax.tasks.base import Task

TIME_KEYS = ("src", "tgt", "gold_start", "gold_end")


def build_vocabularies(data_config, train: dict):
  """(source vocab, target vocab): characters, the most frequent words, or SentencePiece models; all built from the
  training split only (SentencePiece models cached beside the prepared data)."""
  kind = check_choice("data.tokenizer", data_config.tokenizer, ("char", "word", "sentencepiece"))
  if kind == "char":
    return vocab_lib.CharVocab.build(train["source"]), vocab_lib.CharVocab.build(train["target"])
  sides = (("source", "src"), ("target", "tgt"))  # the config fields are data.src_* and data.tgt_*
  if kind == "word":
    return tuple(vocab_lib.WordVocab.build(train[side], int(data_config[f"{short}_vocab_size"]),
                                           f"data.{short}_vocab_size") for side, short in sides)
  builder = translation_data.builder_for(data_config)
  folder = os.path.join(builder.data_dir, "sentencepiece")
  out = []
  for side, short in sides:
    size = data_config[f"{short}_vocab_size"]
    check_positive(f"data.{short}_vocab_size", size)
    coverage = data_config.get(f"{short}_character_coverage", 1.0)
    reverse = "_reversed" if data_config.get("reverse_direction", False) else ""
    path = os.path.join(folder, f"{side}{reverse}_{size}_{coverage}_identity.model")
    out.append(vocab_lib.train_sentencepiece(
        train[side], path, size, coverage,
        fields=f"data.{short}_vocab_size, data.{short}_character_coverage"))
  return tuple(out)


def within_words(raw: dict, max_words: int) -> list:
  """Indices of the pairs whose sides both have at most `max_words` whitespace-separated words (all if 0): the
  paper's RNNsearch-30/-50 train on pairs up to 30/50 words and are tested on every sentence."""
  if max_words < 0:
    raise UserError(f"config field data.max_train_len={max_words} must be >= 0 (0: no limit)")
  return [i for i, (s, t) in enumerate(zip(raw["source"], raw["target"]))
          if not max_words or (len(s.split()) <= max_words and len(t.split()) <= max_words)]


def encode_split(raw: dict, src_vocab, tgt_vocab, max_len: int, split: str, max_words: int = 0) -> dict:
  """Token arrays of one split, pairs longer than `max_len` (either side, target eos included) dropped, and with
  `max_words` (training only) pairs of more words than that on either side left out before encoding."""
  candidates = within_words(raw, max_words)
  if max_words:
    logging.info("%s split: %d of %d pairs have at most data.max_train_len=%d words a side", split,
                 len(candidates), len(raw["source"]), max_words)
  encoded = {i: (src_vocab.encode(raw["source"][i]), tgt_vocab.encode(raw["target"][i])) for i in candidates}
  src = {i: e[0] for i, e in encoded.items()}
  tgt = {i: e[1] for i, e in encoded.items()}
  keep = [i for i in candidates if 0 < len(src[i]) <= max_len and len(tgt[i]) + 1 <= max_len]
  dropped = len(candidates) - len(keep)
  if dropped:
    logging.warning("%s split: dropped %d of %d pairs longer than data.max_len=%d tokens", split, dropped,
                    len(candidates), max_len)
  if not keep:
    raise UserError(f"every pair of the {split} split is longer than config field data.max_len={max_len}")
  arrays = {"src": np.zeros((len(keep), max_len), np.int32), "tgt": np.zeros((len(keep), max_len), np.int32)}
  for row, i in enumerate(keep):
    arrays["src"][row, :len(src[i])] = src[i]
    arrays["tgt"][row, :len(tgt[i]) + 1] = tgt[i] + [EOS]
  arrays["src_len"] = (arrays["src"] != PAD).sum(1).astype(np.int32)
  arrays["tgt_len"] = (arrays["tgt"] != PAD).sum(1).astype(np.int32)
  if "gold_start" in raw:
    for key in ("gold_start", "gold_end"):
      gold = np.full((len(keep), max_len), -1, np.int32)
      gold[:, :raw[key].shape[1]] = raw[key][keep]
      arrays[key] = gold
  arrays["pair"] = np.asarray(keep, np.int32)  # position in the split's raw text
  return arrays


def model_inputs(arrays: dict) -> dict:
  """The arrays a batch carries to the device: all but `pair` (a host-side index into the raw text)."""
  return {k: v for k, v in arrays.items() if k != "pair"}


def bucket_lengths(data_config) -> list:
  lengths = sorted(set(int(b) for b in data_config.get("buckets", ())) | {int(data_config.max_len)})
  if lengths[0] < 1 or lengths[-1] > data_config.max_len:
    raise UserError(f"config field data.buckets={tuple(data_config.buckets)} must hold lengths in "
                    f"1..data.max_len={data_config.max_len}")
  return lengths


def bucket_of(arrays: dict, lengths) -> np.ndarray:
  longest = np.maximum(arrays["src_len"], arrays["tgt_len"])
  return np.searchsorted(np.asarray(lengths), longest, side="left").astype(np.int32)


def token_sums(logits, tgt, weights):
  """Summed cross-entropy and correct tokens over the target positions where weights > 0."""
  ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), tgt)  # [b, t]
  correct = (jnp.argmax(logits, -1) == tgt).astype(jnp.float32)
  return {"loss": jnp.sum(ce * weights), "token_accuracy": jnp.sum(correct * weights), "count": jnp.sum(weights)}


def alignment_hits(weights, gold_start, gold_end):
  """Per target position: 1 where the argmax source position lies in [gold_start, gold_end); and where gold exists.

  weights [b, t, s], gold_* [b, t] (-1: no gold) -> (hits [b, t], has_gold [b, t])."""
  best = jnp.argmax(weights, axis=-1)
  has_gold = (gold_start >= 0).astype(jnp.float32)
  return ((best >= gold_start) & (best < gold_end)).astype(jnp.float32) * has_gold, has_gold


def shift_right(tgt):
  """Decoder inputs: bos, y_1, ..., y_{T-1}."""
  return jnp.concatenate([jnp.full((tgt.shape[0], 1), BOS, tgt.dtype), tgt[:, :-1]], axis=1)


def build_translation_model(model_config, src_vocab: int, tgt_vocab: int):
  """RNNsearch or RNNencdec as `config.model` describes it (`models.registry`), with the vocabularies' sizes."""
  model = registry.build(model_config, names=("rnnsearch", "rnnencdec"), src_vocab=src_vocab, tgt_vocab=tgt_vocab)
  for field in ("embed", "hidden", "maxout") + (("alignment",) if model.aligns else ()):
    check_positive(f"model.{field}", getattr(model, field))
  return model


class TranslationData:
  """The text of every split (`raw`), the vocabularies (built from the training split) and the token arrays of each
  split (`arrays`, cached), with the training dataset (length buckets) and the evaluation batches."""

  def __init__(self, config):
    self.config, self.data_config = config, config.data
    check_positive("data.max_len", self.data_config.max_len)
    self.max_len = int(self.data_config.max_len)
    self.raw = functools.cache(self.raw)  # each split is read and encoded once
    self.arrays = functools.cache(self.arrays)
    self.src_vocab, self.tgt_vocab = build_vocabularies(self.data_config, self.raw("train"))

  def raw(self, split: str) -> dict:
    return translation_data.load_parallel(self.data_config, split)

  def arrays(self, split: str) -> dict:
    max_words = int(self.data_config.get("max_train_len", 0)) if split == "train" else 0
    return encode_split(self.raw(split), self.src_vocab, self.tgt_vocab, self.max_len, split, max_words)

  def train_dataset(self):
    train, lengths = self.arrays("train"), bucket_lengths(self.data_config)
    logging.info("translation data: %d training pairs, vocabularies %d source / %d target tokens, buckets %s",
                 len(train["src"]), len(self.src_vocab), len(self.tgt_vocab), lengths)
    return pipeline.bucketed_train_dataset(model_inputs(train), bucket_of(train, lengths), lengths,
                                           self.config.batch_size, self.config.seed, TIME_KEYS)

  def eval_batches(self, split: str):
    return pipeline.eval_batches(model_inputs(self.arrays(split)), self.config.eval_batch_size)


class TranslationModel:
  """The task's pure functions around the model: init, the summed token loss, evaluation sums, and decoding
  (greedy or beam, compiled once)."""

  def __init__(self, model, decode_config, max_len: int, example: dict):
    self.model, self.max_len, self._example = model, max_len, example
    self.decode_config = decode_config
    check_choice("decode.method", decode_config.method, ("greedy", "beam"))
    self.translate = jax.jit(self._translate)

  def apply(self, params, *args, **kwargs):
    return self.model.apply({"params": params}, *args, **kwargs)

  def init(self, key):
    e = self._example
    return self.model.init(key, e["src"], e["src_len"], shift_right(e["tgt"]))["params"]

  def forward(self, params, batch):
    return self.apply(params, batch["src"], batch["src_len"], shift_right(batch["tgt"]))

  def loss(self, params, batch, keys):
    del keys  # no dropout: the paper trains without it
    logits, _ = self.forward(params, batch)
    sums = token_sums(logits, batch["tgt"], (batch["tgt"] != PAD).astype(jnp.float32))
    return sums["loss"], sums

  def encode(self, params, src, src_len):
    memory = self.apply(params, src, src_len, method=self.model.encode)
    return memory, self.apply(params, memory, method=self.model.initial_state)

  def decoder(self, params):
    return functools.partial(self.model.apply, {"params": params}, method=self.model.decode_step)

  def evaluate(self, params, batch, keys):
    """Token loss and accuracy, greedy exact match and (for models that align, with gold spans) alignment."""
    del keys
    logits, weights = self.forward(params, batch)
    sentence = batch["mask"]
    sums = token_sums(logits, batch["tgt"], (batch["tgt"] != PAD) * sentence[:, None])
    memory, state = self.encode(params, batch["src"], batch["src_len"])
    greedy = decoding.greedy_decode(self.decoder(params), memory, state, batch["tgt"].shape[1])
    exact = jnp.all(greedy["tokens"] == batch["tgt"], axis=1).astype(jnp.float32)
    sums |= {"exact_match": jnp.sum(exact * sentence), "exact_match_count": jnp.sum(sentence)}
    if "gold_start" in batch and self.model.aligns:
      hits, has_gold = alignment_hits(weights, batch["gold_start"], batch["gold_end"])
      sums |= {"alignment_accuracy": jnp.sum(hits * sentence[:, None]),
               "alignment_accuracy_count": jnp.sum(has_gold * sentence[:, None])}
    return sums

  def _translate(self, params, src, src_len):
    memory, state = self.encode(params, src, src_len)
    d = self.decode_config
    if d.method == "greedy":
      return decoding.greedy_decode(self.decoder(params), memory, state, self.max_len)
    return decoding.beam_search(self.decoder(params), memory, state, self.max_len, d.beam_size, d.length_penalty)

  def describe_decoding(self) -> str:
    d = self.decode_config
    return d.method if d.method == "greedy" else f"beam {d.beam_size}, alpha {d.length_penalty}"


def build(config) -> Task:
  data = TranslationData(config)
  model = build_translation_model(config.model, len(data.src_vocab), len(data.tgt_vocab))
  example = {k: v[:2] for k, v in data.arrays("train").items()}
  fns = TranslationModel(model, config.decode, data.max_len, example)
  num_heatmaps, heatmap_min_len = int(config.get("num_heatmaps", 4)), int(config.get("heatmap_min_source_len", 0))

  def heatmaps(params, split, workdir):
    reports.alignment_heatmaps(data, fns, params, split, os.path.join(workdir, "plots"), num_heatmaps,
                               heatmap_min_len)
    return {}

  return Task(name="translation", init=fns.init, loss=fns.loss, evaluate=fns.evaluate, model=model,
              train_data=data.train_dataset(), eval_batches=data.eval_batches,
              evaluators={
                  "bleu": lambda params, split, workdir: reports.bleu_report(data, fns, params, split, workdir),
                  "alignment_heatmaps": heatmaps},
              extras={"src_vocab": data.src_vocab, "tgt_vocab": data.tgt_vocab, "arrays": data.arrays,
                      "translate": fns.translate, "raw": data.raw})
