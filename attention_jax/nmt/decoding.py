"""Greedy and beam-search decoding, batched and jit-compilable (`lax.while_loop`, fixed shapes).

Both take `step(memory, state, prev_tokens) -> (state, logits [n, V], weights [n, src_len])`, e.g.
`functools.partial(model.apply, variables, method=model.decode_step)`, plus the encoder memory and s_0, and
return tokens [b, max_len] (eos, then pad), their lengths, the attention weights [b, max_len, src_len] of the
returned hypothesis (0 past its end) and its score.

Beam search keeps, per sentence, `beam` alive hypotheses and the `beam` best finished ones (those that emitted
eos), scored by log-probability / lp(length) with lp(n) = ((5 + n) / 6)^alpha (Wu et al. 2016; alpha = 0 means
raw log-probability). It stops when no alive hypothesis can still beat the worst kept finished one, or at
`max_len` (then unfinished hypotheses count as finished there). With beam 1 and alpha 0 it equals greedy.
"""

import jax
import jax.numpy as jnp

from attention_jax.text.ids import BOS, EOS, PAD

NEG_INF = -1.0e9


def length_penalty(length, alpha: float):
  return ((5.0 + length) / 6.0) ** alpha


def token_log_probs(logits):
  """log-softmax over the vocabulary with pad and bos ruled out (a decoder never emits them)."""
  logits = logits.astype(jnp.float32).at[:, PAD].set(NEG_INF).at[:, BOS].set(NEG_INF)
  return jax.nn.log_softmax(logits)


def greedy_decode(step, memory, state, max_len: int):
  """Picks the most likely token at every step until eos (or max_len)."""
  b = state.shape[0]
  src_len = memory["mask"].shape[1]

  def body(carry):
    t, state, prev, done, tokens, weights, score = carry
    state, logits, w = step(memory, state, prev)
    log_probs = token_log_probs(logits)
    token = jnp.argmax(log_probs, axis=-1).astype(jnp.int32)
    score = score + jnp.where(done, 0.0, jnp.take_along_axis(log_probs, token[:, None], axis=1)[:, 0])
    token = jnp.where(done, PAD, token)
    tokens = tokens.at[:, t].set(token)
    weights = weights.at[:, t].set(jnp.where(done[:, None], 0.0, w))
    return t + 1, state, token, done | (token == EOS), tokens, weights, score

  def cond(carry):
    t, done = carry[0], carry[3]
    return (t < max_len) & ~jnp.all(done)

  init = (0, state, jnp.full((b,), BOS, jnp.int32), jnp.zeros((b,), bool), jnp.full((b, max_len), PAD, jnp.int32),
          jnp.zeros((b, max_len, src_len), jnp.float32), jnp.zeros((b,), jnp.float32))
  _, _, _, _, tokens, weights, score = jax.lax.while_loop(cond, body, init)
  return {"tokens": tokens, "lengths": output_lengths(tokens), "weights": weights, "score": score}


def output_lengths(tokens):
  """Tokens up to and including the first eos (all of them if there is none): [b, t] -> [b]."""
  is_eos = tokens == EOS
  first = jnp.argmax(is_eos, axis=1)
  return jnp.where(jnp.any(is_eos, axis=1), first + 1, jnp.sum(tokens != PAD, axis=1)).astype(jnp.int32)


def _gather_beams(tree, index, b: int, k: int):
  """Picks hypotheses: every leaf [b * k, ...] reordered within each sentence by index [b, k]."""
  def pick(x):
    x = x.reshape((b, k) + x.shape[1:])
    out = jnp.take_along_axis(x, index.reshape(index.shape + (1,) * (x.ndim - 2)), axis=1)
    return out.reshape((-1,) + x.shape[2:])
  return jax.tree.map(pick, tree)


def beam_search(step, memory, state, max_len: int, beam: int, alpha: float = 0.0):
  """Batched beam search; returns the best finished hypothesis of every sentence."""
  b, k = state.shape[0], beam
  if beam < 1:
    raise ValueError(f"beam size must be at least 1, got {beam}")
  src_len = memory["mask"].shape[1]
  tile = lambda x: jnp.repeat(x, k, axis=0)  # [b, ...] -> [b * k, ...], a sentence's beams adjacent
  memory = jax.tree.map(tile, memory)
  state = tile(state)

  top_k = jax.lax.top_k

  def body(carry):
    (t, state, alive_seq, alive_w, alive_logp, fin_seq, fin_w, fin_score) = carry
    prev = jnp.where(t == 0, BOS, alive_seq[:, :, jnp.maximum(t - 1, 0)]).reshape(-1).astype(jnp.int32)
    state, logits, w = step(memory, state, prev)
    log_probs = token_log_probs(logits)  # [b*k, V]
    vocab = log_probs.shape[-1]
    candidates = (alive_logp[:, :, None] + log_probs.reshape(b, k, vocab)).reshape(b, k * vocab)
    # [b, 2k]: at least k of the 2k best do not end in eos
    cand_logp, cand_index = top_k(candidates, min(2 * k, k * vocab))
    cand_beam, cand_token = cand_index // vocab, (cand_index % vocab).astype(jnp.int32)
    w = w.reshape(b, k, src_len)
    cand_seq = jnp.take_along_axis(alive_seq, cand_beam[:, :, None], axis=1).at[:, :, t].set(cand_token)
    cand_w = jnp.take_along_axis(alive_w, cand_beam[:, :, None, None], axis=1)
    cand_w = cand_w.at[:, :, t].set(jnp.take_along_axis(w, cand_beam[:, :, None], axis=1))
    last = t == max_len - 1
    ends = (cand_token == EOS) | last
    # Alive: the k best candidates that did not end.
    alive_logp, pick = top_k(jnp.where(ends, NEG_INF, cand_logp), k)
    alive_seq = jnp.take_along_axis(cand_seq, pick[:, :, None], axis=1)
    alive_w = jnp.take_along_axis(cand_w, pick[:, :, None, None], axis=1)
    state = _gather_beams(state, jnp.take_along_axis(cand_beam, pick, axis=1), b, k)
    # Finished: the k best of the kept ones and those of the k best candidates that ended now (as fairseq does;
    # an eos ranked below the k best is not a hypothesis the search would have kept, so beam 1 is greedy).
    ends_in_top_k = ends & (jnp.arange(cand_logp.shape[1])[None, :] < k)
    new_score = jnp.where(ends_in_top_k, cand_logp / length_penalty(t + 1.0, alpha), NEG_INF)
    all_score = jnp.concatenate([fin_score, new_score], axis=1)
    fin_score, pick = top_k(all_score, k)
    fin_seq = jnp.take_along_axis(jnp.concatenate([fin_seq, cand_seq], axis=1), pick[:, :, None], axis=1)
    fin_w = jnp.take_along_axis(jnp.concatenate([fin_w, cand_w], axis=1), pick[:, :, None, None], axis=1)
    return (t + 1, state, alive_seq, alive_w, alive_logp, fin_seq, fin_w, fin_score)

  def cond(carry):
    t, alive_logp, fin_score = carry[0], carry[4], carry[7]
    # log-probabilities only fall; with alpha >= 0 the best an alive hypothesis can still reach is its log-prob
    # over the largest penalty.
    best_alive = alive_logp[:, 0] / length_penalty(float(max_len), alpha)
    can_improve = jnp.any(best_alive > fin_score[:, 0])  # only the best finished one is returned
    return (t < max_len) & can_improve

  init = (0, state, jnp.full((b, k, max_len), PAD, jnp.int32), jnp.zeros((b, k, max_len, src_len), jnp.float32),
          jnp.concatenate([jnp.zeros((b, 1)), jnp.full((b, k - 1), NEG_INF)], axis=1),
          jnp.full((b, k, max_len), PAD, jnp.int32), jnp.zeros((b, k, max_len, src_len), jnp.float32),
          jnp.full((b, k), NEG_INF))
  out = jax.lax.while_loop(cond, body, init)
  tokens, weights, score = out[5][:, 0], out[6][:, 0], out[7][:, 0]
  return {"tokens": tokens, "lengths": output_lengths(tokens), "weights": weights, "score": score}
