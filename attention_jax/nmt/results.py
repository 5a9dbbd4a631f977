"""Translation results read back from evaluated workdirs: the translations, BLEU rebinned by source length (an open
last bin, as the paper's Figure 2 ends), paired comparisons of two runs, and the results file that
`experiments.collect_translation` writes (`results/nmt_europarl.json`)."""

import json
import os

from attention_jax import run_record
from attention_jax.errors import UserError
from attention_jax.nmt import reports, significance


def load_translations(workdir) -> dict:
  """translations_test.tsv of an evaluated run: sources, references, hypotheses, source lengths; its BLEU tokenizer."""
  path = os.path.join(workdir, "translations_test.tsv")
  if not os.path.exists(path):
    raise UserError(f"workdir {workdir} holds no translations_test.tsv; run experiments.evaluate on it first")
  with open(path, encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t") for line in f]
  if any(len(r) != 4 or not r[3].isdigit() for r in rows):
    raise UserError(f"{path} needs 4 tab-separated columns (source, reference, hypothesis, source length); it was "
                    "written by an older experiments.evaluate: run it again on that workdir")
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    tokenize = json.load(f)["data"].get("bleu_tokenize", "13a")
  return {"source": [r[0] for r in rows], "reference": [r[1] for r in rows], "hypothesis": [r[2] for r in rows],
          "length": [int(r[3]) for r in rows], "tokenize": tokenize}


def curve_from_translations(translations: dict, length_bin: int, top_bin: int) -> list:
  """BLEU rows ({'min_len', 'max_len', 'bleu', 'sentences'}) in bins `length_bin` tokens wide, the sources of
  `top_bin` tokens or more in a last, open bin (max_len None)."""
  if length_bin < 1 or top_bin < length_bin:
    raise UserError(f"--length_bin={length_bin} must be >= 1 and --top_bin={top_bin} at least as large")
  lengths = translations["length"]
  edges = list(range(0, top_bin + 1, length_bin))
  edges.append(max(max(lengths), edges[-1]) + 1)
  rows = reports.bleu_by_length(lengths, translations["hypothesis"], translations["reference"], edges,
                                translations["tokenize"])
  if rows and rows[-1]["min_len"] == edges[-2]:
    rows[-1]["max_len"] = None
  return rows


def bin_label(row: dict) -> str:
  """'10-19', '60-' (an open bin) or 'all' (min_len None) for a row of BLEU by length or of a comparison."""
  if row["min_len"] is None:
    return "all"
  return f"{row['min_len']}-{'' if row['max_len'] is None else row['max_len']}"


def bleu_in(translations: dict, min_len: int, max_len) -> float:
  """BLEU of the sentences whose source has min_len..max_len tokens (max_len None: no upper bound); NaN if none."""
  import sacrebleu  # pylint: disable=g-import-not-at-top
  members = [i for i, n in enumerate(translations["length"]) if n >= min_len and (max_len is None or n <= max_len)]
  if not members:
    return float("nan")
  return sacrebleu.corpus_bleu([translations["hypothesis"][i] for i in members],
                               [[translations["reference"][i] for i in members]],
                               tokenize=translations["tokenize"]).score


def collect_model(workdir: str, length_bin: int, top_bin: int) -> dict:
  """One model's entry: BLEU, BLEU with no <unk>, BLEU by length and how the run was made."""
  evaluation = run_record.read_run_file(workdir, "eval.json", "python -m experiments.evaluate")
  record = run_record.read_run_file(workdir, "run.json", "python -m experiments.train")
  config = run_record.read_run_file(workdir, "config.json", "python -m experiments.train")
  translations = load_translations(workdir)
  return {"bleu": evaluation["bleu"], "bleu_no_unk": evaluation["bleu_no_unk"],
          "no_unk_sentences": evaluation["no_unk_sentences"], "test_sentences": len(translations["source"]),
          "decode": evaluation["decode"], "bleu_by_length": curve_from_translations(translations, length_bin, top_bin),
          "steps": int(evaluation["step"]), "batch_size": config["batch_size"]} | {
              field: record[field] for field in ("wall_s", "hardware", "command", "commit")}


def compare(base_dir: str, system_dir: str, bins) -> list:
  """The paired bootstrap of two runs' translations of the same test set on `bins` and on all sentences."""
  base, system = load_translations(base_dir), load_translations(system_dir)
  if (base["source"], base["reference"]) != (system["source"], system["reference"]):
    raise UserError(f"{base_dir} and {system_dir} translated different test sentences; compare runs of one data "
                    "config")
  return significance.paired_bleu_by_length(base["length"], base["hypothesis"], system["hypothesis"],
                                            base["reference"], bins, base["tokenize"])


def collect(spec: dict) -> dict:
  """The results file of a spec {"models": {name: workdir}, "comparisons": [[baseline, system]], "length_bin",
  "top_bin", "wide_bins": [[min_len, max_len or None], ...]} (see experiments/collect_translation.py)."""
  workdirs = {name: os.path.expanduser(w) for name, w in spec["models"].items()}
  length_bin, top_bin = int(spec.get("length_bin", 10)), int(spec.get("top_bin", 60))
  wide = [tuple(b) for b in spec.get("wide_bins", [[10, 19], [40, None]])]
  for pair in spec.get("comparisons", []):
    missing = [name for name in pair if name not in workdirs]
    if missing:
      raise UserError(f"comparison {pair} names {missing[0]!r}, which is not among the spec's models "
                      f"{list(workdirs)}")
  models = {name: collect_model(w, length_bin, top_bin) for name, w in workdirs.items()}
  comparisons = []
  for baseline, system in spec.get("comparisons", []):
    bins = [(r["min_len"], r["max_len"]) for r in models[baseline]["bleu_by_length"]] + wide
    comparisons.append({"baseline": baseline, "system": system,
                        "rows": compare(workdirs[baseline], workdirs[system], bins)})
  drops = {}
  for name, workdir in workdirs.items():
    translations = load_translations(workdir)
    short, long = (bleu_in(translations, lo, hi) for lo, hi in (wide[0], wide[-1]))
    drops[name] = {"short_bin": list(wide[0]), "long_bin": list(wide[-1]), "short_bleu": short, "long_bleu": long,
                   "drop": short - long}
  return {"title": spec.get("title", ""), "generated_by": "python -m experiments.collect_translation",
          "models": models, "comparisons": comparisons, "length_drop": drops}


def _wide_label(low, high) -> str:
  return f"{low}+" if high is None else f"{low}-{high}"


def markdown_table(table: dict) -> str:
  """The collected file as one Markdown table: each model's BLEU on the whole test set, on the sentences with no
  `<unk>`, by source length and its fall from the first wide bin to the last; then each comparison's gap with its
  paired-bootstrap p-value, on the whole set, per bin and on the last wide bin."""
  models = table["models"]
  first = next(iter(models.values()))
  shown = lambda r: f"{r['min_len']}+" if r["min_len"] is not None and r["max_len"] is None else bin_label(r)
  bins = [shown(r) for r in first["bleu_by_length"]]
  drop = next(iter(table["length_drop"].values()))
  short, long = _wide_label(*drop["short_bin"]), _wide_label(*drop["long_bin"])
  lines = [f"| model | BLEU, all {first['test_sentences']:,} | BLEU, the {first['no_unk_sentences']:,} with no "
           f"`<unk>` | " + " | ".join(bins) + f" | {short} to {long}: fall |",
           "|" + " --- |" * (len(bins) + 4)]
  for name, model in models.items():
    d = table["length_drop"][name]
    lines.append(f"| {name} | {model['bleu']:.1f} | {model['bleu_no_unk']:.1f} | "
                 + " | ".join(f"{r['bleu']:.1f}" for r in model["bleu_by_length"])
                 + f" | {d['short_bleu']:.1f} to {d['long_bleu']:.1f}: {d['drop']:.1f} |")
  for c in table.get("comparisons", []):
    rows = {shown(r): r for r in c["rows"]}
    gap = lambda r: f"{r['gap']:+.1f} ({r['p_value']:.3f})"
    long_row = next(r for r in reversed(c["rows"]) if r["min_len"] is not None)
    lines.append(f"| {c['system']} - {c['baseline']} (p) | {gap(rows['all'])} | | "
                 + " | ".join(gap(rows[b]) for b in bins) + f" | {long}: {gap(long_row)} |")
  sentences = ", ".join(f"{r['sentences']:,}" for r in first["bleu_by_length"])
  return "\n".join(lines) + f"\n\n(test sentences per bin: {sentences}; decoding: {first['decode']})\n"
