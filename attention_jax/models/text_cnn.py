"""Kim (2014)'s convolutional sentence classifier, CNN-rand: the reference the text-classification targets cite.

Section 2 of "Convolutional Neural Networks for Sentence Classification", with random word vectors:
  x_{i:i+h-1}                    the embeddings of words i .. i+h-1, zero vectors past either end of the sentence
  c_i = relu(w . x_{i:i+h-1} + b)    one feature map per filter, windows h = 3, 4, 5, 100 filters each (eq. 2)
  c^ = max_i c_i                 max-over-time pooling, over the windows that hold at least one real word
  y = softmax(W (z o r) + b)     dropout 0.5 on the pooled vector z = [c^_1 .. c^_300] (eq. 5)
Here as in the BiLSTM family it is trained by `tasks.text_classification` (Adam with decoupled weight decay, not
Kim's Adadelta with a max-norm constraint of 3 on W), so running it beside the BiLSTM separates what the data
preparation gives from what the model gives. Windows are zero-padded by h - 1 at both ends (a window may start
before the first word and end after the last), so every real word is seen by every filter position that covers
it, and the output never depends on how far a batch is padded.
"""

import flax.linen as nn
import jax.numpy as jnp

from attention_jax.models.text_classifier import example_dropout, length_mask


def window_maxima(features, lengths, width: int):
  """Max-over-time of `features` [b, s + width - 1, f] (one row per window of `width` words, windows starting
  width - 1 before the first word) over the windows holding a real word: those starting before word `lengths`."""
  positions = jnp.arange(features.shape[1])[None, :]
  real = positions < (lengths + width - 1)[:, None]  # window j covers words j-width+1 .. j
  return jnp.max(jnp.where(real[..., None], features, jnp.finfo(features.dtype).min), axis=1)


class TextCNN(nn.Module):
  """Embedding, one convolution per window width with max-over-time pooling, dropout, softmax classifier.

  Attributes:
    vocab_size: words in the vocabulary (ids 0 pad, 3 unknown; see `text.vocab.WordVocab`).
    num_classes: labels.
    embed_size: word vector size (randomly initialised; Kim: 300).
    widths: window widths h of the filters (Kim: 3, 4, 5).
    num_filters: feature maps per width (Kim: 100).
    embed_dropout: dropout rate on the word vectors (Kim: none).
    output_dropout: dropout rate on the pooled vector (Kim: 0.5).

  Args:
    tokens: <int32>[batch, seq] word ids, padded with 0.
    lengths: <int32>[batch] real words per sentence (at least 1).
    dropout_keys: <uint32>[batch, 2] one key per example while training; None evaluates (no dropout).

  Returns:
    <float32>[batch, num_classes] logits.
  """
  vocab_size: int
  num_classes: int
  embed_size: int = 300
  widths: tuple = (3, 4, 5)
  num_filters: int = 100
  embed_dropout: float = 0.0
  output_dropout: float = 0.5

  @nn.compact
  def __call__(self, tokens, lengths, dropout_keys=None):
    mask = length_mask(lengths, tokens.shape[1])
    x = nn.Embed(self.vocab_size, self.embed_size, embedding_init=nn.initializers.normal(0.1), name="embed")(tokens)
    x = example_dropout(x * mask[..., None], self.embed_dropout, dropout_keys, stream=0)  # padding: zero vectors
    pooled = []
    for width in self.widths:
      padded = jnp.pad(x, ((0, 0), (width - 1, width - 1), (0, 0)))
      features = nn.relu(nn.Conv(self.num_filters, (width,), padding="VALID", name=f"conv{width}")(padded))
      pooled.append(window_maxima(features, lengths, width))  # [b, num_filters]
    sentence = example_dropout(jnp.concatenate(pooled, axis=-1), self.output_dropout, dropout_keys, stream=1)
    return nn.Dense(self.num_classes, name="classifier")(sentence)
