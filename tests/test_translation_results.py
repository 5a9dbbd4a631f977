"""Translation results from evaluated workdirs: BLEU rebinned with an open last bin, the paired comparisons and
the results file (`experiments.collect_translation`), on hand-written workdirs whose BLEU is known."""

import json

import numpy as np
import pytest
import sacrebleu

from attention_jax import plotting
from attention_jax.errors import UserError
from attention_jax.nmt import results


def _sentence(n: int, rng) -> str:
  return " ".join(f"w{rng.integers(0, 50)}" for _ in range(n))


def _workdir(path, name: str, sources, references, hypotheses):
  """An evaluated translation run as experiments.train/evaluate leave it (the files the collectors read)."""
  path.mkdir()
  lengths = [len(s.split()) for s in sources]
  (path / "translations_test.tsv").write_text("".join(
      f"{s}\t{r}\t{h}\t{n}\n" for s, r, h, n in zip(sources, references, hypotheses, lengths)), encoding="utf-8")
  bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize="none").score
  (path / "eval.json").write_text(json.dumps({
      "step": 500, "bleu": bleu, "bleu_no_unk": bleu, "no_unk_sentences": len(sources), "decode": "beam 10, alpha 0.6",
      "bleu_by_source_length": [{"min_len": 0, "max_len": 9, "bleu": bleu, "sentences": len(sources)}]}))
  (path / "run.json").write_text(json.dumps({"command": f"python -m experiments.train {name}", "commit": "abc1234",
                                             "hardware": "2 CPU cores", "wall_s": 12.5, "train_rc": 0}))
  (path / "config.json").write_text(json.dumps({"model": {"name": name}, "batch_size": 64,
                                                "data": {"bleu_tokenize": "none"}}))
  return str(path)


@pytest.fixture(name="runs")
def _runs(tmp_path):
  """Two systems on 300 sentences of 3-79 words: equal (30% of words corrupted) below 40 words; above it the
  baseline corrupts 70% of the words and the system 20%."""
  rng = np.random.default_rng(0)
  lengths = rng.integers(3, 80, size=300)
  refs = [_sentence(n, rng) for n in lengths]
  sources = [_sentence(n, rng) for n in lengths]

  def corrupt(sentence, rate):
    return " ".join(f"x{rng.integers(0, 9)}" if rng.random() < rate else w for w in sentence.split())

  base = [corrupt(r, 0.3 if n < 40 else 0.7) for r, n in zip(refs, lengths)]
  system = [corrupt(r, 0.3 if n < 40 else 0.2) for r, n in zip(refs, lengths)]
  return {"baseline": _workdir(tmp_path / "base", "rnnencdec", sources, refs, base),
          "system": _workdir(tmp_path / "system", "rnnsearch", sources, refs, system),
          "lengths": lengths, "refs": refs, "base": base, "tmp": tmp_path}


def test_rebinned_curve_has_an_open_last_bin_and_counts_every_sentence(runs):
  translations = results.load_translations(runs["system"])
  rows = results.curve_from_translations(translations, 10, 60)
  assert [(r["min_len"], r["max_len"]) for r in rows] == [(0, 9), (10, 19), (20, 29), (30, 39), (40, 49),
                                                          (50, 59), (60, None)]
  assert sum(r["sentences"] for r in rows) == 300
  assert rows[-1]["sentences"] == int((runs["lengths"] >= 60).sum())
  with pytest.raises(UserError, match="--top_bin=5"):
    results.curve_from_translations(translations, 10, 5)
  assert plotting.bleu_by_length({"a": rows}, str(runs["tmp"] / "open.png"), title="t")


def test_collect_translation_writes_models_comparisons_and_length_drops(runs):
  spec = {"models": {"RNNencdec-50": runs["baseline"], "RNNsearch-50": runs["system"]},
          "comparisons": [["RNNencdec-50", "RNNsearch-50"]], "length_bin": 10, "top_bin": 60,
          "wide_bins": [[10, 19], [40, None]]}
  table = results.collect(spec)
  base = table["models"]["RNNencdec-50"]
  assert base["bleu"] == pytest.approx(sacrebleu.corpus_bleu(runs["base"], [runs["refs"]], tokenize="none").score)
  assert base["steps"] == 500 and base["commit"] == "abc1234" and base["bleu_by_length"][-1]["max_len"] is None
  rows = {(r["min_len"], r["max_len"]): r for r in table["comparisons"][0]["rows"]}
  assert rows[(None, None)]["sentences"] == 300
  assert rows[(40, None)]["gap"] > 20 and rows[(40, None)]["p_value"] < 0.01  # the long sentences differ
  assert abs(rows[(10, 19)]["gap"]) < 8 and rows[(10, 19)]["p_value"] > 0.01  # the short ones do not
  long_members = [i for i, n in enumerate(runs["lengths"]) if n >= 40]
  expected = sacrebleu.corpus_bleu([runs["base"][i] for i in long_members],
                                   [[runs["refs"][i] for i in long_members]], tokenize="none").score
  drop = table["length_drop"]["RNNencdec-50"]
  assert drop["long_bleu"] == pytest.approx(expected) and drop["drop"] > table["length_drop"]["RNNsearch-50"]["drop"]
  with pytest.raises(UserError, match="'RNNsearch-30', which is not among"):
    results.collect(spec | {"comparisons": [["RNNencdec-50", "RNNsearch-30"]]})
