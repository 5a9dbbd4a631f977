"""Attention over a source sentence: score functions, masked softmax, context vectors.

Bahdanau et al. (2014), eqs. (5)-(6) and appendix A.1.2:
  e_ij = v^T tanh(W s_{i-1} + U h_j)      additive ("align" model a(s_{i-1}, h_j))
  alpha_ij = exp(e_ij) / sum_k exp(e_ik)   over the real (unpadded) source positions only
  c_i = sum_j alpha_ij h_j
Luong et al. (2015), Section 3.1, beside it (here with Bahdanau's query s_{i-1}):
  dot      e_ij = s^T h_j                 (query and keys of one size)
  general  e_ij = s^T W_a h_j
  concat   e_ij = v^T tanh(W_a [s; h_j]) = v^T tanh(W_1 s + W_2 h_j)
The key-side product (U h_j, W_a h_j, W_2 h_j) does not depend on the decoder step, so `Attention.keys` computes
it once per sentence and every decoder step reuses it. All score functions are pure functions of arrays.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from attention_jax.errors import UserError, check_choice

SCORES = ("additive", "dot", "general", "concat")


def additive_score(query_proj, keys_proj, v):
  """v^T tanh(W s + U h_j): query_proj [b, a] (= W s), keys_proj [b, s, a] (= U h), v [a] -> [b, s]."""
  return jnp.tanh(keys_proj + query_proj[:, None, :]) @ v


def dot_score(query, keys):
  """s^T h_j: query [b, d], keys [b, s, d] -> [b, s]."""
  return jnp.einsum("bd,bsd->bs", query, keys)


def masked_softmax(scores, mask):
  """Softmax over the source axis where mask is 1; exactly 0 where it is 0, and all 0 (not NaN) for a row with
  no real position. scores, mask [b, s] -> [b, s]."""
  mask = mask.astype(scores.dtype)
  masked = jnp.where(mask > 0, scores, jnp.finfo(scores.dtype).min)
  shifted = masked - jax.lax.stop_gradient(jnp.max(masked, axis=-1, keepdims=True))
  weights = jnp.exp(shifted) * mask
  total = jnp.sum(weights, axis=-1, keepdims=True)
  return weights / jnp.where(total > 0, total, 1.0)


def context(weights, values):
  """c_i = sum_j alpha_ij h_j: weights [b, s], values [b, s, d] -> [b, d]."""
  return jnp.einsum("bs,bsd->bd", weights, values)


class Attention(nn.Module):
  """One score function's parameters and the two halves of its computation.

  keys(h) -> keys_proj                         once per sentence: [b, s, d_key] -> [b, s, features]
  __call__(query, keys_proj, values, mask)    every decoder step: -> (context [b, d_value], weights [b, s])
  `features` is the alignment size (the paper's n' = 1000); `dot` has no parameters and needs d_query == d_key.
  """
  score: str = "additive"
  features: int = 128

  def setup(self):
    check_choice("model.attention", self.score, SCORES)
    if self.score in ("additive", "concat"):
      self.query_dense = nn.Dense(self.features, use_bias=False, name="W")
      self.key_dense = nn.Dense(self.features, use_bias=True, name="U")
      self.v = self.param("v", nn.initializers.normal(0.01), (self.features,))
    elif self.score == "general":
      self.key_dense = nn.Dense(self.features, use_bias=False, name="W_a")

  def keys(self, h):
    if self.score == "dot":
      return h
    return self.key_dense(h)  # [b, s, features]

  def __call__(self, query, keys_proj, values, mask):
    if self.score in ("additive", "concat"):
      scores = additive_score(self.query_dense(query), keys_proj, self.v)
    else:
      if query.shape[-1] != keys_proj.shape[-1]:
        raise UserError(f"config field model.attention={self.score!r} needs a decoder state of the keys' size "
                        f"{keys_proj.shape[-1]}, got {query.shape[-1]}; use 'general' or set the sizes equal")
      scores = dot_score(query, keys_proj)
    weights = masked_softmax(scores, mask)
    return context(weights, values), weights
