"""What `experiments.evaluate` reports of a trained translation model: BLEU of decoded text (all sentences, those
with no <unk>, and by source length, Bahdanau et al.'s Figure 2), the translations as TSV, and alignment heat maps
(their Figure 3). Each function takes the task's data and model functions as the two small interfaces below
declare them (`tasks.translation.TranslationData` and `TranslationModel` have that form), so this module needs
nothing from the task and can be called and tested alone; the task imports it, not the other way round.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

import jax
import numpy as np

from attention_jax import io_utils
from attention_jax.text.ids import UNK


class TranslationData(Protocol):
  """What the reports read of a translation task's data."""
  config: Any  # the run's config (its model.name labels the plots)
  data_config: Any  # config.data: bleu_tokenize, length_bin
  max_len: int  # tokens a side
  src_vocab: Any  # .encode(text), .pieces(ids)
  tgt_vocab: Any  # .encode(text), .decode(ids), .pieces(ids)

  def raw(self, split: str) -> dict: ...  # {"src": [str], "tgt": [str]}
  def arrays(self, split: str) -> dict: ...  # token arrays of the split
  def eval_batches(self, split: str): ...  # batches of "src", "src_len"


class TranslationModel(Protocol):
  """What the reports call of a translation task's model functions."""
  model: Any  # the Flax module (.aligns: whether it has alignments to draw)

  def translate(self, params, src, src_len) -> dict: ...  # {"tokens", "lengths", "alignments"?}
  def describe_decoding(self) -> str: ...


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


def translate_split(data: TranslationData, fns: TranslationModel, params, split: str):
  """Decodes every pair of `split`: (arrays, outputs with tokens/weights/lengths for each pair)."""
  outs = []
  for batch in data.eval_batches(split):
    out = jax.device_get(fns.translate(params, batch["src"], batch["src_len"]))
    real = batch["mask"] > 0
    outs.append({k: v[real] for k, v in out.items()})
  return data.arrays(split), {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def bleu_report(data: TranslationData, fns: TranslationModel, params, split: str, workdir: str) -> dict:
  """BLEU of the decoded `split` (all sentences, and those with no <unk>), exact match, BLEU by source length;
  writes the translations (source, reference, hypothesis, source length) and the BLEU-by-length plot."""
  import sacrebleu  # pylint: disable=g-import-not-at-top
  arrays, out = translate_split(data, fns, params, split)
  hypotheses = [data.tgt_vocab.decode(t) for t in out["tokens"]]
  texts = data.raw(split)
  references = [texts["target"][i] for i in arrays["pair"]]
  sources = [texts["source"][i] for i in arrays["pair"]]
  tokenize = data.data_config.get("bleu_tokenize", "13a")
  bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize)
  edges = list(range(0, data.max_len + data.data_config.length_bin, data.data_config.length_bin))
  by_length = bleu_by_length(arrays["src_len"], hypotheses, references, edges, tokenize)
  exact = np.array([h == r for h, r in zip(hypotheses, references)])
  for row in by_length:  # exact match in the same bins (the dates task's sentence-level score)
    members = [i for i, n in enumerate(arrays["src_len"]) if row["min_len"] <= n <= row["max_len"]]
    row["exact_match"] = float(exact[members].mean())
  io_utils.atomic_write_text(os.path.join(workdir, f"translations_{split}.tsv"), "".join(
      f"{s}\t{r}\t{h}\t{n}\n" for s, r, h, n in zip(sources, references, hypotheses, arrays["src_len"])))
  # The paper's second column: the sentences with no unknown word in the source or the reference.
  known = [i for i, (src, ref) in enumerate(zip(sources, references))
           if UNK not in data.src_vocab.encode(src) and UNK not in data.tgt_vocab.encode(ref)]
  bleu_no_unk = sacrebleu.corpus_bleu([hypotheses[i] for i in known], [[references[i] for i in known]],
                                      tokenize=tokenize).score if known else float("nan")
  report = {"bleu": bleu.score, "bleu_no_unk": bleu_no_unk, "no_unk_sentences": len(known),
            "decoded_exact_match": float(exact.mean()), "decode": fns.describe_decoding(),
            "bleu_by_source_length": by_length}
  if "gold_start" in arrays and fns.model.aligns and exact.any():
    # Alignment accuracy of the decoded output, over the sentences decoded exactly (their characters have gold).
    best = out["weights"][exact].argmax(-1)  # [n, max_len]
    gold_s, gold_e = arrays["gold_start"][exact], arrays["gold_end"][exact]
    report["decoded_alignment_accuracy"] = float(((best >= gold_s) & (best < gold_e))[gold_s >= 0].mean())
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  plotting.bleu_by_length({data.config.model.name: by_length}, os.path.join(workdir, "plots", "bleu_by_length.png"))
  return report


def alignment_heatmaps(data: TranslationData, fns: TranslationModel, params, split: str, plots_dir: str, n: int,
                       min_source_len: int = 0) -> list:
  """Alignment heat maps (source across, target down; the paper's Figure 3) of the first n pairs of `split` whose
  source has at least `min_source_len` tokens (the paper shows long sentences), for models that align; their
  paths."""
  if not fns.model.aligns:
    return []
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  arrays = data.arrays(split)
  chosen = np.flatnonzero(arrays["src_len"] >= min_source_len)[:n]
  batch = {k: v[chosen] for k, v in arrays.items()}
  out = jax.device_get(fns.translate(params, batch["src"], batch["src_len"]))
  paths = []
  for i in range(len(batch["src"])):
    src_pieces = data.src_vocab.pieces(batch["src"][i, :batch["src_len"][i]])
    tgt_pieces = data.tgt_vocab.pieces(out["tokens"][i, :out["lengths"][i]])
    weights = out["weights"][i, :len(tgt_pieces), :len(src_pieces)]
    paths.append(plotting.alignment_heatmap(weights, src_pieces, tgt_pieces,
                                            os.path.join(plots_dir, f"alignment_{i}.png")))
  return paths
