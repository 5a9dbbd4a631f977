"""Translation with RNNsearch / RNNencdec: teacher-forced training, decoding, BLEU, alignment scores, heat maps.

Training minimises the summed token cross-entropy of the target (eos included, padding masked). Periodic
evaluation (inside the compiled eval step, on every device) reports per-token loss and accuracy, greedy
exact match per sentence and, on dates, the alignment accuracy: the share of target characters whose
highest-weight source position lies in the gold span. `experiments.evaluate` adds BLEU (sacrebleu) of beam
search or greedy output, BLEU by source length, the translations, and alignment heat maps.
"""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from attention_jax import io_utils
from attention_jax.data import pipeline, translation as translation_data
from attention_jax.errors import UserError, check_choice, check_positive
from attention_jax.models.seq2seq import BOS, EOS, PAD, UNK, build_translation_model
from attention_jax.nmt import decoding, vocab as vocab_lib
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


def bleu_by_length(sources_len, hypotheses, references, edges, tokenize: str) -> list:
  """BLEU of the sentences whose source length (tokens) falls in each [edges[i], edges[i+1]) bin."""
  import sacrebleu  # pylint: disable=g-import-not-at-top
  rows = []
  for lo, hi in zip(edges[:-1], edges[1:]):
    members = [i for i, n in enumerate(sources_len) if lo <= n < hi]
    if members:
      score = sacrebleu.corpus_bleu([hypotheses[i] for i in members], [[references[i] for i in members]],
                                    tokenize=tokenize).score
      rows.append({"min_len": int(lo), "max_len": int(hi - 1), "bleu": score, "sentences": len(members)})
  return rows


def build(config) -> Task:
  data_config = config.data
  check_positive("data.max_len", data_config.max_len)

  @functools.cache
  def raw(split):
    return translation_data.load_parallel(data_config, split)

  src_vocab, tgt_vocab = build_vocabularies(data_config, raw("train"))
  max_len = int(data_config.max_len)

  @functools.cache
  def arrays(split):
    max_words = int(data_config.get("max_train_len", 0)) if split == "train" else 0
    return encode_split(raw(split), src_vocab, tgt_vocab, max_len, split, max_words)

  train = arrays("train")
  lengths = bucket_lengths(data_config)
  train_data = pipeline.bucketed_train_dataset(model_inputs(train), bucket_of(train, lengths), lengths,
                                               config.batch_size, config.seed, TIME_KEYS)
  model = build_translation_model(config.model, len(src_vocab), len(tgt_vocab))
  logging.info("translation data: %d training pairs, vocabularies %d source / %d target tokens, buckets %s",
               len(train["src"]), len(src_vocab), len(tgt_vocab), lengths)

  def eval_batches(split):
    return pipeline.eval_batches(model_inputs(arrays(split)), config.eval_batch_size)

  def forward(params, batch):
    return model.apply({"params": params}, batch["src"], batch["src_len"], shift_right(batch["tgt"]))

  def init(key):
    example = {k: v[:2] for k, v in train.items()}
    return model.init(key, example["src"], example["src_len"], shift_right(example["tgt"]))["params"]

  def loss(params, batch, keys):
    del keys  # no dropout: the paper trains without it
    logits, _ = forward(params, batch)
    sums = token_sums(logits, batch["tgt"], (batch["tgt"] != PAD).astype(jnp.float32))
    return sums["loss"], sums

  def decoder(params):
    return functools.partial(model.apply, {"params": params}, method=model.decode_step)

  def encode(params, src, src_len):
    memory = model.apply({"params": params}, src, src_len, method=model.encode)
    return memory, model.apply({"params": params}, memory, method=model.initial_state)

  def evaluate(params, batch, keys):
    del keys
    logits, weights = forward(params, batch)
    sentence = batch["mask"]
    sums = token_sums(logits, batch["tgt"], (batch["tgt"] != PAD) * sentence[:, None])
    memory, state = encode(params, batch["src"], batch["src_len"])
    greedy = decoding.greedy_decode(decoder(params), memory, state, batch["tgt"].shape[1])
    exact = jnp.all(greedy["tokens"] == batch["tgt"], axis=1).astype(jnp.float32)
    sums |= {"exact_match": jnp.sum(exact * sentence), "exact_match_count": jnp.sum(sentence)}
    if "gold_start" in batch and config.model.name == "rnnsearch":
      hits, has_gold = alignment_hits(weights, batch["gold_start"], batch["gold_end"])
      sums |= {"alignment_accuracy": jnp.sum(hits * sentence[:, None]),
               "alignment_accuracy_count": jnp.sum(has_gold * sentence[:, None])}
    return sums

  decode_config = config.decode
  check_choice("decode.method", decode_config.method, ("greedy", "beam"))

  @jax.jit
  def translate(params, src, src_len):
    memory, state = encode(params, src, src_len)
    if decode_config.method == "greedy":
      return decoding.greedy_decode(decoder(params), memory, state, max_len)
    return decoding.beam_search(decoder(params), memory, state, max_len, decode_config.beam_size,
                                decode_config.length_penalty)

  def translate_split(params, split):
    """Decodes every pair of `split`: (arrays, outputs with tokens/weights/lengths for each pair)."""
    data, outs = arrays(split), []
    for batch in eval_batches(split):
      out = jax.device_get(translate(params, batch["src"], batch["src_len"]))
      real = batch["mask"] > 0
      outs.append({k: v[real] for k, v in out.items()})
    return data, {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

  def decode_report(params, split, workdir):
    """BLEU (and exact match) of decoded `split`, BLEU by source length, translations written to the workdir."""
    import sacrebleu  # pylint: disable=g-import-not-at-top
    data, out = translate_split(params, split)
    hypotheses = [tgt_vocab.decode(t) for t in out["tokens"]]
    texts = raw(split)
    references = [texts["target"][i] for i in data["pair"]]
    sources = [texts["source"][i] for i in data["pair"]]
    tokenize = data_config.get("bleu_tokenize", "13a")
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize)
    edges = list(range(0, max_len + data_config.length_bin, data_config.length_bin))
    by_length = bleu_by_length(data["src_len"], hypotheses, references, edges, tokenize)
    exact = np.array([h == r for h, r in zip(hypotheses, references)])
    for row in by_length:  # exact match in the same bins (the dates task's sentence-level score)
      members = [i for i, n in enumerate(data["src_len"]) if row["min_len"] <= n <= row["max_len"]]
      row["exact_match"] = float(exact[members].mean())
    io_utils.atomic_write_text(os.path.join(workdir, f"translations_{split}.tsv"), "".join(
        f"{s}\t{r}\t{h}\t{n}\n" for s, r, h, n in zip(sources, references, hypotheses, data["src_len"])))
    # The paper's second column: the sentences with no unknown word in the source or the reference.
    known = [i for i, (src, ref) in enumerate(zip(sources, references))
             if UNK not in src_vocab.encode(src) and UNK not in tgt_vocab.encode(ref)]
    bleu_no_unk = sacrebleu.corpus_bleu([hypotheses[i] for i in known], [[references[i] for i in known]],
                                        tokenize=tokenize).score if known else float("nan")
    report = {"bleu": bleu.score, "bleu_no_unk": bleu_no_unk, "no_unk_sentences": len(known),
              "decoded_exact_match": float(exact.mean()),
              "decode": decode_config.method if decode_config.method == "greedy" else
              f"beam {decode_config.beam_size}, alpha {decode_config.length_penalty}",
              "bleu_by_source_length": by_length}
    if "gold_start" in data and config.model.name == "rnnsearch" and exact.any():
      # Alignment accuracy of the decoded output, over the sentences decoded exactly (their characters have gold).
      best = out["weights"][exact].argmax(-1)  # [n, max_len]
      gold_s, gold_e = data["gold_start"][exact], data["gold_end"][exact]
      report["decoded_alignment_accuracy"] = float(((best >= gold_s) & (best < gold_e))[gold_s >= 0].mean())
    from attention_jax import plotting  # pylint: disable=g-import-not-at-top
    plotting.bleu_by_length({config.model.name: by_length}, os.path.join(workdir, "plots", "bleu_by_length.png"))
    return report

  def make_pictures(params, plots_dir):
    """Alignment heat maps (source across, target down; the paper's Figure 3) for the first test pairs."""
    if config.model.name != "rnnsearch":
      return []
    from attention_jax import plotting  # pylint: disable=g-import-not-at-top
    n = int(config.get("num_heatmaps", 4))
    data = arrays("test")
    batch = {k: v[:n] for k, v in data.items()}
    out = jax.device_get(translate(params, batch["src"], batch["src_len"]))
    paths = []
    for i in range(len(batch["src"])):
      src_pieces = src_vocab.pieces(batch["src"][i, :batch["src_len"][i]])
      tgt_pieces = tgt_vocab.pieces(out["tokens"][i, :out["lengths"][i]])
      weights = out["weights"][i, :len(tgt_pieces), :len(src_pieces)]
      paths.append(plotting.alignment_heatmap(weights, src_pieces, tgt_pieces,
                                              os.path.join(plots_dir, f"alignment_{i}.png")))
    return paths

  return Task(name="translation", init=init, loss=loss, evaluate=evaluate, model=model, train_data=train_data,
              eval_batches=eval_batches, make_pictures=make_pictures, decode_report=decode_report,
              extras={"src_vocab": src_vocab, "tgt_vocab": tgt_vocab, "arrays": arrays, "translate": translate,
                      "raw": raw})
