r"""Writes a translation results file (`results/nmt_europarl.json`) from the runs' own files, never by hand.

  python -m experiments.collect_translation --spec=results/nmt_europarl.spec.json --root=$HOME/runs \
      --out=results/nmt_europarl.json [--previous=results/nmt_europarl.json] [--markdown=TABLE.md]

The spec is JSON: {"title": ..., "models": {NAME: {"id": ..., "config": ..., "overrides": {...}}, ...},
"comparisons": [[BASELINE, SYSTEM], ...], "length_bin": 10, "top_bin": 60, "wide_bins": [[10, 19], [40, null]]};
model NAME's run is ROOT/ID_s0 (`experiments/specs.py`). Each workdir is an evaluated translation run (`experiments.evaluate` wrote its eval.json and translations_test.tsv). Output:
  models       per name: bleu, bleu_no_unk, no_unk_sentences, decode, bleu_by_length (bins `length_bin` wide, sources
               of `top_bin` tokens or more in the last, open one: max_len null), steps, batch_size, wall_s,
               hardware, command, commit
  comparisons  per [baseline, system] pair: the paired bootstrap (attention_jax.nmt.significance, 1,000 samples) on
               every bin, on the `wide_bins` and on the whole test set (min_len null): both BLEUs, the gap, p
  length_drop  per name: BLEU on the first wide bin minus BLEU on the last one (how much long sentences cost)
When every model's workdir is gone, `--previous` (a file this script wrote) is kept as it was measured, if each of
its models ran exactly the spec's config and overrides; the bootstrap needs the translations, so a table is never
half carried.
"""

import json
import os
import sys

from absl import app, flags

from experiments import cli
from experiments import specs


def define_flags() -> None:
  """The binary's flags, defined only when it runs as one (experiments.reproduce imports this module)."""
  flags.DEFINE_string("spec", None, "JSON spec: the models' runs and the comparisons.")
  flags.DEFINE_string("root", None, "Folder of the runs' workdirs: model ID's run is ROOT/ID_s0.")
  flags.DEFINE_string("previous", "", "A file this script wrote: kept when every workdir is gone.")
  flags.DEFINE_string("out", None, "The results file to write (JSON).")
  flags.DEFINE_string("markdown", "", "Also write the table as Markdown to this file (the docs' form).")
  flags.mark_flags_as_required(["spec", "root", "out"])


def collect(spec: dict, root: str, previous_path: str = "") -> dict:
  """The translation table of `spec` from the runs under `root`, or `previous_path`'s (see the module docstring)."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  located = specs.with_workdirs(spec, root)
  if not previous_path or any(os.path.isdir(w) for w in located["models"].values()):
    return results.collect(located)
  try:
    with open(previous_path, encoding="utf-8") as f:
      previous = json.load(f)
  except (OSError, ValueError) as e:
    raise UserError(f"--previous={previous_path}: expected a file this script wrote ({e})") from e
  for name, entry in spec["models"].items():
    measured = (previous.get("models") or {}).get(name, {})
    if not specs.measured_as_specified(entry, {**measured, "id": entry["id"], "seeds": entry.get("seeds", [0])}):
      raise UserError(f"model {name!r}: its workdir is gone and --previous={previous_path} holds no run of its "
                      f"config {entry['config']} with its overrides; rerun it (python -m experiments.reproduce)")
  return {**previous, "title": spec.get("title", previous.get("title", "")), "carried_from": previous_path}


def write_table(table: dict, out: str, markdown: str = "") -> None:
  """Writes the collected `table` to `out` (JSON) and, where named, its Markdown (`nmt.results.markdown_table`)."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  io_utils.atomic_write_json(out, table)
  if markdown:
    io_utils.atomic_write_text(markdown, results.markdown_table(table))


def main(argv):
  del argv
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  spec = cli.run_reporting_user_errors(specs.load_spec, flags.FLAGS.spec)
  table = cli.run_reporting_user_errors(collect, spec, flags.FLAGS.root, flags.FLAGS.previous)
  write_table(table, flags.FLAGS.out, flags.FLAGS.markdown)
  for name, model in table["models"].items():
    print(name, json.dumps({k: round(model[k], 2) for k in ("bleu", "bleu_no_unk")} | {
        "drop": round(table["length_drop"][name]["drop"], 2)}), file=sys.stdout)
  for c in table["comparisons"]:
    for r in c["rows"]:
      print(f"{c['system']} vs {c['baseline']} {results.bin_label(r):>6} n={r['sentences']:<5d} gap {r['gap']:+5.2f} "
            f"p={r['p_value']:.4f}")


if __name__ == "__main__":
  define_flags()
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
