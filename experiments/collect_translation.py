r"""Writes a translation results file (`results/nmt_europarl.json`) from the runs' own files, never by hand.

  python -m experiments.collect_translation --spec=results/nmt_europarl.spec.json --out=results/nmt_europarl.json

The spec is JSON: {"title": ..., "models": {NAME: WORKDIR, ...}, "comparisons": [[BASELINE, SYSTEM], ...],
"length_bin": 10, "top_bin": 60, "wide_bins": [[10, 19], [40, null]]}; `~` in a workdir is expanded. Each workdir
is an evaluated translation run (`experiments.evaluate` wrote its eval.json and translations_test.tsv). Output:
  models       per name: bleu, bleu_no_unk, no_unk_sentences, decode, bleu_by_length (bins `length_bin` wide, sources
               of `top_bin` tokens or more in the last, open one: max_len null), steps, batch_size, wall_s,
               hardware, command, commit
  comparisons  per [baseline, system] pair: the paired bootstrap (attention_jax.nmt.significance, 1,000 samples) on
               every bin, on the `wide_bins` and on the whole test set (min_len null): both BLEUs, the gap, p
  length_drop  per name: BLEU on the first wide bin minus BLEU on the last one (how much long sentences cost)
"""

import json
import sys

from absl import app, flags

from experiments import cli

_SPEC = flags.DEFINE_string("spec", None, "JSON spec: the models' workdirs and the comparisons.")
_OUT = flags.DEFINE_string("out", None, "The results file to write (JSON).")
flags.mark_flags_as_required(["spec", "out"])


def main(argv):
  del argv
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  with open(_SPEC.value, encoding="utf-8") as f:
    spec = json.load(f)
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  table = cli.run_reporting_user_errors(results.collect, spec)
  io_utils.atomic_write_json(_OUT.value, table)
  for name, model in table["models"].items():
    print(name, json.dumps({k: round(model[k], 2) for k in ("bleu", "bleu_no_unk")} | {
        "drop": round(table["length_drop"][name]["drop"], 2)}), file=sys.stdout)
  for c in table["comparisons"]:
    for r in c["rows"]:
      print(f"{c['system']} vs {c['baseline']} {results.bin_label(r):>6} n={r['sentences']:<5d} gap {r['gap']:+5.2f} "
            f"p={r['p_value']:.4f}")


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
