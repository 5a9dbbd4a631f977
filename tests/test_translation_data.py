"""Translation data (dates with gold spans, TSV files, WMT'14 through mock data), vocabularies, BLEU, the
translation task end to end, and 1 vs 8 devices."""

import collections
import datetime
import json
import logging as py_logging
import os
import re
import warnings

import ml_collections
import numpy as np
import pytest
import sacrebleu
import tensorflow_datasets as tfds

from attention_jax import plotting
from attention_jax.data import translation
from attention_jax.errors import UserError
from attention_jax.nmt import reports
from attention_jax.text import vocab as vocab_lib
from attention_jax.tasks import translation as task_lib
from attention_jax.training import loop
from tests import helpers
from tests.conftest import SHARED_TATOEBA


def data_config(**fields):
  return ml_collections.ConfigDict(dict(tfds_data_dir=os.environ["ATTENTION_JAX_TFDS_DIR"]) | fields)


def test_dates_gold_spans_point_at_the_fields_and_every_source_has_one_translation():
  dates = translation.load_parallel(data_config(name="dates", sizes=(3000, 20, 20), seed=0), "train")
  formats = collections.Counter()
  translations = collections.defaultdict(set)
  for src, tgt, start, end in zip(dates["source"], dates["target"], dates["gold_start"], dates["gold_end"]):
    day = datetime.date.fromisoformat(tgt)
    translations[src].add(tgt)
    assert (start[[4, 7]] == -1).all() and (start[[0, 5, 8]] >= 0).all()
    year, month, day_span = src[start[0]:end[0]], src[start[5]:end[5]], src[start[8]:end[8]]
    assert year in (str(day.year), f"{day.year % 100:02d}")
    assert day_span.lstrip("0") == str(day.day)
    if month.isdigit():
      assert int(month) == day.month
    formats[len(year)] += 1
  assert all(len(v) == 1 for v in translations.values())
  assert formats[2] > 100 and formats[4] > 1000  # both two- and four-digit years occur
  # Deterministic by seed: a second builder with the same seed gives the same text.
  again = translation.load_parallel(data_config(name="dates", sizes=(3000, 20, 20), seed=0), "test")
  assert again["source"] == translation.load_parallel(data_config(name="dates", sizes=(3000, 20, 20), seed=0),
                                                      "test")["source"]


def test_render_date_spans():
  text, spans = translation.render_date(datetime.date(2015, 3, 3), "zh_CN", "long")
  assert text == "2015年3月3日" and text[slice(*spans["year"])] == "2015" and text[slice(*spans["day"])] == "3"
  text, spans = translation.render_date(datetime.date(2015, 3, 3), "de_DE", "short")
  assert text == "03.03.15" and spans == {"day": (0, 2), "month": (3, 5), "year": (6, 8)}


def write(path, data: bytes):
  path.write_bytes(data)
  return str(path)


def test_tsv_skips_and_counts_bad_lines_and_refuses_a_file_with_none(tmp_path, caplog):
  lines = [b"Hi.\tSalut.\tCC-BY 2.0 (France) Attribution: tatoeba.org", b"no tab here", b"\tempty source",
           b"Run!\tCours !", b"bad \xff\xfe bytes\tx", b"", b"Wow!\tWah !"]
  path = write(tmp_path / "pairs.tsv", b"\n".join(lines) + b"\n")
  with caplog.at_level(py_logging.WARNING):
    pairs, bad = translation.read_tsv(path)
  assert pairs == [("Hi.", "Salut."), ("Run!", "Cours !"), ("Wow!", "Wah !")]
  assert bad == {"no tab": [2], "empty side": [3], "invalid UTF-8": [5]}
  assert "skipped 3 bad lines" in caplog.text and "lines 5" in caplog.text
  with pytest.raises(UserError, match="holds no valid line"):
    translation.read_tsv(write(tmp_path / "bad.tsv", b"a\nb\t\n\xff\tx\n\t\n"))
  with pytest.raises(UserError, match="data.path='/nope.tsv' is not a file"):
    translation.load_parallel(data_config(name="tsv", path="/nope.tsv", valid_size=1, test_size=1), "train")


def test_a_byte_order_mark_does_not_stay_in_the_first_source(tmp_path):
  pairs, bad = translation.read_tsv(write(tmp_path / "bom.tsv", "\ufeffGo.\tVa !\nHi.\tSalut.\n".encode("utf-8")))
  assert pairs == [("Go.", "Va !"), ("Hi.", "Salut.")] and not bad


def test_tatoeba_split_is_deterministic_disjoint_and_complete():
  path = os.path.join(SHARED_TATOEBA, "eng-fra-5k.tsv")
  config = data_config(name="tsv", path=path, valid_size=300, test_size=500, seed=0)
  parts = {s: translation.load_parallel(config, s) for s in translation.SPLITS}
  assert [len(parts[s]["source"]) for s in ("train", "valid", "test")] == [4200, 300, 500]
  assert translation.load_parallel(config, "test") == parts["test"]  # the same split every time
  indices = translation.split_indices(5000, 300, 500, 0)
  assert not set(indices["train"]) & set(indices["test"]) and len(np.unique(np.concatenate(
      list(indices.values())))) == 5000
  with pytest.raises(UserError, match="data.valid_size=4000 and data.test_size=1000"):
    translation.split_indices(5000, 4000, 1000, 0)


def test_wmt14_through_mock_data():
  with tfds.testing.mock_data(num_examples=6):
    out = translation.load_parallel(data_config(name="wmt14"), "valid")
  assert len(out["source"]) == len(out["target"]) == 6
  assert all(isinstance(s, str) for s in out["source"] + out["target"])


def test_char_and_sentencepiece_round_trips(tmp_path):
  texts = ["Tuesday, March 3, 2015", "2015年3月3日", "3 мар. 2015 г."]
  chars = vocab_lib.CharVocab.build(texts)
  for t in texts:
    assert chars.decode(chars.encode(t) + [2, 5, 6]) == t  # decoding stops at eos
  pairs, _ = translation.read_tsv(os.path.join(SHARED_TATOEBA, "cmn-eng.tsv"))
  for side, size, coverage in ((0, 1000, 1.0), (1, 2500, 0.9995)):
    sp = vocab_lib.train_sentencepiece([p[side] for p in pairs[:5000]], str(tmp_path / f"s{side}.model"), size,
                                       coverage)
    for text in [p[side] for p in pairs[:50]]:
      ids = sp.encode(text)
      assert min(ids) > 3 or 3 in ids  # specials are reserved
      if 3 not in ids:
        assert sp.decode(ids) == text
    assert sp.encode("")[:1] == [] and len(sp) <= size


def test_bleu_by_length_equals_sacrebleu_on_each_bin():
  hyps = ["the cat sat on the mat", "a dog", "it is raining today in paris", "hello"]
  refs = ["the cat sat on a mat", "the dog", "it rains today in paris", "hello there"]
  rows = reports.bleu_by_length([6, 2, 6, 1], hyps, refs, [0, 3, 10], "13a")
  assert [r["sentences"] for r in rows] == [2, 2]
  assert rows[0]["bleu"] == pytest.approx(sacrebleu.corpus_bleu([hyps[1], hyps[3]], [[refs[1], refs[3]]]).score)
  assert rows[1]["bleu"] == pytest.approx(sacrebleu.corpus_bleu([hyps[0], hyps[2]], [[refs[0], refs[2]]]).score)


def _corrupted(sentence: str, rate: float, rng) -> str:
  return " ".join(f"w{rng.integers(1000, 2000)}" if rng.random() < rate else w for w in sentence.split())


def test_paired_bootstrap_finds_the_gap_only_where_there_is_one():
  from attention_jax.nmt import significance  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  lengths = rng.integers(3, 21, size=400)
  refs = [" ".join(f"w{rng.integers(0, 60)}" for _ in range(n)) for n in lengths]
  # Short sentences: both systems corrupt 30% of the words (independently); long ones: the system only 10%.
  baseline = [_corrupted(r, 0.3, rng) for r in refs]
  system = [_corrupted(r, 0.3 if n < 10 else 0.1, rng) for r, n in zip(refs, lengths)]
  rows = significance.paired_bleu_by_length(lengths, baseline, system, refs, [(0, 9), (10, 20)], "13a")
  short, long, everything = rows
  assert (short["min_len"], short["max_len"], long["min_len"], everything["min_len"]) == (0, 9, 10, None)
  assert short["sentences"] + long["sentences"] == everything["sentences"] == 400
  members = [i for i, n in enumerate(lengths) if n >= 10]
  for key, hyps in (("baseline_bleu", baseline), ("system_bleu", system)):
    expected = sacrebleu.corpus_bleu([hyps[i] for i in members], [[refs[i] for i in members]]).score
    assert long[key] == pytest.approx(expected)
  assert long["gap"] == pytest.approx(long["system_bleu"] - long["baseline_bleu"])
  assert long["gap"] > 20 and long["p_value"] < 0.01  # a real gap
  assert abs(short["gap"]) < 5 and short["p_value"] > 0.05  # chance
  assert 0 < long["system_ci"] < 10 and 0 < long["baseline_ci"] < 10


def test_translation_results_refuse_translations_without_the_length_column(tmp_path):
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  (tmp_path / "translations_test.tsv").write_text("a b\tx y\tx y\n", encoding="utf-8")
  with pytest.raises(UserError, match="older experiments.evaluate"):
    results.load_translations(str(tmp_path))
  with pytest.raises(UserError, match="holds no translations_test.tsv"):
    results.load_translations(str(tmp_path / "nope"))


def test_bucketed_batches_have_fixed_shapes_and_cover_each_epoch_once():
  from attention_jax.data import pipeline  # pylint: disable=g-import-not-at-top
  buckets = np.array([0, 1, 1, 2, 0, 1, 2, 2, 1, 0, 1, 2, 0] * 5)
  batches = pipeline._BucketedEpochBatches(buckets, 4, seed=0)  # pylint: disable=protected-access
  assert batches.steps_per_epoch == sum(int(np.sum(buckets == b)) // 4 for b in range(3))
  epoch = [batches(i) for i in range(batches.steps_per_epoch)]
  indices = np.concatenate([ix for ix, _ in epoch])
  assert len(np.unique(indices)) == len(indices)  # no example twice in an epoch
  assert all((buckets[ix] == b).all() for ix, b in epoch)
  assert [b for _, b in epoch] != [b for _, b in batches.epoch_batches(1)]  # a fresh order every epoch
  config = helpers.tiny_translation_config()
  task = loop.build_trainer(config).task
  lengths = task_lib.bucket_lengths(config.data)
  shapes = set()
  for i in range(20):
    batch = task.train_data[i]
    shapes.add(batch["src"].shape)
    assert batch["src"].shape == batch["tgt"].shape and batch["src"].shape[1] in lengths
    assert (np.maximum(batch["src_len"], batch["tgt_len"]) <= batch["src"].shape[1]).all()
  assert 1 < len(shapes) <= len(lengths)


def test_translation_eight_devices_equal_one_device():
  small = {"data.buckets": (), "data.sizes": (200, 16, 16)}
  start, one = helpers.train_steps(helpers.tiny_translation_config(num_devices=1, **small), 3, with_start=True)
  pmapped = helpers.train_steps(helpers.tiny_translation_config(parallel="pmap", num_devices=8, **small), 3)
  sharded = helpers.train_steps(helpers.tiny_translation_config(num_devices=8, **small), 3)
  assert int(one.step) == 3 and helpers.max_abs_diff(one.params, start.params) > 1e-3
  assert helpers.max_abs_diff(one.params, pmapped.params) < 1e-5
  assert helpers.max_abs_diff(one.params, sharded.params) < 1e-5


def test_train_and_evaluate_binaries_write_bleu_translations_and_heatmaps(tmp_path):
  workdir = str(tmp_path / "dates")
  args = ["--config=experiments/configs/nmt_dates.py:rnnsearch", f"--workdir={workdir}",
          "--config.model.embed=16", "--config.model.hidden=24", "--config.model.maxout=12",
          "--config.model.alignment=16", "--config.data.sizes=(400,40,40)", "--config.data.buckets=()", "--config.batch_size=16",
          "--config.eval_batch_size=40", "--config.num_train_steps=4", "--config.eval_every_steps=4",
          f"--config.data.tfds_data_dir={os.environ['ATTENTION_JAX_TFDS_DIR']}", "--config.decode.method=beam",
          "--config.decode.beam_size=3", "--config.num_heatmaps=2", "--config.optimizer.warmup_steps=0"]
  env = {"ATTENTION_JAX_CPU_DEVICES": "2"}
  result = helpers.run_binary("experiments.train", *args, env_extra=env)
  assert result.returncode == 0, result.stderr[-3000:]
  result = helpers.run_binary("experiments.evaluate", f"--workdir={workdir}", env_extra=env)
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
    report = json.load(f)
  assert report["step"] == 4 and report["decode"] == "beam 3, alpha 0.0"
  rows = [line.rstrip("\n").split("\t") for line in open(os.path.join(workdir, "translations_test.tsv"),
                                                           encoding="utf-8")]
  assert len(rows) == 40
  assert all(len(r) == 4 for r in rows)  # source, reference, hypothesis (maybe empty), source length in tokens
  hyps = [r[2] for r in rows]
  expected = sacrebleu.corpus_bleu(hyps, [[r[1] for r in rows]], tokenize="char").score
  assert report["bleu"] == pytest.approx(expected)
  assert 0 <= report["alignment_accuracy"] <= 1 and 0 <= report["exact_match"] <= 1
  assert sum(r["sentences"] for r in report["bleu_by_source_length"]) == 40
  for b in report["bleu_by_source_length"]:  # the length column puts every sentence in its reported bin
    assert sum(b["min_len"] <= int(r[3]) <= b["max_len"] for r in rows) == b["sentences"]
  for name in ("alignment_0.png", "alignment_1.png", "bleu_by_length.png", "training_curves.png"):
    assert os.path.getsize(os.path.join(workdir, "plots", name)) > 1000
  out = str(tmp_path / "both.png")
  result = helpers.run_binary("experiments.compare_lengths", f"--workdirs={workdir},{workdir}", f"--out={out}")
  assert result.returncode == 0 and os.path.getsize(out) > 1000, result.stderr[-2000:]
  assert "rnnsearch (dates)" in result.stdout
  with open(str(tmp_path / "both_significance.json"), encoding="utf-8") as f:
    tested = json.load(f)  # the run against itself: no gap anywhere, every sentence counted once in "all"
  by_bin = tested["systems"]["rnnsearch (dates)"]
  assert tested["baseline"] == "rnnsearch" and all(r["gap"] == 0 for r in by_bin)
  assert by_bin[-1]["min_len"] is None and by_bin[-1]["sentences"] == 40
  result = helpers.run_binary("experiments.compare_lengths", f"--workdirs={workdir},{workdir}", f"--out={out}",
                              "--names=RNNsearch-30,RNNsearch-50", "--nosignificance")
  assert result.returncode == 0 and "RNNsearch-50 " in result.stdout and "RNNsearch-30 " in result.stdout
  result = helpers.run_binary("experiments.compare_lengths", f"--workdirs={workdir},{workdir}", f"--out={out}",
                              "--names=a")
  assert result.returncode == 2 and "--names gives 1 names for 2 --workdirs entries" in result.stderr
  result = helpers.run_binary("experiments.compare_lengths", f"--workdirs={tmp_path}", f"--out={out}")
  assert result.returncode == 2 and "holds no eval.json" in result.stderr


def test_cjk_heatmap_renders_every_glyph(tmp_path):
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    path = plotting.alignment_heatmap(np.eye(3, 4), ["▁I", "'m", "▁OK", "."], ["我", "没事", "。"],
                                      str(tmp_path / "cjk.png"))
  assert os.path.getsize(path) > 1000
  assert not [w for w in caught if "missing from font" in str(w.message) or "Glyph" in str(w.message)]


@pytest.mark.parametrize("field,value,message", [
    ("model.name", "transformer", "model.name='transformer' is not known"),
    ("data.tokenizer", "bpe", "data.tokenizer='bpe' is not known"),
    ("decode.method", "sample", "decode.method='sample' is not known"),
    ("data.buckets", (0, 5), "data.buckets=(0, 5): every entry must be an integer >= 1"),
    ("data.max_len", 5, "every pair of the train split is longer than config field data.max_len=5"),
])
def test_bad_translation_fields(field, value, message):
  with pytest.raises(UserError, match=re.escape(message)):
    loop.build_trainer(helpers.tiny_translation_config(**{field: value}))
