"""Attention scores, the RNNsearch/RNNencdec modules and decoding: values against NumPy and brute force."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from attention_jax.errors import UserError
from attention_jax.models import attention, seq2seq
from attention_jax.nmt import decoding
from attention_jax.tasks.translation import shift_right


def test_additive_score_equals_numpy_formula():
  rng = np.random.default_rng(0)
  b, s, d_q, d_k, a = 3, 5, 4, 6, 7
  query, keys = rng.normal(size=(b, d_q)), rng.normal(size=(b, s, d_k))
  module = attention.Attention("additive", a)
  params = module.init(jax.random.PRNGKey(0), query, keys, keys, jnp.ones((b, s)),
                       method=lambda m, q, k, h, msk: m(q, m.keys(k), h, msk))["params"]
  params = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
  keys_proj = module.apply({"params": params}, keys, method=module.keys)
  mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], np.float32)
  ctx, weights = module.apply({"params": params}, query, keys_proj, keys, mask)
  w_, u_, u_b, v_ = (np.asarray(params["W"]["kernel"]), np.asarray(params["U"]["kernel"]),
                     np.asarray(params["U"]["bias"]), np.asarray(params["v"]))
  e = np.einsum("bsa,a->bs", np.tanh((query @ w_)[:, None, :] + keys @ u_ + u_b), v_)  # e_ij = v^T tanh(W s + U h)
  e = np.where(mask > 0, e, -np.inf)
  alpha = np.exp(e - e.max(1, keepdims=True))
  alpha /= alpha.sum(1, keepdims=True)
  np.testing.assert_allclose(weights, alpha, atol=1e-5)
  np.testing.assert_allclose(ctx, np.einsum("bs,bsd->bd", alpha, keys), atol=1e-5)


@pytest.mark.parametrize("score", ["dot", "general", "concat"])
def test_luong_scores_equal_numpy(score):
  rng = np.random.default_rng(1)
  b, s, d = 2, 4, 5
  query, keys = rng.normal(size=(b, d)).astype(np.float32), rng.normal(size=(b, s, d)).astype(np.float32)
  mask = np.ones((b, s), np.float32)
  module = attention.Attention(score, d)
  variables = module.init(jax.random.PRNGKey(0), query, jnp.asarray(keys), keys, mask,
                          method=lambda m, q, k, h, msk: m(q, m.keys(k), h, msk))
  keys_proj = module.apply(variables, keys, method=module.keys)
  _, weights = module.apply(variables, query, keys_proj, keys, mask)
  p = jax.tree.map(np.asarray, variables.get("params", {}))
  if score == "dot":
    e = np.einsum("bd,bsd->bs", query, keys)
  elif score == "general":
    e = np.einsum("bd,bsd->bs", query, keys @ p["W_a"]["kernel"])
  else:
    e = np.tanh((query @ p["W"]["kernel"])[:, None] + keys @ p["U"]["kernel"] + p["U"]["bias"]) @ p["v"]
  expected = np.exp(e - e.max(1, keepdims=True))
  np.testing.assert_allclose(weights, expected / expected.sum(1, keepdims=True), atol=1e-5)


def test_masked_softmax_sums_to_one_is_zero_on_padding_and_never_nan():
  scores = jnp.array([[3.0, 1.0, -2.0, 100.0], [0.5, 0.5, 0.5, 0.5], [1.0, 2.0, 3.0, 4.0]])
  mask = jnp.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]], jnp.float32)
  w = attention.masked_softmax(scores, mask)
  np.testing.assert_allclose(w.sum(1), [1.0, 1.0, 0.0], atol=1e-6)
  assert float(jnp.abs(w * (1 - mask)).max()) == 0.0
  np.testing.assert_allclose(w[1, :2], [0.5, 0.5])
  grads = jax.grad(lambda s: jnp.sum(attention.masked_softmax(s, mask) * jnp.arange(4.0)))(scores)
  assert bool(jnp.all(jnp.isfinite(grads))) and float(jnp.abs(grads[2]).max()) == 0.0


def test_dot_score_refuses_mismatched_sizes():
  module = attention.Attention("dot", 4)
  with pytest.raises(UserError, match="model.attention='dot'"):
    module.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)), jnp.zeros((1, 2, 4)), jnp.zeros((1, 2, 4)),
                jnp.ones((1, 2)))


def test_reverse_and_repeat_within_length():
  x = jnp.array([[5, 6, 7, 0], [8, 9, 0, 0]])
  lengths = jnp.array([3, 2])
  np.testing.assert_array_equal(seq2seq.reverse_within_length(x, lengths), [[7, 6, 5, 0], [9, 8, 0, 0]])
  doubled, n = seq2seq.repeat_within_length(x, lengths)
  np.testing.assert_array_equal(doubled, [[5, 6, 7, 5, 6, 7, 0, 0], [8, 9, 8, 9, 0, 0, 0, 0]])
  np.testing.assert_array_equal(n, [6, 4])


def small_model(name="rnnsearch", **kw):
  common = dict(src_vocab=13, tgt_vocab=9, embed=6, hidden=8, maxout=5)
  if name == "rnnsearch":
    return seq2seq.RNNsearch(alignment=7, **common, **kw)
  return seq2seq.RNNencdec(**common, **kw)


def random_batch(seed=0, b=3, s=6, t=5):
  rng = np.random.default_rng(seed)
  src = rng.integers(4, 13, size=(b, s)).astype(np.int32)
  lengths = np.array([s, 3, 1][:b], np.int32)
  src[np.arange(s)[None, :] >= lengths[:, None]] = 0
  tgt = rng.integers(4, 9, size=(b, t)).astype(np.int32)
  return jnp.asarray(src), jnp.asarray(lengths), jnp.asarray(tgt)


def init_noisy(model, src, lengths, tgt, scale=1.0):
  params = jax.jit(model.init)(jax.random.PRNGKey(0), src, lengths, tgt)["params"]
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(1), len(leaves))
  return jax.tree.unflatten(tree, [x + scale * 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])


def test_encoder_outputs_do_not_depend_on_padding():
  model = small_model()
  src, lengths, tgt = random_batch()
  params = init_noisy(model, src, lengths, tgt)
  encode = jax.jit(lambda s, n: model.apply({"params": params}, s, n, method=model.encode))
  mem = encode(src, lengths)
  wider = jnp.concatenate([src, jnp.full((3, 4), 11, jnp.int32)], axis=1)  # garbage past the lengths
  mem2 = encode(wider, lengths)
  for b, n in enumerate(np.asarray(lengths)):
    np.testing.assert_allclose(mem["annotations"][b, :n], mem2["annotations"][b, :n], atol=1e-6)
    assert float(jnp.abs(mem["annotations"][b, n:]).max(initial=0.0)) == 0.0
  np.testing.assert_allclose(mem["first_backward"], mem2["first_backward"], atol=1e-6)
  # The backward RNN's first state has read the whole sentence: changing its last real token changes it.
  changed = src.at[0, 5].set(4 if int(src[0, 5]) != 4 else 5)
  mem3 = encode(changed, lengths)
  assert float(jnp.abs(mem3["first_backward"][0] - mem["first_backward"][0]).max()) > 1e-4


@pytest.mark.parametrize("name,kw", [("rnnsearch", {}), ("rnnencdec", {}),
                                     ("rnnencdec", {"reverse_source": True, "repeat_source": True})])
def test_teacher_forced_logits_equal_step_by_step_decoding(name, kw):
  model = small_model(name, **kw)
  src, lengths, tgt = random_batch(1)
  params = init_noisy(model, src, lengths, tgt)
  variables = {"params": params}
  logits, weights = model.apply(variables, src, lengths, shift_right(tgt))
  memory = model.apply(variables, src, lengths, method=model.encode)
  s = model.apply(variables, memory, method=model.initial_state)
  prev = jnp.full((3,), seq2seq.BOS)
  for t in range(tgt.shape[1]):
    s, step_logits, step_weights = model.apply(variables, memory, s, prev, method=model.decode_step)
    np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)
    np.testing.assert_allclose(step_weights, weights[:, t], atol=1e-6)
    prev = tgt[:, t]
  if name == "rnnsearch":
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
    assert float(weights[1, :, 3:].max()) == 0.0  # sentence 1 has 3 real tokens


def decoding_setup(seed=0, scale=3.0):
  model = small_model()
  src, lengths, tgt = random_batch(seed)
  params = init_noisy(model, src, lengths, tgt, scale)
  variables = {"params": params}
  memory = model.apply(variables, src, lengths, method=model.encode)
  state = model.apply(variables, memory, method=model.initial_state)
  return functools.partial(model.apply, variables, method=model.decode_step), memory, state


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_one_equals_greedy(seed):
  step, memory, state = decoding_setup(seed)
  greedy = jax.jit(lambda m, s: decoding.greedy_decode(step, m, s, 7))(memory, state)
  beam = jax.jit(lambda m, s: decoding.beam_search(step, m, s, 7, beam=1))(memory, state)
  for key in ("tokens", "lengths", "weights", "score"):
    np.testing.assert_allclose(greedy[key], beam[key], atol=1e-5)
  # After eos only pad; attention weights stop with the hypothesis.
  for row, n in zip(np.asarray(greedy["tokens"]), np.asarray(greedy["lengths"])):
    assert (row[n:] == seq2seq.PAD).all() and seq2seq.PAD not in row[:n]


def sequence_log_probs(step, memory, state, b, sequences):
  """log p of each row of sequences [n, L] (all L tokens scored) for sentence b, in one compiled scan."""
  n = sequences.shape[0]
  mem = jax.tree.map(lambda x: jnp.repeat(x[b:b + 1], n, axis=0), memory)

  def body(carry, tokens):
    s, prev = carry
    s, logits, _ = step(mem, s, prev)
    return (s, tokens), jnp.take_along_axis(decoding.token_log_probs(logits), tokens[:, None], axis=1)[:, 0]

  init = (jnp.repeat(state[b:b + 1], n, axis=0), jnp.full((n,), seq2seq.BOS, jnp.int32))
  _, per_token = jax.lax.scan(body, init, jnp.asarray(sequences).T)
  return np.asarray(per_token.T)  # [n, L]


def test_wide_beam_finds_the_exhaustive_best_hypothesis():
  """With a beam as wide as the hypothesis space, beam search returns the best sequence ending in eos (or of the
  maximum length) found by enumerating every sequence, scored with the length penalty."""
  step, memory, state = decoding_setup(4, scale=1.0)
  max_len, alpha = 3, 0.6
  words = [seq2seq.EOS, seq2seq.UNK] + list(range(4, 9))
  out = jax.jit(lambda m, s: decoding.beam_search(step, m, s, max_len, beam=len(words) ** 2, alpha=alpha))(
      memory, state)
  full = np.array(list(itertools.product(words, repeat=max_len)), np.int32)  # every sequence of max_len tokens
  for b in range(3):
    prefix = np.cumsum(np.asarray(sequence_log_probs(step, memory, state, b, full)), axis=1)  # [n, L]
    best, best_seq = -np.inf, None
    for row, seq in enumerate(full):
      eos = [i for i, x in enumerate(seq) if x == seq2seq.EOS]
      n = eos[0] + 1 if eos else max_len  # a hypothesis ends at its first eos, or at the maximum length
      score = prefix[row, n - 1] / decoding.length_penalty(n, alpha)
      if score > best:
        best, best_seq = score, list(seq[:n])
    got = [int(x) for x in np.asarray(out["tokens"][b]) if x != seq2seq.PAD]
    assert got == best_seq
    np.testing.assert_allclose(float(out["score"][b]), best, atol=1e-4)


def test_a_tiny_batch_is_overfitted_to_near_zero_loss():
  model = seq2seq.RNNsearch(src_vocab=20, tgt_vocab=15, embed=16, hidden=32, maxout=16, alignment=16)
  rng = np.random.default_rng(0)
  src = jnp.asarray(rng.integers(4, 20, size=(8, 7)), jnp.int32)
  lengths = jnp.full((8,), 7, jnp.int32)
  tgt = jnp.concatenate([jnp.asarray(rng.integers(4, 15, size=(8, 5)), jnp.int32),
                         jnp.full((8, 1), seq2seq.EOS, jnp.int32)], axis=1)
  params = model.init(jax.random.PRNGKey(0), src, lengths, tgt)["params"]
  tx = optax.adam(1e-2)
  opt = tx.init(params)

  def loss_fn(p):
    logits, _ = model.apply({"params": p}, src, lengths, shift_right(tgt))
    return optax.softmax_cross_entropy_with_integer_labels(logits, tgt).mean()

  @jax.jit
  def update(p, o):
    value, g = jax.value_and_grad(loss_fn)(p)
    u, o = tx.update(g, o, p)
    return optax.apply_updates(p, u), o, value

  first = None
  for _ in range(200):
    params, opt, value = update(params, opt)
    first = float(value) if first is None else first
  assert first > 2.0 and float(loss_fn(params)) < 0.02


def test_gradients_of_the_attention_decoder_match_finite_differences():
  model = small_model()
  src, lengths, tgt = random_batch(3)
  params = init_noisy(model, src, lengths, tgt)
  params64 = jax.tree.map(lambda x: np.asarray(x, np.float64), params)

  def loss(v):  # one scalar weight of the attention's v, everything else fixed
    p = jax.tree.map(lambda x: x, params)
    p["cell"]["attention"]["v"] = p["cell"]["attention"]["v"].at[2].set(v)
    logits, _ = model.apply({"params": p}, src, lengths, shift_right(tgt))
    return optax.softmax_cross_entropy_with_integer_labels(logits, tgt).sum()

  v0 = float(params64["cell"]["attention"]["v"][2])
  eps = 1e-2
  numeric = (loss(v0 + eps) - loss(v0 - eps)) / (2 * eps)
  np.testing.assert_allclose(float(jax.grad(loss)(v0)), float(numeric), rtol=2e-2, atol=1e-3)


def test_decoder_steps_reuse_the_keys_computed_once_per_sentence():
  """decode_step reads U h_j from the encoder memory (appendix A.1.2) instead of recomputing it: with the stored
  keys replaced by zeros, every score is v^T tanh(W s), the same for all positions, so the weights are uniform."""
  model = small_model()
  src, lengths, tgt = random_batch(5)
  variables = {"params": init_noisy(model, src, lengths, tgt)}
  memory = model.apply(variables, src, lengths, method=model.encode)
  assert memory["keys"].shape == (3, 6, 7)  # [batch, src_len, alignment]
  s = model.apply(variables, memory, method=model.initial_state)
  _, _, weights = model.apply(variables, memory | {"keys": jnp.zeros_like(memory["keys"])}, s,
                              jnp.full((3,), seq2seq.BOS), method=model.decode_step)
  np.testing.assert_allclose(weights[0], np.full(6, 1 / 6), atol=1e-6)
  np.testing.assert_allclose(weights[1, :3], np.full(3, 1 / 3), atol=1e-6)
  assert float(weights[1, 3:].max()) == 0.0
