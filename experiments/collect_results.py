r"""Writes a results table (`results/NAME.json`) from the training runs' own files, never by hand.

  python -m experiments.collect_results --spec=results/ram_offline.spec.json --root=$HOME/runs \
      --out=results/ram_offline.json [--markdown=F.md] [--curves=F.png] [--previous=results/ram_offline.json]

`python -m experiments.reproduce` trains what a table needs and then calls this; run it alone to re-read runs.
The spec (`experiments/specs.py`) is JSON: {"title": ..., "metrics": ["error", ...], "rows": [{"id": ..., "config":
..., "overrides": {...}, "seeds": [...], ...fixed fields of the row (the paper's number, a table name)...}, ...]}.
Row ID's seed S ran in ROOT/ID_sS. For every row the output holds the spec's fields, and from each workdir's
`eval.json` (`experiments.evaluate`), `run.json` (`experiments.train`) and `config.json`:
  METRICs       one value per seed of each metric named in the spec (`errors`, `accuracies`, `catch_rates`), and
                mean_METRIC / spread_METRIC (max - min over the seeds)
  seeds         the config seed of each run
  steps, batch_size, wall_s, hardware, command, commit, workdirs   one per seed
A workdir without eval.json or run.json is an error that names the file. A metric may be read from another key of
eval.json: `"read": {"error": "error_16_paths"}` in the spec (or in a row, for that row only) takes the table's
`error` from eval.json's `error_16_paths` (RAM's evaluation rules, `tasks/ram.py`), and each row records it as
`read_from`; `"also": [KEY, ...]` records those eval.json keys too, per seed (null where a run has none, as for the
baselines, which have one rule), and the Markdown table shows their means in columns headed by
`"also_labels": {KEY: header}`. `--curves=F.png` also draws each row's test metric (the spec's first) against the
training step from the runs' `metrics.jsonl`: only the rows marked `"headline": true` when some are, else every row;
titled by the spec's `"curves_title"` (else its title), since the evaluations made during training may use another
rule than the table. `--markdown=F.md` writes the table as docs/results/ pages show it (one line per row: the paper's
number, each seed's, mean and spread, steps, wall minutes per seed), so the docs' figures are pasted from the
collected files, not typed.

Workdirs do not outlive the machine they ran on. `--previous=results/NAME.json` (a table this script wrote before)
lets a row whose workdirs are all gone keep its measurement: a row of that table whose recorded commands ran
exactly the spec row's config, overrides and seeds (`specs.measured_as_specified`) is copied as it was measured,
with the spec's fixed fields (labels, the paper's number) on top and `carried_from` naming the file; each row also
records its test curve (`test_curves`: [[step, value], ...] per seed), so a carried row still draws in `--curves`,
and, where its runs evaluated on the validation split during training, its `valid_curves` (drawn beside other
tables' rows by `experiments.compare_curves`).
A row with some workdirs present and others gone, or gone and not in the previous table, is an error.
"""

import json
import os
import sys

from absl import app, flags

from experiments import cli
from experiments import specs


def define_flags() -> None:
  """The binary's flags, defined only when it runs as one (experiments.reproduce imports this module)."""
  flags.DEFINE_string("spec", None, "JSON spec of the table: its rows and their runs (experiments/specs.py).")
  flags.DEFINE_string("root", None, "Folder of the runs' workdirs: row ID's seed S is ROOT/ID_sS.")
  flags.DEFINE_string("out", None, "The results file to write (JSON).")
  flags.DEFINE_string("curves", "", "Also plot each row's test metric (the spec's first) against the "
                      "training step, from the runs' metrics.jsonl, to this PNG.")
  flags.DEFINE_string("markdown", "", "Also write the table as Markdown to this file (the docs' form).")
  flags.DEFINE_string("previous", "", "A results table this script wrote before: rows whose workdirs "
                      "are all gone are copied from it (matched by the runs they name), not re-read.")
  flags.mark_flags_as_required(["spec", "root", "out"])


def plural(name: str) -> str:
  """error -> errors, accuracy -> accuracies: the key of a metric's per-seed list."""
  if name.endswith("y"):
    return name[:-1] + "ies"
  return name + ("es" if name.endswith("s") else "s")


def collect_row(row: dict, metrics, read=None, also=()) -> dict:
  """One row of the table from its workdirs (one per seed); `read` maps a metric to the eval.json key it is read
  from (the row's own "read" wins), `also` names eval.json keys recorded per seed as they are."""
  from attention_jax import run_record  # pylint: disable=g-import-not-at-top
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  read = dict(read or {}) | row.get("read", {})
  fixed = {k: v for k, v in row.items() if k not in ("workdirs", "read", "seeds")}
  runs = []
  for workdir in row["workdirs"]:
    workdir = os.path.expanduser(workdir)
    runs.append((run_record.read_run_file(workdir, "eval.json", "python -m experiments.evaluate"),
                 run_record.read_run_file(workdir, "run.json", "python -m experiments.train"),
                 run_record.read_run_file(workdir, "config.json", "python -m experiments.train")))
  out = dict(fixed)
  for metric in metrics:
    key = read.get(metric, metric)
    for workdir, (evaluation, _, _) in zip(row["workdirs"], runs):
      if key not in evaluation:
        raise UserError(f"{os.path.join(workdir, 'eval.json')} has no {key!r} (row {row['row']!r}); run python -m "
                        f"experiments.evaluate --workdir={workdir} with today's code")
    values = [float(evaluation[key]) for evaluation, _, _ in runs]
    out[plural(metric)] = values
    out[f"mean_{metric}"] = sum(values) / len(values)
    out[f"spread_{metric}"] = max(values) - min(values)
  if read:
    out["read_from"] = {m: read.get(m, m) for m in metrics}
  if also:
    out["also"] = {key: [evaluation.get(key) for evaluation, _, _ in runs] for key in also}
  out["seeds"] = [config["seed"] for _, _, config in runs]
  out["steps"] = [int(evaluation["step"]) for evaluation, _, _ in runs]
  out["batch_size"] = [config["batch_size"] for _, _, config in runs]
  for field in ("wall_s", "hardware", "command", "commit"):
    out[field] = [record[field] for _, record, _ in runs]
  out["workdirs"] = [os.path.expanduser(w) for w in row["workdirs"]]
  for split in ("test", "valid"):  # the validation curve only where the runs evaluated on a held-out split
    curves = read_curves(row["workdirs"], metrics[0], split)
    if split == "test" or any(curves):
      out[f"{split}_curves"] = [[list(point) for point in curve] for curve in curves]
  return out


def carried_row(row: dict, previous: dict, previous_path: str) -> dict:
  """The spec row's measurement copied from `previous` (a table collected before): the first of its rows that ran
  exactly the spec row's runs; the spec's fixed fields win (a relabelled row keeps its runs)."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  matches = [old for old in previous["rows"] if specs.measured_as_specified(row, old)]
  if not matches:
    raise UserError(f"row {row['row']!r}: its workdirs {row['workdirs']} are gone and no row of "
                    f"--previous={previous_path} ran its config {row['config']} with its overrides and seeds; "
                    "rerun it (python -m experiments.reproduce) or take it out of the spec")
  fixed = {k: v for k, v in row.items() if k not in ("workdirs", "read", "seeds")}
  return {**matches[0], **fixed, "carried_from": previous_path}


def row_label(row: dict) -> str:
  return f"{row['row']} ({row['data']})" if "data" in row else row["row"]


def read_curves(workdirs, metric: str, split: str = "test") -> list:
  """[[(step, value of `metric` on `split`), ...] per workdir], from each run's metrics.jsonl."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  return [[(r["step"], r[metric]) for r in io_utils.read_json_lines(os.path.join(os.path.expanduser(w), "metrics.jsonl"))
           if r["split"] == split and metric in r] for w in workdirs]


def table_curves(spec: dict, table: dict) -> dict:
  """test_curves of the collected `table` (carried rows included, from their recorded curves), for the rows the
  spec marks `"headline": true` when there are any, else every row; a carried row that recorded no curve (collected
  before rows did) is left out, with a line on stderr."""
  chosen = {row_label(row) for row in spec["rows"] if row.get("headline")}
  curves = {}
  for row in table["rows"]:
    if chosen and row_label(row) not in chosen:
      continue
    if "test_curves" not in row:
      print(f"--curves: {row_label(row)} has no recorded curve (carried from a table collected before curves "
            "were recorded); left out", file=sys.stderr)
      continue
    curves[row_label(row)] = [[tuple(point) for point in curve] for curve in row["test_curves"]]
  return curves


def percent(value) -> str:
  return "n/a" if value is None else f"{100 * value:.2f}%"


def mean_of_present(values) -> float | None:
  present = [v for v in values if v is not None]
  return sum(present) / len(present) if present else None


def markdown_table(table: dict, metric: str = "error", also=(), labels=None, more=(), paper_key="",
                   paper_label="paper", value_label="this suite, per seed") -> str:
  """The collected table as Markdown: table | row (data) | paper | per seed | mean (spread) | the mean of each
  `more` metric | one column per `also` key (its mean over the seeds) | steps | wall minutes.

  Values are shown as percentages. The paper's number is the row's `paper_key` field (default `paper_METRIC`),
  headed `paper_label`; `metric`'s own columns are headed `value_label`. A row without it shows "n/a" there, and one without an `also` key "n/a" in its column.
  `labels` heads the `more` and `also` columns (default: their keys)."""
  labels = labels or {}
  header = ["table", "row (the paper's label)", paper_label, value_label, "mean (spread)",
            *[labels.get(key, key) for key in (*more, *also)], "steps", "wall minutes per seed"]
  lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
  for row in table["rows"]:
    values = row[plural(metric)]
    mean = percent(row[f"mean_{metric}"])
    if len(values) > 1:
      mean += f" (spread {100 * row[f'spread_{metric}']:.2f})"
    steps = " / ".join(f"{s:,}" for s in sorted(set(row["steps"])))
    minutes = " + ".join(f"{w / 60:.0f}" for w in row["wall_s"])
    others = "".join(f"{percent(row.get(f'mean_{key}'))} | " for key in more)
    others += "".join(f"{percent(mean_of_present(row.get('also', {}).get(key, [])))} | " for key in also)
    paper = percent(row.get(paper_key or f"paper_{metric}"))
    lines.append(f"| {row.get('table', '')} | {row_label(row)} | {paper} | "
                 f"{' / '.join(percent(v) for v in values)} | {mean} | {others}{steps} | {minutes} |")
  return "\n".join(lines) + "\n"


def read_previous(path: str) -> dict:
  """The table at `path` (--previous), checked to be one this script wrote."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    with open(path, encoding="utf-8") as f:
      table = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"--previous={path}: expected a results table written by this script ({e})") from e
  if not isinstance(table, dict) or not isinstance(table.get("rows"), list):
    raise UserError(f"--previous={path}: expected a results table written by this script (a JSON object with 'rows')")
  return table


def collect(spec: dict, root: str, previous: dict | None = None, previous_path: str = "") -> dict:
  """The table of `spec` from the runs under `root`; rows whose workdirs are all gone come from `previous` (see the
  module docstring)."""
  spec = specs.with_workdirs(spec, root)
  metrics = spec.get("metrics", ["error"])
  rows = []
  for row in spec["rows"]:
    gone = [not os.path.isdir(os.path.expanduser(w)) for w in row["workdirs"]]
    if previous is not None and all(gone):
      rows.append(carried_row(row, previous, previous_path))
    else:
      rows.append(collect_row(row, metrics, spec.get("read"), spec.get("also", ())))
  return {"title": spec.get("title", ""), "generated_by": "python -m experiments.collect_results", "rows": rows}


def main(argv):
  del argv
  spec = cli.run_reporting_user_errors(specs.load_spec, flags.FLAGS.spec)
  previous = cli.run_reporting_user_errors(read_previous, flags.FLAGS.previous) if flags.FLAGS.previous else None
  table = cli.run_reporting_user_errors(collect, spec, flags.FLAGS.root, previous, flags.FLAGS.previous)
  write_table(spec, table, flags.FLAGS.out, flags.FLAGS.markdown, flags.FLAGS.curves)
  for row in table["rows"]:
    shown = {k: v for k, v in row.items() if k.startswith("mean_")}
    print(row.get("row", ""), json.dumps(shown), file=sys.stdout)


def write_table(spec: dict, table: dict, out: str, markdown: str = "", curves: str = "") -> None:
  """Writes the collected `table` to `out` (JSON) and, where named, its Markdown and its curves."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  io_utils.atomic_write_json(out, table)
  if curves:
    from attention_jax import plotting  # pylint: disable=g-import-not-at-top
    plotting.rows_against_steps(table_curves(spec, table), spec.get("metrics", ["error"])[0], curves,
                                spec.get("curves_title", spec.get("title", "")))
  if markdown:
    metrics = spec.get("metrics", ["error"])
    io_utils.atomic_write_text(markdown, markdown_table(
        table, metrics[0], spec.get("also", ()), spec.get("also_labels"), metrics[1:], spec.get("paper_key", ""),
        spec.get("paper_label", "paper"), spec.get("value_label", "this suite, per seed")))


if __name__ == "__main__":
  define_flags()
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
