"""RNNsearch (Bahdanau, Cho & Bengio 2014) and its baseline RNNencdec (Cho et al. 2014), as linen modules.

Both share one interface, used by training (teacher forcing) and by greedy/beam search alike:
  encode(src, src_len)                  -> memory      (a dict of arrays, batch first)
  initial_state(memory)                 -> s_0 [b, n]
  decode_step(memory, s, prev_token)    -> (s_i, logits [b, V], weights [b, src_len])
  __call__(src, src_len, tgt_in)        -> (logits [b, t, V], weights [b, t, s])   teacher forcing
`__call__` computes exactly what repeated `decode_step` calls compute, but hoists every step-independent matrix
product out of the recurrence: the target embeddings' GRU projection for all steps at once before the scan, and
the maxout readout and vocabulary projection for all steps at once after it.

Token ids: 0 pad, 1 bos, 2 eos, 3 unk (`attention_jax.text.ids`).

GRUs here are the "reset after" form (r multiplies U h after the product, as in cuDNN), so one [n, 3n] product of
the state gives every gate; the paper's appendix A.1.1 puts r before U. Padding never changes an output: steps
at or past a sentence's length leave the state unchanged and emit zeros.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from attention_jax.models.attention import Attention
from attention_jax.text.ids import BOS, EOS, PAD, UNK  # noqa: F401  (re-exported: seq2seq.PAD, ...)


def gru_update(x_proj, h_proj, h):
  """One GRU step from precomputed products: x_proj = W x + b, h_proj = U h + b_h, both [b, 3n]; h [b, n].

  r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), h~ = tanh(x_h + r * h_h), h' = (1 - z) h~ + z h.
  """
  xr, xz, xh = jnp.split(x_proj, 3, axis=-1)
  hr, hz, hh = jnp.split(h_proj, 3, axis=-1)
  r = jax.nn.sigmoid(xr + hr)
  z = jax.nn.sigmoid(xz + hz)
  candidate = jnp.tanh(xh + r * hh)
  return (1.0 - z) * candidate + z * h


def reverse_within_length(x, lengths):
  """Reverses each row's first `lengths[b]` entries along axis 1 and leaves the padding where it is."""
  t = jnp.arange(x.shape[1])[None, :]
  index = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # [b, s], an involution
  return jnp.take_along_axis(x, index.reshape(index.shape + (1,) * (x.ndim - 2)), axis=1)


def repeat_within_length(tokens, lengths):
  """Feeds the source twice (Zaremba & Sutskever 2014): [b, s] -> [b, 2s] holding x_1..x_n x_1..x_n then pad."""
  t = jnp.arange(2 * tokens.shape[1])[None, :]
  n = lengths[:, None]
  index = jnp.where(t < n, t, t - n)
  out = jnp.take_along_axis(tokens, jnp.clip(index, 0, tokens.shape[1] - 1), axis=1)
  return jnp.where(t < 2 * n, out, PAD), 2 * lengths


class _GRUCell(nn.Module):
  """The recurrent half of a GRU step (input product precomputed); state frozen where `valid` is 0."""
  hidden: int

  @nn.compact
  def __call__(self, h, inputs):
    x_proj, valid = inputs  # [b, 3n], [b, 1]
    h_new = gru_update(x_proj, nn.Dense(3 * self.hidden, name="U")(h), h)
    h_new = jnp.where(valid > 0, h_new, h)
    return h_new, h_new * valid


class GRULayer(nn.Module):
  """A GRU over [b, s, d] honouring lengths; `reverse` reads each sentence from its last real token."""
  hidden: int
  reverse: bool = False
  unroll: int = 1

  @nn.compact
  def __call__(self, x, lengths):
    b, s, _ = x.shape
    x_proj = nn.Dense(3 * self.hidden, name="W")(x)  # [b, s, 3n], every step's input product at once
    if self.reverse:
      x_proj = reverse_within_length(x_proj, lengths)
    valid = (jnp.arange(s)[None, :] < lengths[:, None]).astype(x.dtype)[..., None]  # [b, s, 1]
    scan = nn.scan(_GRUCell, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1,
                   unroll=self.unroll)
    final, outputs = scan(self.hidden, name="cell")(jnp.zeros((b, self.hidden), x.dtype), (x_proj, valid))
    if self.reverse:
      outputs = reverse_within_length(outputs, lengths)
    return outputs, final  # [b, s, n], [b, n]


class Readout(nn.Module):
  """Appendix A.2.2: t~ = U_o s + V_o E y_{i-1} + C_o c, t = maxout over pairs of t~, logits = W_o t."""
  maxout: int
  vocab: int

  @nn.compact
  def __call__(self, s, y_prev_embedded, c):
    t = nn.Dense(2 * self.maxout, name="t")(jnp.concatenate([s, y_prev_embedded, c], axis=-1))
    t = jnp.max(t.reshape(t.shape[:-1] + (self.maxout, 2)), axis=-1)
    return nn.Dense(self.vocab, name="W_o")(t)


class _AttentionDecoderCell(nn.Module):
  """s_i = f(s_{i-1}, y_{i-1}, c_i) with c_i attended from s_{i-1} (eqs. 4-6). `keys` precomputes U h_j."""
  hidden: int
  score: str
  alignment: int

  def setup(self):
    self.attention = Attention(self.score, self.alignment)
    self.C = nn.Dense(3 * self.hidden, use_bias=False)  # the GRU's product of c_i
    self.U = nn.Dense(3 * self.hidden)  # the GRU's product of s_{i-1}

  def keys(self, annotations):
    return self.attention.keys(annotations)

  def __call__(self, s, y_proj, memory):
    c, weights = self.attention(s, memory["keys"], memory["annotations"], memory["mask"])
    s_new = gru_update(y_proj + self.C(c), self.U(s), s)
    return s_new, (s_new, c, weights)


def _scan_cell(cell, s0, xs, memory, unroll):
  """Runs `cell(s, x_t, memory)` over axis 1 of xs with shared parameters: outputs batch first."""
  fn = nn.scan(lambda mdl, carry, x, mem: mdl(carry, x, mem), variable_broadcast="params",
               split_rngs={"params": False}, in_axes=(1, nn.broadcast), out_axes=1, unroll=unroll)
  return fn(cell, s0, xs, memory)


class RNNsearch(nn.Module):
  """Bidirectional GRU encoder, additive-attention GRU decoder, maxout readout (Bahdanau et al. 2014)."""
  aligns = True  # its weights are a soft alignment (not a field): tasks score and draw them
  src_vocab: int
  tgt_vocab: int
  embed: int = 620
  hidden: int = 1000
  maxout: int = 500
  alignment: int = 1000
  attention: str = "additive"
  unroll: int = 1

  def setup(self):
    self.src_embed = nn.Embed(self.src_vocab, self.embed)
    self.tgt_embed = nn.Embed(self.tgt_vocab, self.embed)
    self.forward_rnn = GRULayer(self.hidden, unroll=self.unroll)
    self.backward_rnn = GRULayer(self.hidden, reverse=True, unroll=self.unroll)
    self.init_dense = nn.Dense(self.hidden)  # W_s
    self.y_dense = nn.Dense(3 * self.hidden)  # the decoder GRU's product of E y_{i-1}
    self.cell = _AttentionDecoderCell(self.hidden, self.attention, self.alignment)
    self.readout = Readout(self.maxout, self.tgt_vocab)

  def encode(self, src, src_len):
    x = self.src_embed(src)  # [b, s, embed]
    forward, _ = self.forward_rnn(x, src_len)
    backward, _ = self.backward_rnn(x, src_len)
    annotations = jnp.concatenate([forward, backward], axis=-1)  # [b, s, 2n], h_j = [->h_j; <-h_j]
    mask = (jnp.arange(src.shape[1])[None, :] < src_len[:, None]).astype(x.dtype)
    return {"annotations": annotations, "keys": self.cell.keys(annotations), "mask": mask,
            "first_backward": backward[:, 0]}

  def initial_state(self, memory):
    return jnp.tanh(self.init_dense(memory["first_backward"]))  # s_0 = tanh(W_s <-h_1)

  def decode_step(self, memory, s, prev_token):
    e = self.tgt_embed(prev_token)  # [b, embed]
    s_new, (_, c, weights) = self.cell(s, self.y_dense(e), memory)
    return s_new, self.readout(s_new, e, c), weights

  def __call__(self, src, src_len, tgt_in):
    memory = self.encode(src, src_len)
    e = self.tgt_embed(tgt_in)  # [b, t, embed]
    _, (states, contexts, weights) = _scan_cell(self.cell, self.initial_state(memory), self.y_dense(e), memory,
                                                self.unroll)
    return self.readout(states, e, contexts), weights  # [b, t, V], [b, t, s]


class _FixedContextDecoderCell(nn.Module):
  """h_t = f(h_{t-1}, y_{t-1}, c) with c fixed; its product C c arrives inside the precomputed input."""
  hidden: int

  @nn.compact
  def __call__(self, s, x_proj, memory):
    del memory
    s_new = gru_update(x_proj, nn.Dense(3 * self.hidden, name="U")(s), s)
    return s_new, s_new


class RNNencdec(nn.Module):
  """The RNN encoder-decoder (Cho et al. 2014): c = tanh(V h_N) summarises the source; the decoder sees c at
  every step and in its readout. `reverse_source` (Sutskever et al. 2014) and `repeat_source` (Zaremba &
  Sutskever 2014) change what the encoder reads; the attention weights it reports are all zero."""
  aligns = False  # no attention: nothing to score or draw
  src_vocab: int
  tgt_vocab: int
  embed: int = 620
  hidden: int = 1000
  maxout: int = 500
  reverse_source: bool = False
  repeat_source: bool = False
  unroll: int = 1

  def setup(self):
    self.src_embed = nn.Embed(self.src_vocab, self.embed)
    self.tgt_embed = nn.Embed(self.tgt_vocab, self.embed)
    self.encoder = GRULayer(self.hidden, unroll=self.unroll)
    self.summary = nn.Dense(self.hidden)  # V
    self.init_dense = nn.Dense(self.hidden)
    self.y_dense = nn.Dense(3 * self.hidden)
    self.c_dense = nn.Dense(3 * self.hidden, use_bias=False)
    self.cell = _FixedContextDecoderCell(self.hidden)
    self.readout = Readout(self.maxout, self.tgt_vocab)

  def encode(self, src, src_len):
    mask = (jnp.arange(src.shape[1])[None, :] < src_len[:, None]).astype(jnp.float32)
    if self.reverse_source:
      src = reverse_within_length(src, src_len)
    if self.repeat_source:
      src, src_len = repeat_within_length(src, src_len)
    _, final = self.encoder(self.src_embed(src), src_len)
    c = jnp.tanh(self.summary(final))  # [b, n]
    return {"context": c, "context_proj": self.c_dense(c), "mask": mask}

  def initial_state(self, memory):
    return jnp.tanh(self.init_dense(memory["context"]))

  def decode_step(self, memory, s, prev_token):
    e = self.tgt_embed(prev_token)
    s_new, _ = self.cell(s, self.y_dense(e) + memory["context_proj"], memory)
    return s_new, self.readout(s_new, e, memory["context"]), jnp.zeros_like(memory["mask"])

  def __call__(self, src, src_len, tgt_in):
    memory = self.encode(src, src_len)
    e = self.tgt_embed(tgt_in)  # [b, t, embed]
    x_proj = self.y_dense(e) + memory["context_proj"][:, None, :]
    _, states = _scan_cell(self.cell, self.initial_state(memory), x_proj, memory, self.unroll)
    c = jnp.broadcast_to(memory["context"][:, None, :], states.shape[:2] + memory["context"].shape[-1:])
    weights = jnp.zeros(tgt_in.shape + memory["mask"].shape[-1:], states.dtype)
    return self.readout(states, e, c), weights
