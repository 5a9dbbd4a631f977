"""Figures written into `workdir/plots/` (matplotlib with the Agg backend: no display needed)."""

import os
import tempfile
import textwrap

import matplotlib

from attention_jax import io_utils

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top,wrong-import-position


def save_figure(fig, path: str, write=None) -> str:
  """Saves atomically (temporary file + rename) and closes the figure; `write(tmp_path)` replaces the default
  `fig.savefig` (e.g. an animation's own writer)."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, suffix=os.path.splitext(path)[1])
  os.close(fd)
  try:
    if write is None:
      fig.savefig(tmp, dpi=110, bbox_inches="tight")
    else:
      write(tmp)
    os.chmod(tmp, io_utils.readable_mode())
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


def metric_curves(rows: list, names, split: str, path: str, title: str = "") -> str | None:
  """Selected metrics of one split against the step, in one panel (e.g. RAM's reward, accuracy and baseline)."""
  fig, ax = plt.subplots(figsize=(6, 3.5))
  drawn = 0
  for name in names:
    pts = [(r["step"], r[name]) for r in rows if r["split"] == split and name in r]
    if pts:
      ax.plot(*zip(*pts), label=name)
      drawn += 1
  if not drawn:
    plt.close(fig)
    return None
  ax.set_xlabel("step")
  ax.set_title(title or f"{split} metrics")
  ax.grid(alpha=0.3)
  ax.legend()
  return save_figure(fig, path)


def glimpse_strips(images, locations, glimpses, glimpse_size: int, num_scales: int, path: str,
                   labels=None, predictions=None) -> str:
  """One row per image: the image with every glimpse's boxes (all scales) numbered in order and joined by the
  path, then what the sensor returned at each step (scales side by side, finest first).

  images [n, h, w, 1]; locations [n, T, 2] as (row, column) in [-1, 1]; glimpses [n, T, k, g, g, 1].
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  from matplotlib import patches  # pylint: disable=g-import-not-at-top
  from attention_jax.models import glimpse  # pylint: disable=g-import-not-at-top
  images, locations, glimpses = np.asarray(images), np.asarray(locations), np.asarray(glimpses)
  n, steps = locations.shape[:2]
  h, w = images.shape[1:3]
  stretch = max(1, num_scales / 2)  # the image column is square: taller rows give it room beside wide strips
  fig, axes = plt.subplots(n, steps + 1, figsize=(1.9 * (steps + 1) * stretch, 2.0 * n * stretch),
                           squeeze=False, gridspec_kw={"width_ratios": [max(2, num_scales)] + [num_scales] * steps})
  colours = plt.cm.viridis(np.linspace(0.0, 0.9, steps))
  for i in range(n):
    ax = axes[i, 0]
    ax.imshow(images[i, :, :, 0], cmap="gray", vmin=0, vmax=255)
    centres = (locations[i] + 1) / 2 * np.array([h, w])  # (row, col) pixel coordinates
    ax.plot(centres[:, 1], centres[:, 0], "-", color="orange", lw=1)
    for t in range(steps):
      for s in range(num_scales):
        width = glimpse_size * 2 ** s
        top, left = np.asarray(glimpse.patch_starts(locations[i, t], (h, w), width))
        ax.add_patch(patches.Rectangle((left - 0.5, top - 0.5), width, width, fill=False, lw=1,
                                       edgecolor=colours[t], alpha=1.0 - 0.2 * s))
      ax.text(centres[t, 1], centres[t, 0], str(t + 1), color="red", fontsize=8, ha="center", va="center")
    title = ""
    if labels is not None:
      title = f"label {int(labels[i])}" + (f", pred {int(predictions[i])}" if predictions is not None else "")
    ax.set_title(title, fontsize=8)
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    for t in range(steps):
      scales = [glimpses[i, t, s, :, :, 0] for s in range(num_scales)]
      axes[i, t + 1].imshow(np.concatenate(scales, axis=1), cmap="gray", vmin=0, vmax=255)
      axes[i, t + 1].set_title(f"glimpse {t + 1}", fontsize=8)
  for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
  fig.tight_layout()
  return save_figure(fig, path)


def use_cjk_font() -> None:
  """Lets labels mix Latin and CJK text: DejaVu Sans first, Noto Sans CJK SC (from the `mplfonts` wheel) after."""
  from matplotlib import font_manager  # pylint: disable=g-import-not-at-top
  try:
    import importlib.resources  # pylint: disable=g-import-not-at-top
    path = importlib.resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"
  except ModuleNotFoundError:
    return
  if os.path.isfile(str(path)) and "Noto Sans CJK SC" not in {f.name for f in font_manager.fontManager.ttflist}:
    font_manager.fontManager.addfont(str(path))
  matplotlib.rcParams["font.family"] = ["DejaVu Sans", "Noto Sans CJK SC"]


def alignment_heatmap(weights, source_tokens, target_tokens, path: str, title: str = "") -> str:
  """Attention weights as a grey-scale matrix: source tokens across, target tokens down (Bahdanau et al.,
  Figure 3). weights [len(target_tokens), len(source_tokens)]."""
  use_cjk_font()
  rows, cols = len(target_tokens), len(source_tokens)
  fig, ax = plt.subplots(figsize=(max(3.0, 0.32 * cols + 1.5), max(2.5, 0.32 * rows + 1.2)))
  ax.imshow(weights, cmap="gray", vmin=0.0, vmax=1.0, aspect="auto")
  ax.set_xticks(range(cols))
  ax.set_xticklabels([t if t.strip() else repr(t) for t in source_tokens], rotation=90)
  ax.set_yticks(range(rows))
  ax.set_yticklabels([t if t.strip() else repr(t) for t in target_tokens])
  ax.xaxis.tick_top()
  if title:
    ax.set_title(title)
  return save_figure(fig, path)


def bleu_by_length(results: dict, path: str, title: str = "") -> str | None:
  """BLEU against source length, one line per model (Bahdanau et al., Figure 2). results: {name: rows of
  {'min_len', 'max_len', 'bleu', 'sentences'}}; a last bin with max_len None (open: min_len or more) is drawn
  one bin width on and labelled "min_len+"."""
  if not any(results.values()):
    return None
  fig, ax = plt.subplots(figsize=(5.5, 3.6))
  ticks = {}
  for name, rows in sorted(results.items()):
    width = rows[0]["max_len"] - rows[0]["min_len"] + 1 if rows and rows[0]["max_len"] is not None else 10
    centres = []
    for r in rows:
      lo, hi = r["min_len"], r["max_len"] if r["max_len"] is not None else r["min_len"] + width - 1
      centres.append((lo + hi) / 2)
      ticks[centres[-1]] = f"{lo}-{hi}" if r["max_len"] is not None else f"{lo}+"
    ax.plot(centres, [r["bleu"] for r in rows], marker="o", label=name)
  if any(r["max_len"] is None for rows in results.values() for r in rows):
    ax.set_xticks(sorted(ticks))
    ax.set_xticklabels([ticks[t] for t in sorted(ticks)], fontsize=8)
  if title:
    ax.set_title(title, fontsize=9)
  ax.set_xlabel("source sentence length (tokens)")
  ax.set_ylabel("BLEU")
  ax.grid(alpha=0.3)
  ax.legend()
  return save_figure(fig, path)


def _catch_frame(ax, frame, location, glimpse_size: int, num_scales: int, title: str):
  from matplotlib import patches  # pylint: disable=g-import-not-at-top
  from attention_jax.models import glimpse  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  size = frame.shape[0]
  ax.imshow(frame, cmap="gray", vmin=0, vmax=1)
  for s in range(num_scales):
    width = glimpse_size * 2 ** s
    top, left = np.asarray(glimpse.patch_starts(np.asarray(location), (size, size), width))
    ax.add_patch(patches.Rectangle((left - 0.5, top - 0.5), width, width, fill=False, lw=1.2,
                                   edgecolor=("red", "orange", "yellow", "lime")[s % 4]))
  ax.set_xlim(-0.5, size - 0.5)
  ax.set_ylim(size - 0.5, -0.5)
  ax.set_xticks([])
  ax.set_yticks([])
  ax.set_title(title, fontsize=7)


def catch_game(frames, locations, actions, caught: bool, glimpse_size: int, num_scales: int, path: str) -> str:
  """One Catch game with the glimpse boxes (all scales) on every frame: a PNG strip, or an animated GIF when
  `path` ends in .gif. frames [T, 24, 24]; locations [T, 2]; actions [T] (0 left, 1 stay, 2 right)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  frames, locations, actions = np.asarray(frames), np.asarray(locations), np.asarray(actions)
  names = ("left", "stay", "right")
  steps = len(frames)
  end = "caught" if caught else "missed"
  if path.endswith(".gif"):
    from matplotlib import animation  # pylint: disable=g-import-not-at-top
    fig, ax = plt.subplots(figsize=(3, 3))

    def draw(t):
      ax.clear()
      _catch_frame(ax, frames[t], locations[t], glimpse_size, num_scales,
                   f"frame {t + 1}/{steps}: {names[int(actions[t])]}" + (f" ({end})" if t == steps - 1 else ""))

    movie = animation.FuncAnimation(fig, draw, frames=steps)
    return save_figure(fig, path, write=lambda tmp: movie.save(tmp, writer=animation.PillowWriter(fps=4)))
  cols = 8
  rows = (steps + cols - 1) // cols
  fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows), squeeze=False)
  for t, ax in enumerate(axes.flat):
    if t < steps:
      _catch_frame(ax, frames[t], locations[t], glimpse_size, num_scales, f"{t + 1}: {names[int(actions[t])]}")
    else:
      ax.axis("off")
  fig.suptitle(f"one game: {end}", fontsize=9)
  return save_figure(fig, path)


def catch_curve(points: dict, path: str) -> str | None:
  """Catch rate against frames seen; points: {label: [(frames, rate)]}, one line per label."""
  if not any(points.values()):
    return None
  fig, ax = plt.subplots(figsize=(5.5, 3.5))
  for label, pts in points.items():
    if pts:
      ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 30 else None)
  ax.set_xlabel("frames seen")
  ax.set_ylabel("catch rate")
  ax.set_ylim(0, 1)
  ax.grid(alpha=0.3)
  ax.legend()
  return save_figure(fig, path)


def rows_against_steps(curves: dict, metric: str, path: str, title: str = "", split: str = "test") -> str | None:
  """One line per table row: {label: [(step, value), ...] per seed} -> the mean over seeds at each step, with the
  seeds' range shaded (a results table's error-against-steps figure; `split` names the data in the axis label)."""
  if not curves:
    return None
  fig, ax = plt.subplots(figsize=(7, 4.5 + 0.2 * len(curves)))
  for label, seeds in curves.items():
    steps = sorted(set.intersection(*[{s for s, _ in seed} for seed in seeds]))
    if not steps:
      continue
    values = [[dict(seed)[s] for s in steps] for seed in seeds]
    mean = [sum(v) / len(v) for v in zip(*values)]
    seeds_said = f"{len(seeds)} seed" + "s" * (len(seeds) > 1)
    line, = ax.plot(steps, [100 * m for m in mean], marker="o", markersize=3, label=f"{label} ({seeds_said})")
    if len(seeds) > 1:
      ax.fill_between(steps, [100 * min(v) for v in zip(*values)], [100 * max(v) for v in zip(*values)],
                      color=line.get_color(), alpha=0.2)
  ax.set_xlabel("training step")
  ax.set_ylabel(f"{'validation' if split == 'valid' else split} {metric} (%)")
  ax.set_yscale("log")
  ax.grid(True, which="both", alpha=0.3)
  ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below the axes: the lines stay visible
  ax.set_title("\n".join(textwrap.wrap(title, 80)), fontsize=9)
  fig.tight_layout()
  return save_figure(fig, path)
