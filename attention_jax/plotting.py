"""Figures written into `workdir/plots/` (matplotlib with the Agg backend: no display needed)."""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def save_figure(fig, path: str) -> str:
  """Saves atomically (temporary file + rename) and closes the figure."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=os.path.splitext(path)[1])
  os.close(fd)
  try:
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)
  finally:
    plt.close(fig)
    if os.path.exists(tmp):
      os.unlink(tmp)
  return path


def training_curves(rows: list, path: str, skip=("steps_per_s", "learning_rate", "num_examples")) -> str | None:
  """One panel per metric, train and test lines against the step, from metrics.jsonl rows."""
  names = sorted({k for r in rows for k in r if k not in ("step", "split") and k not in skip})
  if not names:
    return None
  cols = min(3, len(names))
  nrows = (len(names) + cols - 1) // cols
  fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
  for ax, name in zip(axes.flat, names):
    for split in sorted({r["split"] for r in rows}):
      pts = [(r["step"], r[name]) for r in rows if r["split"] == split and name in r]
      if pts:
        ax.plot(*zip(*pts), label=split, marker="." if len(pts) < 30 else None)
    ax.set_title(name)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend()
  for ax in list(axes.flat)[len(names):]:
    ax.axis("off")
  fig.tight_layout()
  return save_figure(fig, path)
