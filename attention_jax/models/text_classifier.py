"""Attention-based BiLSTM sentence classification: a sentence's hidden states pooled by learned attention.

Word attention of Yang et al. (2016), Section 2.2, over a bidirectional LSTM (or GRU) read of the sentence:
  h_t = [h_fwd_t; h_bwd_t]                      the two directions' states at word t, each honouring the length
  u_t = tanh(W h_t + b)                         (Yang's eq. 5)
  alpha_t = exp(u_t . u_w) / sum_k exp(u_k . u_w)   over the real words only (eq. 6); exactly 0 on padding
  s = sum_t alpha_t h_t                         (eq. 7)
u_w is a learned context vector. This is the additive score of the translation models, v^T tanh(W q + U h_t)
(`models.attention.Attention`), with a learned query q in place of the decoder state: W q is then a learned
constant folded into b, and v plays u_w. The same module scores both.

Baselines of the same family (`pooling`): the last state of each direction (forward at the last real word,
backward at the first), the mean and the max of h_t over the real words. Dropout (Srivastava et al. 2014) on the
word embeddings and on the pooled vector, drawn from each example's own key, so a batch split over 8 devices
computes what 1 device computes. Optionally word dropout (each real word read as <unk> with probability
`word_dropout` while training; Iyyer et al. 2015, Dai and Le 2015) and a stack of `num_layers` bidirectional
layers, each reading the [forward; backward] states of the one below; and `skip_embeddings`, which pools
[h_t; x_t], each word's states beside its own embedding (as a densely connected BiLSTM does), so that the pooling
sees which word stands at t as directly as a convolution's unigram filters do.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from attention_jax.errors import UserError, check_choice
from attention_jax.models.attention import Attention
from attention_jax.text.ids import UNK

POOLINGS = ("attention", "last", "mean", "max")
CELLS = ("lstm", "gru")


def length_mask(lengths, max_len: int):
  """<float32>[b, max_len]: 1 at the real words of each sentence, 0 on its padding."""
  return (jnp.arange(max_len)[None, :] < lengths[:, None]).astype(jnp.float32)


def per_example_bernoulli(keys, stream: int, p: float, shape):
  """<bool>[b, *shape]: True with probability p, example i's draws from keys[i] alone (stream tells uses apart)."""
  return jax.vmap(lambda k: jax.random.bernoulli(jax.random.fold_in(k, stream), p, shape))(keys)


def example_dropout(x, rate: float, keys, stream: int):
  """Inverted dropout of x [b, ...] with one mask per example drawn from keys [b] (stream tells masks apart);
  the identity when keys is None (evaluation) or rate is 0."""
  if keys is None or rate == 0.0:
    return x
  keep = per_example_bernoulli(keys, stream, 1.0 - rate, x.shape[1:])
  return jnp.where(keep, x / (1.0 - rate), 0.0)


def word_dropout(tokens, lengths, rate: float, keys, stream: int):
  """tokens [b, s] with each real word replaced by <unk> with probability `rate`, one draw per example from keys
  [b] (stream tells draws apart); padding stays 0; the identity when keys is None (evaluation) or rate is 0."""
  if keys is None or rate == 0.0:
    return tokens
  drop = per_example_bernoulli(keys, stream, rate, tokens.shape[1:])
  return jnp.where(drop & (length_mask(lengths, tokens.shape[1]) > 0), UNK, tokens)


def pool_states(states, mask, pooling: str, last):
  """The sentence vector [b, 2n] from states [b, s, 2n] under `pooling` ('last', 'mean' or 'max'; `last` is the
  directions' final states [b, 2n])."""
  if pooling == "last":
    return last
  if pooling == "mean":
    return jnp.sum(states * mask[..., None], axis=1) / jnp.maximum(jnp.sum(mask, axis=1, keepdims=True), 1.0)
  return jnp.max(jnp.where(mask[..., None] > 0, states, jnp.finfo(states.dtype).min), axis=1)


class AttentionPooling(nn.Module):
  """Attention with a learned query over states [b, s, d] (Yang et al. 2016, eqs. 5-7).

  Attributes:
    features: size of u_t (the attention's hidden layer).

  Args:
    states: <float32>[batch, seq, d] the encoder states h_t.
    mask: <float32>[batch, seq] 1 at real words.

  Returns:
    (<float32>[batch, d] the pooled vector s, <float32>[batch, seq] the weights alpha; 0 on padding).
  """
  features: int = 128

  @nn.compact
  def __call__(self, states, mask):
    query = self.param("query", nn.initializers.normal(0.1), (self.features,))  # q; W q + b acts as Yang's b
    attention = Attention("additive", self.features, name="attention")
    queries = jnp.broadcast_to(query, (states.shape[0], self.features))
    return attention(queries, attention.keys(states), states, mask)


class TextClassifier(nn.Module):
  """Embedding, bidirectional recurrent read honouring lengths, pooling, dropout, softmax classifier.

  Attributes:
    vocab_size: words in the vocabulary (ids 0 pad, 3 unknown; see `text.vocab.WordVocab`).
    num_classes: labels.
    embed_size: word embedding size (randomly initialised).
    hidden: units per direction.
    cell: 'lstm' or 'gru'.
    pooling: 'attention' (Yang et al.'s word attention), or a baseline: 'last', 'mean', 'max'.
    attention_size: size of u_t.
    embed_dropout: dropout rate on the word embeddings.
    output_dropout: dropout rate on the pooled sentence vector.
    word_dropout: probability that a real word is read as <unk> while training (0: off).
    num_layers: stacked bidirectional layers (each reads the [forward; backward] states below it).
    skip_embeddings: pool [h_t; x_t] (states beside the word's embedding) instead of h_t ('last' cannot).

  Args:
    tokens: <int32>[batch, seq] word ids, padded with 0.
    lengths: <int32>[batch] real words per sentence (at least 1).
    dropout_keys: <uint32>[batch, 2] one key per example while training; None evaluates (no dropout).

  Returns:
    <float32>[batch, num_classes] logits. With pooling 'attention' the weights <float32>[batch, seq] are sown
    as intermediates 'attention'.
  """
  vocab_size: int
  num_classes: int
  embed_size: int = 128
  hidden: int = 128
  cell: str = "lstm"
  pooling: str = "attention"
  attention_size: int = 128
  embed_dropout: float = 0.5
  output_dropout: float = 0.5
  word_dropout: float = 0.0
  num_layers: int = 1
  skip_embeddings: bool = False

  @nn.compact
  def __call__(self, tokens, lengths, dropout_keys=None):
    check_choice("model.pooling", self.pooling, POOLINGS)
    check_choice("model.cell", self.cell, CELLS)
    if self.num_layers < 1:
      raise UserError(f"model.num_layers must be at least 1, got {self.num_layers}")
    if self.skip_embeddings and self.pooling == "last":
      raise UserError("model.skip_embeddings pools every word's [state; embedding]; model.pooling='last' pools the "
                      "final states only: use attention, mean or max")
    mask = length_mask(lengths, tokens.shape[1])
    tokens = word_dropout(tokens, lengths, self.word_dropout, dropout_keys, stream=2)
    x = nn.Embed(self.vocab_size, self.embed_size, embedding_init=nn.initializers.normal(0.1), name="embed")(tokens)
    x = example_dropout(x, self.embed_dropout, dropout_keys, stream=0)
    states = x
    cell = {"lstm": nn.OptimizedLSTMCell, "gru": nn.GRUCell}[self.cell]
    # Layer 0's cells are made first, so their parameters keep a one-layer model's names (older checkpoints load).
    for layer in range(self.num_layers):
      suffix = f"_{layer}" if layer else ""
      forward = nn.RNN(cell(self.hidden), return_carry=True, name="forward" + suffix)
      backward = nn.RNN(cell(self.hidden), return_carry=True, reverse=True, keep_order=True, name="backward" + suffix)
      fwd_carry, fwd = forward(states, seq_lengths=lengths)
      bwd_carry, bwd = backward(states, seq_lengths=lengths)
      states = jnp.concatenate([fwd, bwd], axis=-1)  # [b, s, 2n]
    if self.skip_embeddings:
      states = jnp.concatenate([states, x], axis=-1)  # [b, s, 2n + e]
    if self.pooling == "attention":
      sentence, weights = AttentionPooling(self.attention_size, name="pool")(states, mask)
      self.sow("intermediates", "attention", weights)
    else:
      final = lambda carry: carry[1] if self.cell == "lstm" else carry  # an LSTM's carry is (c, h)
      sentence = pool_states(states, mask, self.pooling, jnp.concatenate([final(fwd_carry), final(bwd_carry)], -1))
    sentence = example_dropout(sentence, self.output_dropout, dropout_keys, stream=1)
    return nn.Dense(self.num_classes, name="classifier")(sentence)
