r"""Writes a results table (`results/NAME.json`) from the training runs' own files, never by hand.

  python -m experiments.collect_results --spec=results/ram_offline.spec.json --out=results/ram_offline.json

The spec is JSON: {"title": ..., "metrics": ["error", ...], "rows": [{"row": "label", "workdirs": [DIR, ...],
...any fixed fields of the row (the paper's number, a table name)...}, ...]}. Each workdir is one seed of the row;
`~` is expanded. For every row the output holds the spec's fixed fields, and from each workdir's `eval.json`
(`experiments.evaluate`), `run.json` (`experiments.train`) and `config.json`:
  METRICs       one value per seed of each metric named in the spec (`errors`, `accuracies`, `catch_rates`), and
                mean_METRIC / spread_METRIC (max - min over the seeds)
  seeds         the config seed of each run
  steps, batch_size, wall_s, hardware, command, commit   one per seed
A workdir without eval.json or run.json is an error that names the file. `--curves=F.png` also draws each row's
test metric (the spec's first) against the training step from the runs' `metrics.jsonl`: only the rows marked
`"headline": true` when some are, else every row. `--markdown=F.md` writes the table as the README shows it (one
line per row: the paper's number, each seed's, mean and spread, steps, wall minutes per seed), so the README's
figures are pasted from the collected files, not typed.
"""

import json
import os
import sys

from absl import app, flags

from experiments import cli

_SPEC = flags.DEFINE_string("spec", None, "JSON spec of the table (rows and their workdirs).")
_OUT = flags.DEFINE_string("out", None, "The results file to write (JSON).")
_CURVES = flags.DEFINE_string("curves", "", "Also plot each row's test metric (the spec's first) against the "
                              "training step, from the runs' metrics.jsonl, to this PNG.")
_MARKDOWN = flags.DEFINE_string("markdown", "", "Also write the table as Markdown to this file (the README's form).")
flags.mark_flags_as_required(["spec", "out"])


def plural(name: str) -> str:
  """error -> errors, accuracy -> accuracies: the key of a metric's per-seed list."""
  if name.endswith("y"):
    return name[:-1] + "ies"
  return name + ("es" if name.endswith("s") else "s")


def collect_row(row: dict, metrics) -> dict:
  """One row of the table from its workdirs (one per seed)."""
  from attention_jax import run_record  # pylint: disable=g-import-not-at-top
  fixed = {k: v for k, v in row.items() if k != "workdirs"}
  runs = []
  for workdir in row["workdirs"]:
    workdir = os.path.expanduser(workdir)
    runs.append((run_record.read_run_file(workdir, "eval.json", "python -m experiments.evaluate"),
                 run_record.read_run_file(workdir, "run.json", "python -m experiments.train"),
                 run_record.read_run_file(workdir, "config.json", "python -m experiments.train")))
  out = dict(fixed)
  for metric in metrics:
    values = [float(evaluation[metric]) for evaluation, _, _ in runs]
    out[plural(metric)] = values
    out[f"mean_{metric}"] = sum(values) / len(values)
    out[f"spread_{metric}"] = max(values) - min(values)
  out["seeds"] = [config["seed"] for _, _, config in runs]
  out["steps"] = [int(evaluation["step"]) for evaluation, _, _ in runs]
  out["batch_size"] = [config["batch_size"] for _, _, config in runs]
  for field in ("wall_s", "hardware", "command", "commit"):
    out[field] = [record[field] for _, record, _ in runs]
  return out


def row_label(row: dict) -> str:
  return f"{row['row']} ({row['data']})" if "data" in row else row["row"]


def test_curves(spec: dict) -> dict:
  """{row label: [[(step, value of the spec's first metric on the test split), ...] per seed]}, for the rows marked
  `"headline": true` when there are any, else for every row."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  metric = spec.get("metrics", ["error"])[0]
  rows = [row for row in spec["rows"] if row.get("headline")] or spec["rows"]
  curves = {}
  for row in rows:
    curves[row_label(row)] = [[(r["step"], r[metric]) for r in io_utils.read_json_lines(
        os.path.join(os.path.expanduser(w), "metrics.jsonl")) if r["split"] == "test" and metric in r]
                          for w in row["workdirs"]]
  return curves


def percent(value) -> str:
  return "n/a" if value is None else f"{100 * value:.2f}%"


def markdown_table(table: dict, metric: str = "error") -> str:
  """The collected table as Markdown: table | row (data) | paper | per seed | mean (spread) | steps | wall minutes.

  Values of `metric` are shown as percentages; a row without a `paper_METRIC` shows "n/a" there."""
  lines = ["| table | row (the paper's label) | paper | this suite, per seed | mean (spread) | steps | "
           "wall minutes per seed |", "| --- | --- | --- | --- | --- | --- | --- |"]
  for row in table["rows"]:
    values = row[plural(metric)]
    mean = percent(row[f"mean_{metric}"])
    if len(values) > 1:
      mean += f" (spread {100 * row[f'spread_{metric}']:.2f})"
    steps = " / ".join(f"{s:,}" for s in sorted(set(row["steps"])))
    minutes = " + ".join(f"{w / 60:.0f}" for w in row["wall_s"])
    lines.append(f"| {row.get('table', '')} | {row_label(row)} | {percent(row.get(f'paper_{metric}'))} | "
                 f"{' / '.join(percent(v) for v in values)} | {mean} | {steps} | {minutes} |")
  return "\n".join(lines) + "\n"


def collect(spec: dict) -> dict:
  metrics = spec.get("metrics", ["error"])
  return {"title": spec.get("title", ""), "generated_by": "python -m experiments.collect_results",
          "rows": [collect_row(row, metrics) for row in spec["rows"]]}


def main(argv):
  del argv
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  with open(_SPEC.value, encoding="utf-8") as f:
    spec = json.load(f)
  table = cli.run_reporting_user_errors(collect, spec)
  io_utils.atomic_write_json(_OUT.value, table)
  if _CURVES.value:
    from attention_jax import plotting  # pylint: disable=g-import-not-at-top
    plotting.rows_against_steps(test_curves(spec), spec.get("metrics", ["error"])[0], _CURVES.value,
                                spec.get("title", ""))
  if _MARKDOWN.value:
    io_utils.atomic_write_text(_MARKDOWN.value, markdown_table(table, spec.get("metrics", ["error"])[0]))
  for row in table["rows"]:
    shown = {k: v for k, v in row.items() if k.startswith("mean_")}
    print(row.get("row", ""), json.dumps(shown), file=sys.stdout)


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
