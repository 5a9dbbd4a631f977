r"""BLEU (and exact match) by source length for several evaluated runs in one plot (Bahdanau et al., Figure 2).

  python -m experiments.compare_lengths --workdirs=/tmp/cmn_encdec,/tmp/cmn_search --out=/tmp/cmn_bleu_by_length.png
Each workdir must hold the eval.json and translations_test.tsv that `experiments.evaluate` writes for a
translation run; the lines are named by the run's model (and the workdir when two runs share a model), or by
--names, one per workdir (the paper's "RNNsearch-50", "RNNenc-30" ...).

The bins are those of the runs' eval.json (data.length_bin tokens wide) unless --top_bin is given: then BLEU is
recomputed from each run's translations_test.tsv in bins --length_bin tokens wide up to --top_bin, and every source
of --top_bin tokens or more in one last bin (the paper's Figure 2 ends at 60; Europarl's test set has 387 sources of
50 tokens or more):
  python -m experiments.compare_lengths --workdirs=~/runs/ep_rnnencdec50_s0,~/runs/ep_rnnsearch50_s0 \
      --top_bin=60 --out=docs/figures/nmt_europarl_bleu_by_length.png

With two or more workdirs, every run after the first is also tested against the first (the baseline) bin by bin
with the paired bootstrap (attention_jax.nmt.significance): a table on stdout and, beside --out, a JSON file
(`cmn_bleu_by_length_significance.json` for the command above). The runs must have translated the same test
sentences.
"""

import json
import os

from absl import app, flags

from experiments import cli

_WORKDIRS = flags.DEFINE_list("workdirs", None, "Evaluated translation workdirs.")
_OUT = flags.DEFINE_string("out", None, "The PNG file to write.")
_SIGNIFICANCE = flags.DEFINE_bool("significance", True, "Paired bootstrap of each run against the first one.")
_LENGTH_BIN = flags.DEFINE_integer("length_bin", 10, "Bin width in source tokens (with --top_bin).")
_NAMES = flags.DEFINE_list("names", None, "A name per workdir for the plot and tables (default: the runs' models).")
_TOP_BIN = flags.DEFINE_integer("top_bin", 0, "When > 0, rebin from the translations: sources of this many tokens "
                                "or more form the last bin (0: the bins of the runs' eval.json).")
flags.mark_flags_as_required(["workdirs", "out"])


def load_curves(workdirs, names=None) -> dict:
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  if names is not None and (len(names) != len(workdirs) or len(set(names)) != len(names)):
    raise UserError(f"--names gives {len(names)} names for {len(workdirs)} --workdirs entries; expected one "
                    "distinct name per workdir")
  curves = {}
  for i, workdir in enumerate(workdirs):
    path = os.path.join(workdir, "eval.json")
    if not os.path.exists(path):
      raise UserError(f"--workdirs entry {workdir} holds no eval.json; run experiments.evaluate on it first")
    with open(path, encoding="utf-8") as f:
      report = json.load(f)
    if "bleu_by_source_length" not in report:
      raise UserError(f"{path} has no bleu_by_source_length; expected the eval.json of a translation run")
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
      name = json.load(f)["model"]["name"]
    if names is not None:
      name = names[i]
    elif name in curves:
      name = f"{name} ({os.path.basename(os.path.normpath(workdir))})"
    curves[name] = report["bleu_by_source_length"]
  return curves


def rebinned_curves(workdirs, curves: dict, length_bin: int, top_bin: int) -> dict:
  """`curves` (named as load_curves names them) recomputed from the runs' translations_test.tsv."""
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  return {name: results.curve_from_translations(results.load_translations(workdir), length_bin, top_bin)
          for workdir, name in zip(workdirs, curves)}


def significance(workdirs, curves: dict) -> dict:
  """Each run after the first against the first, bin by bin (bins of the first run's eval.json)."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  from attention_jax.nmt import significance as sig  # pylint: disable=g-import-not-at-top
  names = list(curves)
  base = results.load_translations(workdirs[0])
  bins = [(b["min_len"], b["max_len"]) for b in curves[names[0]]]
  report = {"baseline": names[0], "tokenize": base["tokenize"], "systems": {}}
  for workdir, name in zip(workdirs[1:], names[1:]):
    other = results.load_translations(workdir)
    if (other["source"], other["reference"], other["length"]) != (base["source"], base["reference"],
                                                                 base["length"]):
      raise UserError(f"--workdirs entries {workdirs[0]} and {workdir} translated different test sentences "
                      "(their translations_test.tsv differ in source, reference or length); compare runs of one "
                      "data config")
    if other["tokenize"] != base["tokenize"]:
      raise UserError(f"--workdirs entries {workdirs[0]} and {workdir} use different data.bleu_tokenize "
                      f"({base['tokenize']!r} vs {other['tokenize']!r})")
    report["systems"][name] = sig.paired_bleu_by_length(base["length"], base["hypothesis"], other["hypothesis"],
                                                        base["reference"], bins, base["tokenize"])
  return report


def main(argv):
  del argv
  from attention_jax import io_utils, plotting  # pylint: disable=g-import-not-at-top
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  workdirs = [os.path.expanduser(w) for w in _WORKDIRS.value]
  curves = cli.run_reporting_user_errors(load_curves, workdirs, _NAMES.value)
  if _TOP_BIN.value:
    curves = cli.run_reporting_user_errors(rebinned_curves, workdirs, curves, _LENGTH_BIN.value, _TOP_BIN.value)
  tested = _SIGNIFICANCE.value and len(workdirs) > 1
  report = cli.run_reporting_user_errors(significance, workdirs, curves) if tested else None  # before any write
  print(plotting.bleu_by_length(curves, _OUT.value))
  for name, rows in curves.items():
    print(name, " ".join(f"{results.bin_label(r)}:{r['bleu']:.1f}" for r in rows))
  if report:
    path = os.path.splitext(_OUT.value)[0] + "_significance.json"
    io_utils.atomic_write_json(path, report)
    print(f"paired bootstrap against {report['baseline']} (BLEU gap, p-value; {path}):")
    for name, rows in report["systems"].items():
      print(name)
      for r in rows:
        print(f"  {results.bin_label(r):>7} n={r['sentences']:<5d} {r['baseline_bleu']:5.1f} -> {r['system_bleu']:5.1f}  "
              f"gap {r['gap']:+5.1f}  p={r['p_value']:.3f}")


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
