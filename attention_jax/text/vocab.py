"""Token vocabularies: characters (the dates task), words (the paper's: the most frequent words of the tokenized
corpus, the rest <unk>) and SentencePiece (real text), one interface.

Ids 0-3 are reserved in both: 0 pad, 1 bos, 2 eos, 3 unk. `encode` returns ids without bos/eos; `decode` stops
at the first eos and skips pad/bos.
"""

import collections
import json
import os

import numpy as np
import sentencepiece as spm

from attention_jax import io_utils
from attention_jax.errors import UserError
from attention_jax.text.ids import BOS, EOS, PAD, SPECIALS, UNK


def _strip(ids):
  out = []
  for i in ids:
    i = int(i)
    if i == EOS:
      break
    if i not in (PAD, BOS):
      out.append(i)
  return out


class CharVocab:
  """One id per character seen in the training text."""

  def __init__(self, chars):
    self.chars = list(chars)
    self._index = {c: i + len(SPECIALS) for i, c in enumerate(self.chars)}

  @classmethod
  def build(cls, texts) -> "CharVocab":
    return cls(sorted(set("".join(texts))))

  def __len__(self):
    return len(SPECIALS) + len(self.chars)

  def encode(self, text: str) -> list:
    return [self._index.get(c, UNK) for c in text]

  def pieces(self, ids) -> list:
    """The token strings of ids (for heat-map labels)."""
    return [SPECIALS[i] if i < len(SPECIALS) else self.chars[i - len(SPECIALS)] for i in map(int, ids)]

  def decode(self, ids) -> str:
    return "".join(self.pieces(_strip(ids)))

  def save(self, path: str) -> None:
    io_utils.atomic_write_json(path, {"chars": self.chars})

  @classmethod
  def load(cls, path: str) -> "CharVocab":
    with open(path, encoding="utf-8") as f:
      return cls(json.load(f)["chars"])


class WordVocab:
  """The `size` - 4 most frequent whitespace-separated words of the training text (ties in alphabetical order);
  every other word is <unk>, as in Bahdanau et al. (30,000 words a side on tokenized WMT'14)."""

  def __init__(self, words):
    self.words = list(words)
    self._index = {w: i + len(SPECIALS) for i, w in enumerate(self.words)}

  @classmethod
  def build(cls, texts, size: int, field: str = "", min_count: int = 1) -> "WordVocab":
    """Words seen fewer than `min_count` times stay <unk> too (so that <unk> is trained on the rare words)."""
    if size <= len(SPECIALS):
      raise UserError(f"config field {field or 'vocab size'}={size} must exceed the {len(SPECIALS)} reserved ids")
    counts = collections.Counter(w for t in texts for w in t.split())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return cls([w for w, n in ranked[:size - len(SPECIALS)] if n >= min_count])

  def __len__(self):
    return len(SPECIALS) + len(self.words)

  def encode(self, text: str) -> list:
    return [self._index.get(w, UNK) for w in text.split()]

  def pieces(self, ids) -> list:
    return [SPECIALS[i] if i < len(SPECIALS) else self.words[i - len(SPECIALS)] for i in map(int, ids)]

  def decode(self, ids) -> str:
    return " ".join(self.pieces(_strip(ids)))


class SentencePieceVocab:
  """A SentencePiece model trained with pad/bos/eos/unk at ids 0-3."""

  def __init__(self, model_path: str):
    self.model_path = model_path
    self._sp = spm.SentencePieceProcessor(model_file=model_path)
    if (self._sp.pad_id(), self._sp.bos_id(), self._sp.eos_id(), self._sp.unk_id()) != (PAD, BOS, EOS, UNK):
      raise UserError(f"SentencePiece model {model_path} does not reserve ids 0-3 for pad/bos/eos/unk; delete it "
                      f"so that it is trained again")

  def __len__(self):
    return self._sp.get_piece_size()

  def encode(self, text: str) -> list:
    return self._sp.encode(text)

  def pieces(self, ids) -> list:
    return [self._sp.id_to_piece(int(i)) for i in ids]

  def decode(self, ids) -> str:
    return self._sp.decode(_strip(ids))


def train_sentencepiece(texts, model_path: str, vocab_size: int, character_coverage: float = 1.0,
                        model_type: str = "unigram", fields: str = "") -> SentencePieceVocab:
  """Trains (once) and returns a SentencePiece model of `texts`; written atomically beside the prepared data."""
  if os.path.exists(model_path):
    return SentencePieceVocab(model_path)
  os.makedirs(os.path.dirname(model_path), exist_ok=True)
  prefix = model_path[:-len(".model")] + f".tmp{os.getpid()}"
  texts = [t for t in texts if t]
  try:
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=prefix, vocab_size=vocab_size, model_type=model_type,
        character_coverage=character_coverage, pad_id=PAD, bos_id=BOS, eos_id=EOS, unk_id=UNK,
        hard_vocab_limit=False, num_threads=2, minloglevel=2, input_sentence_size=2_000_000,
        normalization_rule_name="identity",  # decode(encode(t)) == t, so BLEU sees the references' own characters
        shuffle_input_sentence=True)
  except RuntimeError as e:
    hint = f" (config fields {fields})" if fields else ""
    raise UserError(f"could not train a SentencePiece model of {vocab_size} pieces{hint} for {model_path}: "
                    f"{e}") from e
  os.replace(prefix + ".model", model_path)
  os.remove(prefix + ".vocab")
  return SentencePieceVocab(model_path)


def encode_padded(vocab, texts, max_len: int, add_eos: bool):
  """Encodes texts into int32 [n, max_len] (pad 0) and lengths [n]; longer ones are cut (callers filter first)."""
  out = np.zeros((len(texts), max_len), np.int32)
  lengths = np.zeros(len(texts), np.int32)
  for i, text in enumerate(texts):
    ids = vocab.encode(text)[:max_len - int(add_eos)] + ([EOS] if add_eos else [])
    out[i, :len(ids)] = ids
    lengths[i] = len(ids)
  return out, lengths
