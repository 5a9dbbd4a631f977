r"""Writes the results tables of README.md (a short one per paper) and of docs/results/*.md (each results file's
collector table) from the files the collectors wrote (`results/*.json`), so that no table there is typed:

  python -m experiments.front_page --write   # after collecting a table: rewrite every generated table
  python -m experiments.front_page           # check only: exit status 1 and the stale files' names

A generated table sits between `<!-- begin table: NAME -->` and `<!-- end table -->`, NAME being `summary_PAPER`
(README's), `ram_targets` (docs/results/ram.md's rows against their targets) or `results/NAME.json`.
`tests/test_front_page.py` checks that every one is up to date.
"""

import json
import os
import re
import sys

from absl import app, flags

from attention_jax import io_utils
from attention_jax.errors import UserError
from experiments import cli
from experiments import collect_results
from experiments import ram_search
from experiments import ram_targets

RESULTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results")


def load(name: str):
  """results/NAME.json, or None where it is not there yet."""
  path = os.path.join(RESULTS, f"{name}.json")
  if not os.path.exists(path):
    return None
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def spec(name: str) -> dict:
  with open(os.path.join(RESULTS, f"{name}.spec.json"), encoding="utf-8") as f:
    return json.load(f)


def _mean(row: dict, key: str):
  values = [v for v in row.get("also", {}).get(key, []) if v is not None]
  return sum(values) / len(values) if values else None


def ram_table() -> str:
  """RAM's headline rows and translated rows (Tables 1a, 1b, 2a, 2b), each at its longest budget (the label's
  variants, such as another location std, left out), under the paper's one-path rules beside the 16-path ensemble;
  then the rows of the searched recipe, where they have run."""
  lines = ["| table | row | paper | mean path | 1 sampled path | 16 paths (an ensemble) | steps | seeds |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
  candidates = [r for r in load("ram_paper_tables")["rows"] if _mean(r, "error_1_path") is not None]
  key = lambda r: (r["table"], r["row"], r["data"].split(",")[0])
  shown = {key(r) for r in candidates if r.get("headline") or r["table"] == "1b"}
  longest = {}
  for row in candidates:
    if key(row) in shown and (key(row) not in longest or max(row["steps"]) > max(longest[key(row)]["steps"])):
      longest[key(row)] = row
  # The recipe changes the model (a hidden layer in the location network), and so does the LSTM core: the labels
  # say so.
  recipe_label = ", the searched recipe: location network with a hidden layer of 256"
  rows = list(longest.values()) + [
      dict(r, data=r["data"].split(",")[0] + recipe_label + extra)
      for name, extra in (("ram_recipe", ""), ("ram_lstm", ", an LSTM core"))
      for r in (load(name) or {}).get("rows", [])]
  pct = collect_results.percent
  for row in rows:
    one = row.get("mean_error_1_path", _mean(row, "error_1_path"))
    mean_path = _mean(row, "error_mean_path")
    ensemble = _mean(row, "error_16_paths") if "error_16_paths" in row.get("also", {}) else row["mean_error"]
    lines.append(f"| {row['table']} | {row['row']} ({row['data']}) | {pct(row.get('paper_error'))} | "
                 f"{pct(mean_path)} | {pct(one)} | {pct(ensemble)} | {max(row['steps']):,} | {len(row['seeds'])} |")
  return "\n".join(lines) + "\n"


def catch_table() -> str:
  """Catch: the committed config's three seeds after 20 million frames, sampled and greedy play."""
  lines = ["| run | paper | sampled policy | greedy policy | frames |", "| --- | --- | --- | --- | --- |"]
  for row in load("ram_catch")["rows"]:
    if len(row["seeds"]) > 1:
      lines.append(f"| {row['row']} | about 85% | {collect_results.percent(row['mean_catch_rate'])} | "
                   f"{collect_results.percent(row['mean_greedy_catch_rate'])} | "
                   f"{max(row['steps']) * 256 * 23 / 1e6:.1f} million |")
  return "\n".join(lines) + "\n"


def translation_table() -> str:
  """Europarl en-it: each model's test BLEU, and its BLEU on short and long sources (the paper's Figure 2)."""
  table = load("nmt_europarl")
  lines = ["| model | BLEU, all test sentences | sources of 10-19 tokens | 40 tokens or more | fall |",
           "| --- | --- | --- | --- | --- |"]
  for name, model in table["models"].items():
    d = table["length_drop"][name]
    lines.append(f"| {name} | {model['bleu']:.1f} | {d['short_bleu']:.1f} | {d['long_bleu']:.1f} | "
                 f"{d['drop']:.1f} |")
  return "\n".join(lines) + "\n"


def text_classification_table() -> str:
  """Text classification: the attention BiLSTM and the pooling baselines of the committed configs against Kim
  (2014)'s CNN-rand."""
  lines = ["| data | model | Kim 2014 CNN-rand | this suite: mean (spread) | runs |", "| --- | --- | --- | --- | --- |"]
  for row in load("textcls")["rows"]:
    if "first config" in row.get("data", ""):
      continue
    lines.append(f"| {row['data']} | {row['row']} | {100 * row['kim2014_cnn_rand_accuracy']:.1f} | "
                 f"{100 * row['mean_accuracy']:.2f} ({100 * row['spread_accuracy']:.1f}) | {len(row['seeds'])} |")
  return "\n".join(lines) + "\n"


def speed_table() -> str:
  """The glimpse sensor's comparison (issue 35): each benchmark's medians at the old commit and at the new one,
  as `benchmarks.compare --out=results/benchmark_glimpse.json` wrote them."""
  table = load("benchmark_glimpse")
  lines = [f"`{table['command']}` at {table['head']} on {table['hardware']}, medians of {table['rounds']} rounds "
           "(each side run alternately in one invocation):", "",
           f"| benchmark | unit | {table['base']} | {table['head']} | new / old | glimpse ms, old -> new |",
           "| --- | --- | --- | --- | --- | --- |"]
  for b in table["benchmarks"]:
    rate, glimpse_ms = b["rate"], b.get("glimpse_ms")
    sensor = f"{glimpse_ms['base']:.2f} -> {glimpse_ms['head']:.2f}" if glimpse_ms else "n/a"
    lines.append(f"| `{b['name']}` | {b['unit']} | {rate['base']:,.1f} | {rate['head']:,.1f} | "
                 f"{rate['ratio']:.2f}x | {sensor} |")
  return "\n".join(lines) + "\n"


SEARCHES = ("ram_search", "ram_search_t60", "ram_search_c100")  # tables experiments.ram_search --collect writes


def collect_command(name: str) -> str:
  """The command that writes results/NAME.json from its runs' workdirs (under DIR)."""
  if name in SEARCHES:
    return f"python -m experiments.ram_search --root=DIR --collect --output=results/{name}.json"
  return f"python -m experiments.reproduce --spec=results/{name}.spec.json --root=DIR --out=results/{name}.json"


def collector_markdown(name: str) -> str:
  """The full table of results/NAME.json as its collector writes it (`--markdown`)."""
  if name in SEARCHES:
    return ram_search.markdown(load(name)) + "\n"
  if name == "nmt_europarl":
    from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
    return results.markdown_table(load(name))
  s = spec(name)
  metrics = s.get("metrics", ["error"])
  return collect_results.markdown_table(load(name), metrics[0], s.get("also", ()), s.get("also_labels"),
                                        metrics[1:], s.get("paper_key", ""), s.get("paper_label", "paper"),
                                        s.get("value_label", "this suite, per seed"))


def tables() -> dict:
  """Every generated table by its marker name: the README's short ones (`summary_PAPER`) and each results file's
  collector table (`results/NAME.json`, where the file is there)."""
  out = {"summary_ram": ram_table, "summary_catch": catch_table, "summary_translation": translation_table,
         "summary_text_classification": text_classification_table}
  out["ram_targets"] = lambda: ram_targets.markdown(
      spec(ram_targets.SPEC), {name: load(name) for name in ram_targets.SOURCES}, load("ram_paper_tables"))
  if load("benchmark_glimpse") is not None:
    out["summary_speed"] = speed_table
  for name in ("ram_recipe", "ram_length", "ram_lstm", "ram_c100", *SEARCHES, "ram_paper_tables", "ram_offline",
               "mnist_baselines", "ram_catch", "nmt_europarl", "textcls"):
    if load(name) is not None:
      out[f"results/{name}.json"] = lambda name=name: collector_markdown(name)
    else:
      out[f"results/{name}.json"] = lambda name=name: (
          f"(No runs collected yet: `{collect_command(name)}` writes it.)\n")
  return out


MARKER = re.compile(r"(<!-- begin table: (\S+) -->\n)(.*?)(<!-- end table -->)", re.S)
FILES = ("README.md", "docs/results/ram.md", "docs/results/catch.md", "docs/results/translation.md",
         "docs/results/text_classification.md", "docs/results/benchmarks.md")


def fill(text: str, where: str = "") -> str:
  """`text` with the table between each `<!-- begin table: NAME -->` and `<!-- end table -->` made anew."""
  made = tables()

  def replace(match):
    if match.group(2) not in made:
      raise UserError(f"{where}: the marker 'begin table: {match.group(2)}' names no table; expected one of "
                      f"{', '.join(made)}")
    return match.group(1) + made[match.group(2)]() + match.group(4)

  return MARKER.sub(replace, text)


def main(argv):
  del argv
  root = os.path.dirname(RESULTS)
  stale = []
  for name in FILES:
    path = os.path.join(root, name)
    with open(path, encoding="utf-8") as f:
      text = f.read()
    new = cli.run_reporting_user_errors(fill, text, name)
    if new != text:
      stale.append(name)
      if flags.FLAGS.write:
        io_utils.atomic_write_text(path, new)
  verb = "rewrote" if flags.FLAGS.write else "out of date (run with --write)"
  print(f"{verb}: {', '.join(stale)}" if stale else "every table is up to date", file=sys.stdout)
  return 1 if stale and not flags.FLAGS.write else 0


if __name__ == "__main__":
  flags.DEFINE_bool("write", False, "Rewrite the tables in README.md and docs/results/*.md (else only check).")
  app.run(main)
