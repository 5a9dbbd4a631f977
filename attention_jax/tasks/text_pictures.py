"""Pictures of word attention: sentences with each word shaded by its weight, and the top-3 share per class."""

import numpy as np

from attention_jax import plotting
from attention_jax.plotting import plt


def pick_examples(labels, predicted, count: int):
  """Indices of the first `count` correct and the first `count` wrong predictions (fewer if there are fewer)."""
  correct = np.flatnonzero(labels == predicted)[:count]
  wrong = np.flatnonzero(labels != predicted)[:count]
  return list(correct) + list(wrong)


def sentence_strips(words, weights, lengths, labels, predicted, classes, path: str, count: int = 6) -> str:
  """One strip per sentence: its words left to right, each on a red background whose depth is its weight against
  the uniform share (alpha_t * n: white at or below 1/n, darkest at 2/n or more), the gold and predicted labels
  before it."""
  picked = pick_examples(np.asarray(labels), np.asarray(predicted), count)
  fig, ax = plt.subplots(figsize=(12, 0.45 * len(picked) + 0.6))
  ax.set_axis_off()
  cmap = plt.get_cmap("Reds")
  renderer = fig.canvas.get_renderer()
  for row, i in enumerate(picked):
    y = 1.0 - (row + 0.5) / len(picked)
    mark = "ok" if labels[i] == predicted[i] else "WRONG"
    head = ax.text(0.0, y, f"{mark} gold {classes[labels[i]]} / pred {classes[predicted[i]]}:", fontsize=8,
                   va="center", transform=ax.transAxes)
    x = head.get_window_extent(renderer).transformed(ax.transAxes.inverted()).x1 + 0.01
    n = int(lengths[i])
    for word, weight in zip(words[i][:n], weights[i][:n]):
      depth = min(max(float(weight) * n - 1.0, 0.0), 1.0)  # 0 at the uniform share, 1 at twice it
      t = ax.text(x, y, word, fontsize=8, va="center", transform=ax.transAxes,
                  bbox=dict(facecolor=cmap(0.05 + 0.85 * depth), edgecolor="none", pad=1.5))
      x = t.get_window_extent(renderer).transformed(ax.transAxes.inverted()).x1 + 0.006
  ax.set_title("word attention on test sentences (white: the uniform share 1/n or less; darkest: 2/n or more)",
               fontsize=9)
  return plotting.save_figure(fig, path)


def top_share_bars(shares: dict, path: str) -> str:
  """The mean share of attention on each sentence's 3 most attended words, per predicted class."""
  fig, ax = plt.subplots(figsize=(max(3.0, 0.7 * len(shares) + 1.5), 2.8))
  ax.bar(list(shares), list(shares.values()), color="firebrick")
  ax.set_ylim(0, 1)
  ax.set_ylabel("attention on top-3 words")
  ax.set_xlabel("predicted class")
  return plotting.save_figure(fig, path)
