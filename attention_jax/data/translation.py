"""Parallel text as TFDS builders, read back through `tfds.data_source` (no TensorFlow needed).

Three sources (`config.data.name`):
  * ``dates``: the embedded default. Dates rendered with Babel's CLDR formats in many locales ("Tuesday, March 3,
    2015", "3 mars 2015", "2015年3月3日", "03.03.15", ...) to be translated into ISO 8601 ("2015-03-03"),
    deterministic by seed. Each example records, for every target character, the source span it comes from
    (gold_start/gold_end; -1 for the hyphens), so attention can be scored against the truth.
  * ``tsv``: any Tatoeba/Anki-style file of ``source<TAB>target[<TAB>attribution]`` lines (``data.path``, plain or
    gzip), split deterministically into train/valid/test, or, with ``data.valid_path`` and ``data.test_path``,
    held-out files as they are (Europarl's later sittings); ``data.max_train_pairs`` keeps a subset of the training
    pairs drawn by ``data.seed``. Bad lines (no tab, an empty side, invalid UTF-8) are skipped and counted, with
    their line numbers, in a warning; a file with no valid line is refused, as is a truncated or damaged gzip file.
  * ``wmt14``: TFDS's ``wmt14_translate/fr-en`` (the paper's corpus; preparing it needs the ``tf`` extra), read
    English to French.
`load_parallel(data_config, split)` returns {'source': [str], 'target': [str]} (+ gold spans for dates).
"""

import datetime
import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from attention_jax.data import notes
from attention_jax.data.tfds_utils import all_records, as_text, default_tfds_dir, prepare, text_lines, warn_skipped
from attention_jax.errors import UserError, check_choice

NAMES = ("dates", "tsv", "wmt14")
SPLITS = ("train", "valid", "test")

# ---------------------------------------------------------------------------------------------------------------
# Dates

DATE_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "pt_BR", "nl_NL", "ru_RU", "pl_PL", "sv_SE",
                "tr_TR", "fi_FI", "cs_CZ", "hu_HU", "zh_CN", "ja_JP", "ko_KR")
DATE_WIDTHS = ("full", "long", "medium", "short")
# es_ES short (d/M/yy) renders 6/3/63 exactly as en_US short (M/d/yy) renders another date: left out, so every
# source has one translation.
_EXCLUDED_FORMATS = {("es_ES", "short")}
_FIRST_DAY, _LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)  # two-digit years are unambiguous
_FIELD_OF_PATTERN_CHAR = {"y": "year", "Y": "year", "M": "month", "L": "month", "d": "day"}
# Target "YYYY-MM-DD": the field each character comes from.
_TARGET_FIELDS = ["year"] * 4 + [None] + ["month"] * 2 + [None] + ["day"] * 2


def date_formats():
  return [(loc, w) for loc in DATE_LOCALES for w in DATE_WIDTHS if (loc, w) not in _EXCLUDED_FORMATS]


def render_date(date: datetime.date, locale: str, width: str):
  """Renders `date` with the locale's CLDR pattern; returns (text, {field: (start, end)}) with character spans."""
  import babel.dates  # pylint: disable=g-import-not-at-top
  pattern = babel.dates.get_date_format(width, locale=locale).pattern
  fmt = babel.dates.DateTimeFormat(date, babel.Locale.parse(locale))
  text, spans = "", {}
  for kind, value in babel.dates.tokenize_pattern(pattern):
    if kind == "chars":
      piece = value
    else:
      char, count = value
      piece = fmt[char * count]
      if char in _FIELD_OF_PATTERN_CHAR:
        spans[_FIELD_OF_PATTERN_CHAR[char]] = (len(text), len(text) + len(piece))
    text += piece
  return text, spans


def date_example(rng: np.random.Generator):
  """One random (source, target, gold_start, gold_end, format) of the dates task."""
  formats = date_formats()
  day = datetime.date.fromordinal(int(rng.integers(_FIRST_DAY.toordinal(), _LAST_DAY.toordinal() + 1)))
  locale, width = formats[int(rng.integers(len(formats)))]
  source, spans = render_date(day, locale, width)
  target = day.isoformat()
  gold = np.array([spans[f] if f is not None else (-1, -1) for f in _TARGET_FIELDS], np.int32)
  return source, target, gold[:, 0], gold[:, 1], f"{locale}/{width}"


class Dates(tfds.core.GeneratorBasedBuilder):
  """Generated dates with gold alignments: `sizes` train/valid/test examples drawn from `seed`."""

  VERSION = tfds.core.Version("1.0.0")

  def __init__(self, *, seed: int = 0, sizes=(20000, 1000, 1000), **kwargs):
    self._seed, self._sizes = int(seed), tuple(int(s) for s in sizes)
    if len(self._sizes) != 3 or min(self._sizes) < 1:
      raise UserError(f"config field data.sizes={sizes!r} must be three positive counts: train, valid, test")
    name = f"seed{self._seed}_" + "_".join(map(str, self._sizes))
    super().__init__(config=tfds.core.BuilderConfig(name=name), **kwargs)

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(dict(
        source=tfds.features.Text(), target=tfds.features.Text(), format=tfds.features.Text(),
        gold_start=tfds.features.Tensor(shape=(10,), dtype=np.int32),
        gold_end=tfds.features.Tensor(shape=(10,), dtype=np.int32),
        id=tfds.features.Scalar(dtype=np.int64))))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split, n) for split, n in zip(SPLITS, self._sizes)}

  def _generate_examples(self, split, n):
    rng = np.random.default_rng([self._seed, SPLITS.index(split)])
    for i in range(n):
      source, target, start, end, fmt = date_example(rng)
      yield i, dict(source=source, target=target, format=fmt, gold_start=start, gold_end=end, id=i)


# ---------------------------------------------------------------------------------------------------------------
# Tab-separated parallel text


def read_tsv(path: str, field: str = "data.path"):
  """Valid (source, target) pairs of a TSV file (plain or gzip) and the skipped lines:
  ([(src, tgt)], {reason: [line numbers]}). Errors name the config `field` the path came from."""
  if not os.path.isfile(path):
    raise UserError(f"config field {field}={path!r} is not a file; expected a TSV of source<TAB>target lines")
  pairs, bad = [], {"invalid UTF-8": [], "no tab": [], "empty side": []}
  for number, line in text_lines(path, field, bad):
    fields = line.split("\t")
    if len(fields) < 2:
      bad["no tab"].append(number)
      continue
    source, target = fields[0].strip(), fields[1].strip()
    if not source or not target:
      bad["empty side"].append(number)
      continue
    pairs.append((source, target))
  bad = warn_skipped(path, bad)
  if not pairs:
    raise UserError(f"config field {field}={path!r} holds no valid line; expected UTF-8 lines "
                    f"source<TAB>target[<TAB>attribution] with both sides non-empty")
  return pairs, bad


def split_indices(n: int, valid_size: int, test_size: int, seed: int) -> dict:
  """A deterministic split of n examples: a seeded permutation, test first, then valid, the rest train."""
  if valid_size < 1 or test_size < 1 or valid_size + test_size >= n:
    raise UserError(f"config fields data.valid_size={valid_size} and data.test_size={test_size} must be positive "
                    f"and leave training examples out of {n} valid pairs")
  order = np.random.default_rng(seed).permutation(n)
  return {"test": np.sort(order[:test_size]), "valid": np.sort(order[test_size:test_size + valid_size]),
          "train": np.sort(order[test_size + valid_size:])}


def warn_overlap(train_pairs, held_out: dict) -> dict:
  """Counts training pairs that also occur in a held-out split ({split: pairs}); warns with the counts."""
  train = set(train_pairs)
  counts = {split: sum(p in train for p in pairs) for split, pairs in held_out.items()}
  for split, count in counts.items():
    if count:
      notes.warn(f"{count} of the {len(held_out[split])} {split} pairs also occur in the training file")
  return counts


class ParallelTsv(tfds.core.GeneratorBasedBuilder):
  """A TSV file of sentence pairs, split into train/valid/test, or three files (training, valid, test); one
  prepared copy per (file bytes, split)."""

  VERSION = tfds.core.Version("1.0.0")

  def __init__(self, *, path: str, valid_size: int = 500, test_size: int = 1000, seed: int = 0,
               valid_path: str = "", test_path: str = "", **kwargs):
    if bool(valid_path) != bool(test_path):
      raise UserError(f"config fields data.valid_path={valid_path!r} and data.test_path={test_path!r} go together: "
                      f"give both (held-out files) or neither (a seeded split of data.path)")
    files = {"data.path": path, "data.valid_path": valid_path, "data.test_path": test_path}
    for field, file in files.items():
      if file and not os.path.isfile(file):
        raise UserError(f"config field {field}={file!r} is not a file; expected a TSV of source<TAB>target lines")
    self._path, self._files = path, ({"valid": valid_path, "test": test_path} if valid_path else None)
    self._split = (int(valid_size), int(test_size), int(seed))
    h = hashlib.md5()
    for file in (path, valid_path, test_path):
      if file:
        with open(file, "rb") as f:
          for block in iter(lambda: f.read(1 << 24), b""):  # noqa: B023
            h.update(block)
    h.update(repr(self._split if self._files is None else "files").encode())
    super().__init__(config=tfds.core.BuilderConfig(name=h.hexdigest()[:12]), **kwargs)

  def _info(self):
    return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(dict(
        source=tfds.features.Text(), target=tfds.features.Text(), id=tfds.features.Scalar(dtype=np.int64))))

  def _split_generators(self, dl_manager):
    del dl_manager
    pairs, _ = read_tsv(self._path)
    if self._files is None:
      parts = split_indices(len(pairs), *self._split)
      return {split: self._generate_examples([pairs[i] for i in parts[split]]) for split in SPLITS}
    held_out = {split: read_tsv(file, f"data.{split}_path")[0] for split, file in self._files.items()}
    warn_overlap(pairs, held_out)
    return {"train": self._generate_examples(pairs)} | {
        split: self._generate_examples(held) for split, held in held_out.items()}

  def _generate_examples(self, pairs):
    for i, (source, target) in enumerate(pairs):
      yield i, dict(source=source, target=target, id=i)


def training_subset(n: int, max_pairs: int, seed: int) -> np.ndarray:
  """Indices of `max_pairs` of n training pairs drawn by `seed`, in file order (all n when max_pairs is 0)."""
  if max_pairs < 0:
    raise UserError(f"config field data.max_train_pairs={max_pairs} must be >= 0 (0 keeps every pair)")
  if not max_pairs or max_pairs >= n:
    return np.arange(n)
  return np.sort(np.random.default_rng([seed, 0x737562]).choice(n, max_pairs, replace=False))


# ---------------------------------------------------------------------------------------------------------------
# Loading


def read_records(source, fields) -> dict:
  """Every record of a TFDS data source as lists {name: [record[key], ...]}, in `id` order."""
  records = all_records(source)
  return {name: [r[key] for r in records] for name, key in fields.items()}


def builder_for(data_config):
  check_choice("data.name", data_config.name, NAMES)
  data_dir = data_config.get("tfds_data_dir") or default_tfds_dir()
  if data_config.name == "dates":
    return Dates(seed=data_config.get("seed", 0), sizes=tuple(data_config.sizes), data_dir=data_dir)
  if data_config.name == "tsv":
    if not data_config.get("path"):
      raise UserError("config field data.path is empty; expected a TSV file such as "
                      "../shared/data/tatoeba/cmn-eng.tsv")
    return ParallelTsv(path=data_config.path, valid_size=data_config.valid_size, test_size=data_config.test_size,
                       seed=data_config.get("seed", 0), valid_path=data_config.get("valid_path", ""),
                       test_path=data_config.get("test_path", ""), data_dir=data_dir)
  from tensorflow_datasets.translate import wmt14  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  return tfds.builder("wmt14_translate/fr-en", data_dir=data_dir)  # registered by importing its module


def load_parallel(data_config, split: str) -> dict:
  """{'source': [str], 'target': [str]} (dates add 'gold_start'/'gold_end' int32 [n, 10]) for one split."""
  check_choice("split", split, SPLITS)
  builder = builder_for(data_config)
  builder = prepare(builder)
  if data_config.name == "wmt14":
    wmt_split = {"valid": "validation"}.get(split, split)
    out = read_records(builder.as_data_source(split=wmt_split), {"source": "en", "target": "fr"})
  elif data_config.name == "dates":
    out = read_records(builder.as_data_source(split=split), {
        "source": "source", "target": "target", "gold_start": "gold_start", "gold_end": "gold_end"})
    out["gold_start"] = np.stack(out["gold_start"]).astype(np.int32)
    out["gold_end"] = np.stack(out["gold_end"]).astype(np.int32)
  else:
    out = read_records(builder.as_data_source(split=split), {"source": "source", "target": "target"})
  out["source"] = [as_text(t) for t in out["source"]]
  out["target"] = [as_text(t) for t in out["target"]]
  if split == "train" and data_config.get("max_train_pairs", 0):
    keep = training_subset(len(out["source"]), int(data_config.max_train_pairs), data_config.get("seed", 0))
    out = {k: [v[i] for i in keep] if isinstance(v, list) else v[keep] for k, v in out.items()}
  if data_config.get("reverse_direction", False):
    out["source"], out["target"] = out["target"], out["source"]
  return out
