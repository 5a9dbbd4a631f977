r"""Rows of collected results tables in one error-against-steps figure, e.g. one recipe trained for two lengths:

  python -m experiments.compare_curves --split=valid \
      --rows=results/ram_recipe.json:recipe_t60_6,results/ram_length.json:length_t60_6_600ep \
      --out=docs/figures/ram_t60_6_200_vs_600_epochs_valid.png

Each --rows entry is RESULTS_FILE:ROW_ID; its curve is the row's recorded `valid_curves` or `test_curves` (as
`experiments.collect_results` writes them from the runs' metrics.jsonl), the mean of its seeds with their range
shaded, labelled by the row's label and its training length. The metric is the first of the files' rows (all of
them must have recorded the same one, e.g. RAM's `error_1_path`).

It also prints, per line, the lowest point of each seed's curve and their mean: with --split=valid that is the
choice a validation split makes between the rows (which length, which recipe), e.g.
  python -m experiments.compare_curves --split=valid \
      --rows=results/ram_lstm.json:lstm_t60_6_200ep,results/ram_lstm.json:lstm_t60_6_400ep \
      --out=/tmp/ram_t60_6_lstm_200_vs_400_valid.png
"""

import os
import sys

from absl import app, flags

from attention_jax import io_utils
from attention_jax.errors import UserError
from experiments import cli


def define_flags():
  """The binary's flags (defined when it runs, so that tests can import this module beside other binaries)."""
  flags.DEFINE_list("rows", None, "RESULTS_FILE:ROW_ID entries, one per line of the figure.")
  flags.DEFINE_enum("split", "valid", ["valid", "test"], "Which recorded curves to draw.")
  flags.DEFINE_string("metric", "error_1_path", "The metric the curves record (for the axis label).")
  flags.DEFINE_string("out", None, "The PNG file to write.")
  flags.DEFINE_string("title", "", "The figure's title.")
  flags.mark_flags_as_required(["rows", "out"])


def read_row(entry: str) -> dict:
  """The row ROW_ID of RESULTS_FILE, from an entry RESULTS_FILE:ROW_ID."""
  path, sep, row_id = entry.rpartition(":")
  if not sep or not path or not row_id:
    raise UserError(f"--rows entry {entry!r} must be RESULTS_FILE:ROW_ID (e.g. results/ram_recipe.json:recipe_t60_6)")
  if not os.path.isfile(path):
    raise UserError(f"--rows entry {entry!r}: no results file {path}")
  table = io_utils.read_json(path)
  rows = {row.get("id"): row for row in table.get("rows", [])}
  if row_id not in rows:
    raise UserError(f"--rows: {path} has no row with id {row_id!r}; it has {', '.join(map(str, rows))}")
  return rows[row_id]


def row_curves(rows: dict, split: str) -> dict:
  """{label: [[(step, value), ...] per seed]} of the rows given as {entry: row}; a row without `SPLIT_curves`
  (or with an empty one) is an error naming it."""
  curves = {}
  for entry, row in rows.items():
    recorded = row.get(f"{split}_curves")
    if not recorded or not all(recorded):
      raise UserError(f"--rows entry {entry}: the row has no recorded {split} curve (collect its table again with "
                      "today's experiments.collect_results, its runs' workdirs present)")
    steps = row.get("overrides", {}).get("num_train_steps", max(row["steps"]))
    curves[f"{row['row']}, {steps:,} steps"] = [[tuple(point) for point in seed] for seed in recorded]
  return curves


def lowest_points(curves: dict) -> dict:
  """{label: ([(step, value) of each seed's lowest point], mean of those values)} of `row_curves`' output."""
  lowest = {}
  for label, seeds in curves.items():
    points = [min(seed, key=lambda point: point[1]) for seed in seeds]
    lowest[label] = (points, sum(value for _, value in points) / len(points))
  return lowest


def main(argv):
  del argv
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  f = flags.FLAGS
  rows = {entry: cli.run_reporting_user_errors(read_row, entry) for entry in f.rows}
  curves = cli.run_reporting_user_errors(row_curves, rows, f.split)
  path = plotting.rows_against_steps(curves, f.metric, f.out, f.title, f.split)
  print(f"lowest {f.split} {f.metric} of each seed (step: value), and their mean:")
  for label, (points, mean) in lowest_points(curves).items():
    print(f"  {label}: " + ", ".join(f"{step:,}: {value:.4f}" for step, value in points) + f"; mean {mean:.4f}")
  print(f"compare_curves: wrote {path}", file=sys.stderr)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
