"""Long-sentence translation data (the Europarl issue): gzip TSV files, held-out split files, a seeded training
subset, a training length limit that leaves the test set whole, the paper's word vocabulary, and BLEU on the
sentences with no unknown word."""

import gzip
import logging as py_logging
import os
import re

import ml_collections
import numpy as np
import pytest

from attention_jax.data import translation
from attention_jax.errors import UserError
from attention_jax.text.ids import UNK
from attention_jax.text import vocab as vocab_lib
from attention_jax.tasks import translation as task_lib
from attention_jax.training import loop
from experiments.configs import nmt_europarl
from tests import helpers


def data_config(**fields):
  return ml_collections.ConfigDict(dict(tfds_data_dir=os.environ["ATTENTION_JAX_TFDS_DIR"], name="tsv",
                                        valid_size=0, test_size=0, seed=0) | fields)


def sentence(rng, words, n):
  """n words, each one of `words`, or (1 in 100) a rare word that no small vocabulary keeps."""
  return " ".join(str(w) if rng.random() > 0.01 else f"rare{rng.integers(1000)}" for w in rng.choice(words, n))


def write_corpus(folder, n_train=300, seed=0):
  """Tokenized pairs of 3 to 60 words: train.tsv.gz (gzip), valid.tsv, test.tsv; the target is the source with
  every word suffixed, so a model could learn it. Every word but the rare ones fits in a 44-entry vocabulary."""
  rng = np.random.default_rng(seed)
  words = [f"w{i}" for i in range(40)]
  def pairs(n):
    out = []
    for _ in range(n):
      src = sentence(rng, words, int(rng.integers(3, 61)))
      out.append(f"{src}\t{' '.join(w + 'i' for w in src.split())}\n")
    return out
  train, valid, test = pairs(n_train), pairs(20), pairs(30)
  os.makedirs(folder, exist_ok=True)
  with gzip.open(os.path.join(folder, "train.tsv.gz"), "wt", encoding="utf-8") as f:
    f.writelines(train + [test[0]])  # one test pair also in training: warned about, not removed
  for name, lines in (("valid.tsv", valid), ("test.tsv", test)):
    with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
      f.writelines(lines)
  return {name: str(folder / name) for name in ("train.tsv.gz", "valid.tsv", "test.tsv")}


def test_gzip_reads_as_the_plain_file_and_damaged_files_are_refused_by_field(tmp_path):
  plain = tmp_path / "pairs.tsv"
  plain.write_text("Hi .\tCiao .\nno tab\nGood night .\tBuona notte .\n", encoding="utf-8")
  with gzip.open(tmp_path / "pairs.tsv.gz", "wb") as f:
    f.write(plain.read_bytes())
  assert translation.read_tsv(str(tmp_path / "pairs.tsv.gz")) == translation.read_tsv(str(plain))
  whole = (tmp_path / "pairs.tsv.gz").read_bytes()
  (tmp_path / "cut.tsv.gz").write_bytes(whole[:len(whole) // 2])
  with pytest.raises(UserError, match=r"data.path='.*cut.tsv.gz' is a truncated or damaged gzip file"):
    translation.read_tsv(str(tmp_path / "cut.tsv.gz"))
  (tmp_path / "fake.tsv.gz").write_bytes(plain.read_bytes())
  with pytest.raises(UserError, match=r"data.test_path='.*fake.tsv.gz' is named .gz but is not a gzip file"):
    translation.read_tsv(str(tmp_path / "fake.tsv.gz"), "data.test_path")


def test_held_out_files_are_the_splits_and_overlap_is_counted(tmp_path, caplog):
  files = write_corpus(tmp_path / "corpus")
  config = data_config(path=files["train.tsv.gz"], valid_path=files["valid.tsv"], test_path=files["test.tsv"])
  with caplog.at_level(py_logging.WARNING):
    splits = {s: translation.load_parallel(config, s) for s in ("train", "valid", "test")}
  assert [len(splits[s]["source"]) for s in ("train", "valid", "test")] == [301, 20, 30]
  assert splits["test"]["source"][0] == splits["train"]["source"][-1]
  assert "1 of the 30 test pairs also occur in the training file" in caplog.text
  with open(files["test.tsv"], encoding="utf-8") as f:
    assert splits["test"]["target"] == [line.rstrip("\n").split("\t")[1] for line in f]
  with pytest.raises(UserError, match="data.valid_path=.* and data.test_path='' go together"):
    translation.load_parallel(data_config(path=files["train.tsv.gz"], valid_path=files["valid.tsv"]), "test")
  empty = tmp_path / "empty.tsv"
  empty.write_text("no tab here\n", encoding="utf-8")
  with pytest.raises(UserError, match=r"data.test_path='.*empty.tsv' holds no valid line"):
    translation.load_parallel(data_config(path=files["train.tsv.gz"], valid_path=files["valid.tsv"],
                                          test_path=str(empty)), "test")


def test_training_subset_is_drawn_by_seed_and_leaves_held_out_splits_whole(tmp_path):
  files = write_corpus(tmp_path / "corpus")
  fields = dict(path=files["train.tsv.gz"], valid_path=files["valid.tsv"], test_path=files["test.tsv"])
  full = translation.load_parallel(data_config(**fields), "train")
  subset = translation.load_parallel(data_config(max_train_pairs=100, **fields), "train")
  again = translation.load_parallel(data_config(max_train_pairs=100, **fields), "train")
  other = translation.load_parallel(data_config(max_train_pairs=100, seed=1, **fields), "train")
  assert len(subset["source"]) == 100 and subset == again and subset != other
  positions = [full["source"].index(s) for s in subset["source"]]
  assert positions == sorted(positions)  # file order kept
  assert len(translation.load_parallel(data_config(max_train_pairs=100, **fields), "test")["source"]) == 30
  with pytest.raises(UserError, match="data.max_train_pairs=-1 must be >= 0"):
    translation.training_subset(10, -1, 0)


def test_word_vocabulary_keeps_the_most_frequent_words():
  vocab = vocab_lib.WordVocab.build(["a b c a", "b a d", "e"], size=4 + 2)
  assert vocab.words == ["a", "b"] and len(vocab) == 6
  assert vocab.encode("a c b") == [4, UNK, 5]
  assert vocab.decode(vocab.encode("b a") + [2, 4]) == "b a"  # stops at eos
  assert vocab.pieces([UNK, 4]) == ["<unk>", "a"]
  with pytest.raises(UserError, match="data.src_vocab_size=3 must exceed the 4 reserved ids"):
    vocab_lib.WordVocab.build(["a"], 3, "data.src_vocab_size")


def test_training_length_limit_counts_words_on_both_sides():
  raw = {"source": ["a b", "a b c d", "a"], "target": ["x y z", "x", "x y z w v"]}
  assert task_lib.within_words(raw, 3) == [0]
  assert task_lib.within_words(raw, 0) == [0, 1, 2]


def europarl_config(files, model="rnnsearch", limit=30, **overrides):
  c = nmt_europarl.get_config(f"{model},{limit}")
  c.model.update(embed=16, hidden=24, maxout=12, alignment=16)
  c.data.update(path=files["train.tsv.gz"], valid_path=files["valid.tsv"], test_path=files["test.tsv"],
                max_train_pairs=200, src_vocab_size=44, tgt_vocab_size=44, max_len=64, buckets=(16, 32),
                tfds_data_dir=os.environ["ATTENTION_JAX_TFDS_DIR"])
  c.decode.update(beam_size=2, length_penalty=0.0)
  c.update(batch_size=8, eval_batch_size=15, num_train_steps=2, log_every_steps=1, eval_every_steps=2,
           checkpoint_every_steps=2, num_heatmaps=1, num_devices=1)
  c.optimizer.warmup_steps = 0
  return helpers.with_overrides(c, overrides)


def test_europarl_models_train_on_short_pairs_and_are_tested_on_every_sentence(tmp_path):
  """The -30 model trains only on pairs of up to 30 words, shares the -50 model's vocabulary, and both are
  decoded on the whole test file; BLEU is reported on all sentences and on those with no unknown word."""
  files = write_corpus(tmp_path / "corpus")
  trainers = {limit: loop.build_trainer(europarl_config(files, limit=limit)) for limit in (30, 50)}
  train30 = trainers[30].task.extras["arrays"]("train")
  train50 = trainers[50].task.extras["arrays"]("train")
  assert train30["src_len"].max() <= 30 and train50["src_len"].max() > 30
  assert len(train30["src"]) < len(train50["src"]) <= 200
  assert trainers[30].task.extras["src_vocab"].words == trainers[50].task.extras["src_vocab"].words
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(europarl_config(files), workdir)
  report = loop.evaluate_checkpoint(workdir)
  assert sum(row["sentences"] for row in report["bleu_by_source_length"]) == 30  # the whole test file
  assert max(row["max_len"] for row in report["bleu_by_source_length"] if row["sentences"]) >= 50
  # the heat map is of the first test sentence of at least heatmap_min_source_len (40) tokens, as in Figure 3
  assert os.path.getsize(os.path.join(workdir, "plots", "alignment_0.png")) > 5000
  tgt_vocab = trainers[30].task.extras["tgt_vocab"]
  test = translation.load_parallel(europarl_config(files).data, "test")
  src_vocab = trainers[30].task.extras["src_vocab"]
  known = sum(UNK not in src_vocab.encode(s) and UNK not in tgt_vocab.encode(t)
              for s, t in zip(test["source"], test["target"]))
  assert report["no_unk_sentences"] == known and 0 < known < 30
  assert report["bleu_no_unk"] >= 0 and report["bleu"] >= 0


def test_the_four_europarl_configs_differ_only_in_model_and_length_limit():
  configs = {arg: nmt_europarl.get_config(arg) for arg in ("rnnsearch,50", "rnnencdec,50", "rnnsearch,30",
                                                           "rnnencdec,30")}
  flat = {arg: loop.flat_fields(c) for arg, c in configs.items()}

  def differ(*args):
    keys = set().union(*(flat[a] for a in args))
    return {k for k in keys if len({repr(flat[a].get(k)) for a in args}) > 1}
  assert differ("rnnsearch,50", "rnnsearch,30") == differ("rnnencdec,50", "rnnencdec,30") == {"data.max_train_len"}
  assert all(k.startswith("model.") for k in differ("rnnsearch,50", "rnnencdec,50"))  # the model, nothing else
  paper = nmt_europarl.get_config("rnnsearch,50,paper")
  assert (paper.model.hidden, paper.data.src_vocab_size, paper.optimizer.name) == (1000, 30000, "adadelta")
  assert re.search(r"not the paper's language pair", nmt_europarl.__doc__)


def test_sentencepiece_reads_the_src_and_tgt_fields(tmp_path):
  """data.src_*/data.tgt_* reach SentencePiece (they were once read as 'sou_*'/'tar_*' and silently ignored)."""
  files = write_corpus(tmp_path / "corpus")
  config = data_config(path=files["train.tsv.gz"], valid_path=files["valid.tsv"], test_path=files["test.tsv"],
                       tokenizer="sentencepiece", src_vocab_size=60, tgt_vocab_size=70,
                       src_character_coverage=1.0, tgt_character_coverage=0.995)
  src, tgt = task_lib.build_vocabularies(config, translation.load_parallel(config, "train"))
  assert src.model_path.endswith("source_60_1.0_identity.model")
  assert tgt.model_path.endswith("target_70_0.995_identity.model")
  config.tgt_vocab_size = 0
  with pytest.raises(UserError, match="data.tgt_vocab_size"):
    task_lib.build_vocabularies(config, translation.load_parallel(config, "train"))
