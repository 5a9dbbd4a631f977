"""Labelled sentences (`label<TAB>sentence`) as a TFDS builder read back through `tfds.data_source`.

  data.train_path   the training file (plain or gzip); its labels are the label set, in sorted order
  data.valid_path   an optional held-out file (SST-2's dev set)
  data.test_path    the test file; or, when empty, data.num_folds > 1 cuts the training file into that many folds
                    by a permutation drawn from data.seed, and fold data.fold is the test set (MR's 10-fold
                    cross-validation)
  data.vocab_size   the most frequent training words kept (the rest <unk>); ids as `text.vocab.WordVocab`
  data.min_count    words seen fewer times in training are <unk> as well (1: every word; 2 trains <unk> on the
                    singletons, which is what held-out sentences meet)
  data.lowercase    lowercase every sentence before the vocabulary is built (the pictures show the lowercased words)
  data.max_len      words per sentence after padding (0: the longest training sentence); longer sentences are cut
                    to it, with a warning that counts them

Bad lines (invalid UTF-8, no tab, an empty label or sentence) are skipped and counted in a warning, as in the
translation TSV; a file with no valid line is refused, and so is a held-out label the training file never has.
"""

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from attention_jax.data import notes
from attention_jax.data.tfds_utils import all_records, as_text, default_tfds_dir, prepare, text_lines, warn_skipped
from attention_jax.errors import UserError
from attention_jax.text.vocab import WordVocab

SPLITS = ("train", "valid", "test")


def read_labelled_tsv(path: str, field: str):
  """([(label, sentence)], {reason: [line numbers]}) of a `label<TAB>sentence` file; errors name `field`."""
  if not os.path.isfile(path):
    raise UserError(f"config field {field}={path!r} is not a file; expected a TSV of label<TAB>sentence lines")
  rows, bad = [], {"invalid UTF-8": [], "no tab": [], "empty label or sentence": []}
  for number, line in text_lines(path, field, bad):
    label, tab, sentence = line.partition("\t")
    if not tab:
      bad["no tab"].append(number)
    elif not label.strip() or not sentence.strip():
      bad["empty label or sentence"].append(number)
    else:
      rows.append((label.strip(), sentence.strip()))
  bad = warn_skipped(path, bad)
  if not rows:
    raise UserError(f"config field {field}={path!r} holds no valid line; expected UTF-8 lines label<TAB>sentence")
  return rows, bad


def fold_indices(n: int, num_folds: int, fold: int, seed: int) -> dict:
  """{'train', 'test'}: fold `fold` of a seeded permutation of n examples cut into `num_folds` near-equal folds."""
  if num_folds < 2 or not 0 <= fold < num_folds or num_folds > n:
    raise UserError(f"config fields data.num_folds={num_folds} and data.fold={fold} must satisfy "
                    f"2 <= num_folds <= {n} and 0 <= fold < num_folds")
  folds = np.array_split(np.random.default_rng([seed, 0x666f6c64]).permutation(n), num_folds)
  return {"test": np.sort(folds[fold]), "train": np.sort(np.concatenate(folds[:fold] + folds[fold + 1:]))}


class LabelledTsv(tfds.core.GeneratorBasedBuilder):
  """One prepared copy per set of files (by their bytes): a 'train' split and, for each given file, 'valid' and
  'test'. Folds are cut at load time from 'train'."""

  VERSION = tfds.core.Version("1.0.0")

  def __init__(self, *, files: dict, **kwargs):
    self._files = files  # {split: (config field, path)}
    h = hashlib.md5()
    for split, (_, path) in sorted(files.items()):
      h.update(split.encode())
      with open(path, "rb") as f:
        h.update(f.read())
    super().__init__(config=tfds.core.BuilderConfig(name=h.hexdigest()[:12]), **kwargs)

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(dict(
        label=tfds.features.Text(), sentence=tfds.features.Text(), id=tfds.features.Scalar(dtype=np.int64))))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(read_labelled_tsv(path, field)[0])
            for split, (field, path) in self._files.items()}

  def _generate_examples(self, rows):
    for i, (label, sentence) in enumerate(rows):
      yield i, dict(label=label, sentence=sentence, id=i)


def _files(data_config) -> dict:
  files = {"train": ("data.train_path", data_config.get("train_path", ""))}
  for split in ("valid", "test"):
    if data_config.get(f"{split}_path", ""):
      files[split] = (f"data.{split}_path", data_config[f"{split}_path"])
  for field, path in files.values():
    if not path or not os.path.isfile(path):
      raise UserError(f"config field {field}={path!r} is not a file; expected a TSV of label<TAB>sentence lines "
                      f"(e.g. ../shared/data/textcls/sst2/train.tsv)")
  if "test" not in files and int(data_config.get("num_folds", 0)) < 2:
    raise UserError("config field data.test_path is empty and data.num_folds < 2: give a test file, or "
                    "data.num_folds (e.g. 10) and data.fold for cross-validation")
  return files


def read_splits(data_config) -> dict:
  """{split: {'label': [str], 'sentence': [str]}} for the splits the config has (train, valid?, test)."""
  files = _files(data_config)
  builder = LabelledTsv(files=files, data_dir=data_config.get("tfds_data_dir") or default_tfds_dir())
  builder = prepare(builder)
  splits = {}
  for split in files:
    records = all_records(builder.as_data_source(split=split))
    splits[split] = {k: [as_text(r[k]) for r in records] for k in ("label", "sentence")}
  if "test" not in files:
    parts = fold_indices(len(splits["train"]["label"]), int(data_config.num_folds), int(data_config.get("fold", 0)),
                         int(data_config.get("seed", 0)))
    whole = splits["train"]
    splits.update({s: {k: [v[i] for i in parts[s]] for k, v in whole.items()} for s in ("train", "test")})
  return splits


def encode(vocab: WordVocab, sentences, max_len: int, split: str) -> dict:
  """{'tokens': int32 [n, max_len] (0-padded), 'lengths': int32 [n]}; longer sentences are cut (and counted)."""
  tokens = np.zeros((len(sentences), max_len), np.int32)
  lengths = np.zeros(len(sentences), np.int32)
  cut = 0
  for i, sentence in enumerate(sentences):
    ids = vocab.encode(sentence)[:max_len] or [0]
    cut += len(sentence.split()) > max_len
    tokens[i, :len(ids)] = ids
    lengths[i] = max(len(ids), 1)
  if cut:
    notes.warn(f"{cut} of the {len(sentences)} {split} sentences are longer than data.max_len={max_len} words "
               "and were cut")
  return {"tokens": tokens, "lengths": lengths}


def label_ids(labels, classes, split: str, field: str) -> np.ndarray:
  index = {c: i for i, c in enumerate(classes)}
  unknown = sorted(set(labels) - set(index))
  if unknown:
    raise UserError(f"the {split} split ({field}) has label {unknown[0]!r}, which the training file never has; "
                    f"its labels are {list(classes)}")
  return np.array([index[l] for l in labels], np.int32)


def load(data_config):
  """(arrays by split {'tokens', 'lengths', 'label'}, the vocabulary, the class names, sentences by split)."""
  splits = read_splits(data_config)
  if data_config.get("lowercase", False):
    splits = {split: s | {"sentence": [t.lower() for t in s["sentence"]]} for split, s in splits.items()}
  train = splits["train"]
  classes = sorted(set(train["label"]))
  min_count = int(data_config.get("min_count", 1))
  if min_count < 1:
    raise UserError(f"config field data.min_count={min_count} must be >= 1 (1 keeps every training word)")
  vocab = WordVocab.build(train["sentence"], int(data_config.vocab_size), "data.vocab_size", min_count)
  max_len = int(data_config.get("max_len", 0)) or max(len(s.split()) for s in train["sentence"])
  if max_len < 1:
    raise UserError(f"config field data.max_len={max_len} must be >= 1 (0: the longest training sentence)")
  fields = {"train": "data.train_path", "valid": "data.valid_path",
            "test": "data.test_path" if data_config.get("test_path", "") else "data.num_folds"}
  arrays = {split: encode(vocab, s["sentence"], max_len, split) | {
      "label": label_ids(s["label"], classes, split, fields[split])} for split, s in splits.items()}
  return arrays, vocab, classes, {split: s["sentence"] for split, s in splits.items()}
