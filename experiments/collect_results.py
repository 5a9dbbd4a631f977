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
A workdir without eval.json or run.json is an error that names the file. A metric may be read from another key of
eval.json: `"read": {"error": "error_16_paths"}` in the spec (or in a row, for that row only) takes the table's
`error` from eval.json's `error_16_paths` (RAM's evaluation rules, `tasks/ram.py`), and each row records it as
`read_from`; `"also": [KEY, ...]` records those eval.json keys too, per seed (null where a run has none, as for the
baselines, which have one rule), and the Markdown table shows their means in columns headed by
`"also_labels": {KEY: header}`. `--curves=F.png` also draws each row's test metric (the spec's first) against the
training step from the runs' `metrics.jsonl`: only the rows marked `"headline": true` when some are, else every row;
titled by the spec's `"curves_title"` (else its title), since the evaluations made during training may use another
rule than the table. `--markdown=F.md` writes the table as the README shows it (one line per row: the paper's
number, each seed's, mean and spread, steps, wall minutes per seed), so the README's figures are pasted from the
collected files, not typed.
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


def collect_row(row: dict, metrics, read=None, also=()) -> dict:
  """One row of the table from its workdirs (one per seed); `read` maps a metric to the eval.json key it is read
  from (the row's own "read" wins), `also` names eval.json keys recorded per seed as they are."""
  from attention_jax import run_record  # pylint: disable=g-import-not-at-top
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  read = dict(read or {}) | row.get("read", {})
  fixed = {k: v for k, v in row.items() if k not in ("workdirs", "read")}
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


def mean_of_present(values) -> float | None:
  present = [v for v in values if v is not None]
  return sum(present) / len(present) if present else None


def markdown_table(table: dict, metric: str = "error", also=(), labels=None) -> str:
  """The collected table as Markdown: table | row (data) | paper | per seed | mean (spread) | one column per `also`
  key (its mean over the seeds, headed by its `labels` entry) | steps | wall minutes.

  Values of `metric` are shown as percentages; a row without a `paper_METRIC` shows "n/a" there, and one without
  an `also` key "n/a" in its column."""
  header = ["table", "row (the paper's label)", "paper", "this suite, per seed", "mean (spread)",
            *[(labels or {}).get(key, key) for key in also], "steps", "wall minutes per seed"]
  lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
  for row in table["rows"]:
    values = row[plural(metric)]
    mean = percent(row[f"mean_{metric}"])
    if len(values) > 1:
      mean += f" (spread {100 * row[f'spread_{metric}']:.2f})"
    steps = " / ".join(f"{s:,}" for s in sorted(set(row["steps"])))
    minutes = " + ".join(f"{w / 60:.0f}" for w in row["wall_s"])
    others = "".join(f"{percent(mean_of_present(row.get('also', {}).get(key, [])))} | " for key in also)
    lines.append(f"| {row.get('table', '')} | {row_label(row)} | {percent(row.get(f'paper_{metric}'))} | "
                 f"{' / '.join(percent(v) for v in values)} | {mean} | {others}{steps} | {minutes} |")
  return "\n".join(lines) + "\n"


def collect(spec: dict) -> dict:
  metrics = spec.get("metrics", ["error"])
  return {"title": spec.get("title", ""), "generated_by": "python -m experiments.collect_results",
          "rows": [collect_row(row, metrics, spec.get("read"), spec.get("also", ())) for row in spec["rows"]]}


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
                                spec.get("curves_title", spec.get("title", "")))
  if _MARKDOWN.value:
    io_utils.atomic_write_text(_MARKDOWN.value, markdown_table(
        table, spec.get("metrics", ["error"])[0], spec.get("also", ()), spec.get("also_labels")))
  for row in table["rows"]:
    shown = {k: v for k, v in row.items() if k.startswith("mean_")}
    print(row.get("row", ""), json.dumps(shown), file=sys.stdout)


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
