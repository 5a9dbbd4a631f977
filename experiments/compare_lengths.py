r"""BLEU (and exact match) by source length for several evaluated runs in one plot (Bahdanau et al., Figure 2).

  python -m experiments.compare_lengths --workdirs=/tmp/cmn_search,/tmp/cmn_encdec --out=/tmp/cmn_bleu_by_length.png
Each workdir must hold the eval.json that `experiments.evaluate` writes for a translation run; the lines are named
by the run's model (and the workdir when two runs share a model).
"""

import json
import os

from absl import app, flags

from experiments import cli

_WORKDIRS = flags.DEFINE_list("workdirs", None, "Evaluated translation workdirs.")
_OUT = flags.DEFINE_string("out", None, "The PNG file to write.")
flags.mark_flags_as_required(["workdirs", "out"])


def load_curves(workdirs) -> dict:
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  curves = {}
  for workdir in workdirs:
    path = os.path.join(workdir, "eval.json")
    if not os.path.exists(path):
      raise UserError(f"--workdirs entry {workdir} holds no eval.json; run experiments.evaluate on it first")
    with open(path, encoding="utf-8") as f:
      report = json.load(f)
    if "bleu_by_source_length" not in report:
      raise UserError(f"{path} has no bleu_by_source_length; expected the eval.json of a translation run")
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
      name = json.load(f)["model"]["name"]
    if name in curves:
      name = f"{name} ({os.path.basename(os.path.normpath(workdir))})"
    curves[name] = report["bleu_by_source_length"]
  return curves


def main(argv):
  del argv
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  curves = cli.run_reporting_user_errors(load_curves, _WORKDIRS.value)
  print(plotting.bleu_by_length(curves, _OUT.value))
  for name, rows in curves.items():
    print(name, " ".join(f"{r['min_len']}-{r['max_len']}:{r['bleu']:.1f}" for r in rows))


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main)
