"""Attention-based BiLSTM text classification: the model's masks and formula, the labelled-TSV data, training on
1 and 8 devices, and the attention report."""

import gzip
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attention_jax.data import text_classification as text_data
from attention_jax.errors import UserError
from attention_jax.models import registry
from attention_jax.models.text_classifier import POOLINGS, TextClassifier, word_dropout
from attention_jax.models.text_cnn import TextCNN
from attention_jax.text.ids import UNK
from attention_jax.training import loop
from tests import helpers


def _sentences(lengths, max_len, seed=0):
  rng = np.random.default_rng(seed)
  tokens = np.zeros((len(lengths), max_len), np.int32)
  for i, n in enumerate(lengths):
    tokens[i, :n] = rng.integers(4, 50, n)
  return tokens, np.asarray(lengths, np.int32)


@pytest.mark.parametrize("cell,num_layers,skip", [("lstm", 1, False), ("gru", 2, True)])  # each option once
@pytest.mark.parametrize("pooling", POOLINGS)
def test_outputs_do_not_depend_on_padding(pooling, cell, num_layers, skip):
  skip = skip and pooling != "last"  # 'last' pools final states only
  model = TextClassifier(vocab_size=50, num_classes=3, embed_size=8, hidden=6, attention_size=5, pooling=pooling,
                         cell=cell, num_layers=num_layers, skip_embeddings=skip)
  tokens, lengths = _sentences([3, 7, 1, 10], 10)
  params = model.init(jax.random.PRNGKey(0), tokens, lengths)["params"]
  logits = model.apply({"params": params}, tokens, lengths)
  # 15 more positions, holding real word ids (not pad) past each sentence's length: nothing may read them.
  longer = np.concatenate([tokens, np.random.default_rng(1).integers(4, 50, (4, 15)).astype(np.int32)], 1)
  np.testing.assert_allclose(logits, model.apply({"params": params}, longer, lengths), atol=1e-6)
  one_by_one = [model.apply({"params": params}, tokens[i:i + 1, :n], lengths[i:i + 1]) for i, n in
                enumerate(lengths)]
  np.testing.assert_allclose(logits, np.concatenate(one_by_one), atol=1e-5)  # each alone, unpadded


def test_attention_weights_sum_to_one_are_zero_on_padding_and_follow_yangs_formula():
  model = TextClassifier(vocab_size=50, num_classes=2, embed_size=8, hidden=6, attention_size=5)
  tokens, lengths = _sentences([3, 7, 1, 10], 12)
  params = model.init(jax.random.PRNGKey(0), tokens, lengths)["params"]
  _, state = model.apply({"params": params}, tokens, lengths, mutable=["intermediates"])
  weights = np.asarray(state["intermediates"]["attention"][0])  # [4, 12]
  np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
  pad = np.arange(12)[None, :] >= lengths[:, None]
  assert (weights[pad] == 0.0).all() and (weights[~pad] > 0).all()
  # u_t = tanh(U h_t + b + W q), alpha = softmax(u . v) over the real words, from the parameters by hand.
  states = _bilstm_states(model, params, tokens, lengths)
  p = params["pool"]
  u = np.tanh(states @ np.asarray(p["attention"]["U"]["kernel"]) + np.asarray(p["attention"]["U"]["bias"])
              + np.asarray(p["query"]) @ np.asarray(p["attention"]["W"]["kernel"]))
  scores = np.where(pad, -np.inf, u @ np.asarray(p["attention"]["v"]))
  expected = np.exp(scores - scores.max(1, keepdims=True))
  np.testing.assert_allclose(weights, expected / expected.sum(1, keepdims=True), atol=1e-5)


def _bilstm_states(model, params, tokens, lengths):
  """h_t = [forward; backward] states [b, s, 2n], captured from the two recurrent modules."""
  _, state = model.apply({"params": params}, tokens, lengths, mutable=["intermediates"],
                         capture_intermediates=lambda mdl, method: mdl.name in ("forward", "backward"))
  inter = state["intermediates"]
  return np.concatenate([np.asarray(inter[d]["__call__"][0][1]) for d in ("forward", "backward")], -1)


def test_attention_gradients_match_finite_differences():
  model = TextClassifier(vocab_size=30, num_classes=2, embed_size=4, hidden=3, attention_size=3,
                         embed_dropout=0.0, output_dropout=0.0)
  tokens, lengths = _sentences([4, 2], 5)
  tokens = np.minimum(tokens, 29)
  params = model.init(jax.random.PRNGKey(1), tokens, lengths)["params"]
  loss = lambda q: jnp.sum(jax.nn.log_softmax(model.apply(
      {"params": params | {"pool": params["pool"] | {"query": q}}}, tokens, lengths))[:, 0])
  q = params["pool"]["query"]
  grad = np.asarray(jax.grad(loss)(q))
  eps = 1e-2
  for i in range(q.shape[0]):
    e = np.zeros(q.shape, np.float32)
    e[i] = eps
    numeric = (float(loss(q + e)) - float(loss(q - e))) / (2 * eps)
    assert abs(numeric - grad[i]) < 2e-3 + 0.02 * abs(grad[i]), (i, numeric, grad[i])


def test_dropout_is_per_example_and_off_at_evaluation():
  model = TextClassifier(vocab_size=50, num_classes=2, embed_size=8, hidden=6)
  tokens, lengths = _sentences([5, 5], 6)
  tokens[1] = tokens[0]
  params = model.init(jax.random.PRNGKey(0), tokens, lengths)["params"]
  keys = jax.random.split(jax.random.PRNGKey(3), 2)
  out = model.apply({"params": params}, tokens, lengths, keys)
  assert not np.allclose(out[0], out[1])  # the same sentence, its own mask
  again = model.apply({"params": params}, tokens[1:], lengths[1:], keys[1:])
  np.testing.assert_allclose(out[1:], again, atol=1e-6)  # a mask depends on the example's key only
  plain = model.apply({"params": params}, tokens, lengths)
  np.testing.assert_allclose(plain[0], plain[1], atol=1e-6)


def test_word_dropout_reads_real_words_as_unk_per_example_and_never_touches_padding():
  tokens, lengths = _sentences([6, 3, 9, 1] * 50, 9)  # ids 4..49: none is <unk> (3) before dropout
  keys = jax.random.split(jax.random.PRNGKey(0), len(lengths))
  dropped = np.asarray(word_dropout(tokens, lengths, 0.25, keys, stream=2))
  real = np.arange(9)[None, :] < lengths[:, None]
  assert (dropped[~real] == 0).all()  # padding stays padding
  changed = dropped != tokens
  assert (dropped[changed] == UNK).all() and not changed[~real].any()
  assert abs(changed[real].mean() - 0.25) < 0.04  # 1,900 real words, rate 0.25
  np.testing.assert_array_equal(word_dropout(tokens[5:6], lengths[5:6], 0.25, keys[5:6], 2), dropped[5:6])
  np.testing.assert_array_equal(word_dropout(tokens, lengths, 0.25, None, 2), tokens)  # evaluation
  model = TextClassifier(vocab_size=50, num_classes=2, embed_size=8, hidden=6, word_dropout=0.25, embed_dropout=0.0,
                         output_dropout=0.0)
  params = model.init(jax.random.PRNGKey(0), tokens[:4], lengths[:4])["params"]
  expected = model.apply({"params": params}, dropped[:4], lengths[:4])  # the model reads the dropped ids
  np.testing.assert_allclose(model.apply({"params": params}, tokens[:4], lengths[:4], keys[:4]), expected,
                             atol=1e-6)


def test_registry_builds_the_family_and_names_bad_fields():
  model = registry.build({"name": "text_classifier", "pooling": "max", "hidden": 7}, vocab_size=9, num_classes=2)
  assert isinstance(model, TextClassifier) and model.hidden == 7
  tokens, lengths = _sentences([2], 3)
  with pytest.raises(UserError, match="model.num_layers must be at least 1"):
    registry.build({"name": "text_classifier", "num_layers": 0}, vocab_size=50, num_classes=2).init(
        jax.random.PRNGKey(0), tokens, lengths)
  with pytest.raises(UserError, match="model.skip_embeddings .* model.pooling='last'"):
    registry.build({"name": "text_classifier", "pooling": "last", "skip_embeddings": True}, vocab_size=50,
                   num_classes=2).init(jax.random.PRNGKey(0), tokens, lengths)
  with pytest.raises(UserError, match="model.pooling='sum' is not known"):
    registry.build({"name": "text_classifier", "pooling": "sum"}, vocab_size=50, num_classes=2).init(
        jax.random.PRNGKey(0), tokens, lengths)


def test_cnn_rand_follows_kims_formula_and_ignores_padding():
  """c_i = relu(w . x_{i:i+h-1} + b) over windows zero-padded by h-1 at both ends, max over the windows that hold a
  real word, then the classifier: by hand from the parameters; padding (even real ids past the length) unseen."""
  model = TextCNN(vocab_size=50, num_classes=3, embed_size=6, widths=(2, 4), num_filters=5)
  tokens, lengths = _sentences([3, 7, 1, 10], 10)
  params = model.init(jax.random.PRNGKey(0), tokens, lengths)["params"]
  logits = np.asarray(model.apply({"params": params}, tokens, lengths))
  longer = np.concatenate([tokens, np.random.default_rng(1).integers(4, 50, (4, 15)).astype(np.int32)], 1)
  np.testing.assert_allclose(logits, model.apply({"params": params}, longer, lengths), atol=1e-6)
  table = np.asarray(params["embed"]["embedding"])
  for i, n in enumerate(lengths):
    pooled = []
    for h in (2, 4):
      kernel, bias = np.asarray(params[f"conv{h}"]["kernel"]), np.asarray(params[f"conv{h}"]["bias"])  # [h, 6, 5]
      x = np.concatenate([np.zeros((h - 1, 6)), table[tokens[i, :n]], np.zeros((h - 1, 6))])
      c = [np.maximum(np.einsum("hd,hdf->f", x[j:j + h], kernel) + bias, 0) for j in range(n + h - 1)]
      pooled.append(np.max(c, axis=0))
    dense = params["classifier"]
    expected = np.concatenate(pooled) @ np.asarray(dense["kernel"]) + np.asarray(dense["bias"])
    np.testing.assert_allclose(logits[i], expected, atol=1e-5)


# Data --------------------------------------------------------------------------------------------------------


def test_labelled_tsv_skips_and_counts_bad_lines_and_reads_gzip(tmp_path):
  raw = "\ufeffpos\ta fine film\nno tab here\n\tno label\nneg\t \n".encode() + b"neg\t\xff\xfe bad\n" + \
      "neg\ta dull one\n".encode()
  (tmp_path / "t.tsv").write_bytes(raw)
  rows, bad = text_data.read_labelled_tsv(str(tmp_path / "t.tsv"), "data.train_path")
  assert rows == [("pos", "a fine film"), ("neg", "a dull one")]
  assert bad == {"no tab": [2], "empty label or sentence": [3, 4], "invalid UTF-8": [5]}
  (tmp_path / "t.tsv.gz").write_bytes(gzip.compress(raw))
  assert text_data.read_labelled_tsv(str(tmp_path / "t.tsv.gz"), "data.train_path")[0] == rows
  (tmp_path / "empty.tsv").write_text("just words\n")
  with pytest.raises(UserError, match=r"data.test_path='.*empty.tsv' holds no valid line"):
    text_data.read_labelled_tsv(str(tmp_path / "empty.tsv"), "data.test_path")


def test_folds_partition_the_data_and_depend_on_the_seed():
  tests = [text_data.fold_indices(103, 10, k, seed=0)["test"] for k in range(10)]
  assert sorted(np.concatenate(tests).tolist()) == list(range(103))  # disjoint and complete
  assert {len(t) for t in tests} == {10, 11}
  fold = text_data.fold_indices(103, 10, 3, seed=0)
  assert not set(fold["train"]) & set(fold["test"]) and len(fold["train"]) + len(fold["test"]) == 103
  assert not np.array_equal(fold["test"], text_data.fold_indices(103, 10, 3, seed=1)["test"])
  with pytest.raises(UserError, match="data.num_folds=10 and data.fold=10"):
    text_data.fold_indices(103, 10, 10, seed=0)


def test_load_builds_labels_vocabulary_and_padding_from_the_training_file(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "cues")
  arrays, vocab, classes, sentences = text_data.load(config.data)
  assert classes == ["ask", "neg", "pos"] and set(arrays) == {"train", "test"}
  longest = max(len(s.split()) for s in sentences["train"])
  assert arrays["train"]["tokens"].shape == (600, longest) and arrays["test"]["tokens"].shape[1] == longest
  first = sentences["test"][0].split()
  assert vocab.pieces(arrays["test"]["tokens"][0][:len(first)]) == first  # every word known here
  assert arrays["test"]["lengths"][0] == len(first) and (arrays["test"]["tokens"][0][len(first):] == 0).all()


def test_lowercase_and_min_count_shape_the_vocabulary(tmp_path):
  (tmp_path / "train.tsv").write_text("a\tWhat is it ?\nb\twhat is Rare ?\na\tWho is it ?\n")
  (tmp_path / "test.tsv").write_text("a\tWHAT is new ?\n")
  config = helpers.tiny_textcls_config(tmp_path / "cues", **{"data.train_path": str(tmp_path / "train.tsv"),
                                                             "data.test_path": str(tmp_path / "test.tsv")})
  _, vocab, _, _ = text_data.load(config.data)
  assert set(vocab.words) == {"What", "what", "Who", "Rare", "is", "it", "?"}  # cased, every training word
  config.data.update(lowercase=True, min_count=2)
  arrays, vocab, _, sentences = text_data.load(config.data)
  assert set(vocab.words) == {"what", "is", "it", "?"}  # "who" and "rare" are seen once: <unk>
  assert sentences["test"] == ["what is new ?"]
  assert vocab.pieces(arrays["test"]["tokens"][0][:4]) == ["what", "is", "<unk>", "?"]
  config.data.min_count = 0
  with pytest.raises(UserError, match="data.min_count=0 must be >= 1"):
    text_data.load(config.data)


def test_a_test_label_the_training_file_lacks_is_an_error_naming_it(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "cues")
  (tmp_path / "odd.tsv").write_text("neg\tawful w1\nodd\tw2 w3\n")
  config.data.test_path = str(tmp_path / "odd.tsv")
  with pytest.raises(UserError, match=r"test split \(data.test_path\) has label 'odd'.*\['ask', 'neg', 'pos'\]"):
    text_data.load(config.data)


def test_cross_validation_when_there_is_no_test_file(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "cues", **{"data.test_path": "", "data.num_folds": 10,
                                                             "data.fold": 2})
  arrays, _, _, sentences = text_data.load(config.data)
  assert len(sentences["test"]) == 60 and len(sentences["train"]) == 540
  assert sorted(sentences["test"] + sentences["train"]) == sorted(
      text_data.read_labelled_tsv(config.data.train_path, "data.train_path")[0][i][1] for i in range(600))
  from attention_jax import tasks  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match=r"split 'valid' is not in this data .* it has \['test', 'train'\]"):
    tasks.build(config).eval_batches("valid")
  config.data.num_folds = 0
  with pytest.raises(UserError, match="data.test_path is empty and data.num_folds < 2"):
    text_data.load(config.data)


# Training ----------------------------------------------------------------------------------------------------


def test_eight_devices_equal_one_device(tmp_path):
  params = {}
  for name, parallel, n in (("one", "sharding", 1), ("pmap", "pmap", 8), ("sharding", "sharding", 8)):
    config = helpers.tiny_textcls_config(tmp_path / "cues", parallel=parallel, num_devices=n, num_train_steps=3,
                                         **{"data.buckets": ()})  # one batch shape: one compilation per trainer
    params[name] = helpers.train_steps(config, 3)
  assert helpers.max_abs_diff(params["one"].params, params["pmap"].params) < 1e-5
  assert helpers.max_abs_diff(params["one"].params, params["sharding"].params) < 1e-5


def test_cnn_rand_trains_on_the_same_pipeline_and_offers_no_attention_report(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "cues", num_devices=1, num_train_steps=100, eval_every_steps=100,
                                       checkpoint_every_steps=100, log_every_steps=50)
  config.model = dict(name="text_cnn", embed_size=16, widths=(2, 3), num_filters=8)
  config.optimizer.learning_rate = 1e-2
  loop.train_and_evaluate(config, str(tmp_path / "w"))
  result = loop.evaluate_checkpoint(str(tmp_path / "w"))
  assert result["accuracy"] > 0.95 and "attention_top3_share" not in result
  assert not (tmp_path / "w" / "plots" / "word_attention.png").exists()


def test_training_finds_the_cue_words_and_evaluate_reports_them(tmp_path):
  config = helpers.tiny_textcls_config(tmp_path / "cues", num_devices=1, num_train_steps=150, eval_every_steps=150,
                                       checkpoint_every_steps=150, log_every_steps=50)
  config.optimizer.learning_rate = 1e-2
  loop.train_and_evaluate(config, str(tmp_path / "w"))
  result = loop.evaluate_checkpoint(str(tmp_path / "w"))
  assert result["accuracy"] > 0.95
  # The report: per predicted class, the mean share of the 3 most attended words (at least 3/len of a sentence,
  # at most 1) and the words most often attended most, all words of the test sentences. (Which words a BiLSTM's
  # attention picks is not asserted: its states carry the cue to every position, so it need not point at it.)
  test_words = {w for line in open(config.data.test_path, encoding="utf-8") for w in line.split()[1:]}
  assert sorted(result["most_attended_words"]) == sorted(helpers.CUES)
  assert all(set(words) <= test_words for words in result["most_attended_words"].values())
  assert all(3 / 15 <= share <= 1 for share in result["attention_top3_share"].values())
  saved = json.loads((tmp_path / "w" / "eval.json").read_text())
  assert saved["attention_top3_share"] == result["attention_top3_share"]
  for name in ("word_attention.png", "attention_top3_share.png"):
    assert (tmp_path / "w" / "plots" / name).stat().st_size > 5000, name


def test_two_processes_preparing_the_same_data_at_once_both_succeed(tmp_path):
  """Two runs started together on one machine: one prepares the TFDS data under the lock, the other waits and
  reads it (without the lock one of them failed renaming its copy into place)."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  paths = helpers.write_cue_sentences(tmp_path / "cues")
  code = ("import sys, ml_collections; from attention_jax.data import text_classification as t; "
          "c = ml_collections.ConfigDict(dict(train_path=sys.argv[1], test_path=sys.argv[2], tfds_data_dir=sys.argv[3], "
          "vocab_size=100)); print(len(t.read_splits(c)['train']['label']))")
  procs = [subprocess.Popen([sys.executable, "-c", code, paths["train"], paths["test"], str(tmp_path / "tfds")],
                            cwd=helpers.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for _ in range(3)]
  outs = [p.communicate(timeout=300) for p in procs]
  assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in outs]
  assert [out.split()[-1] for out, _ in outs] == ["600"] * 3
