"""Where each RAM row of Mnih et al. (2014)'s Tables 1 and 2 stands against its target, from the collected runs
that follow the validation protocol (trained on 50,000 digits, the checkpoint chosen on the 10,000 held out, the
test set read once): `results/ram_recipe.json`, `results/ram_length.json` and `results/ram_lstm.json`.

A row's error is the better of the paper's two rules, the mean path and one sampled path, each the mean over the
row's seeds (the table says which rule). The target is the paper's error in Table 1 and the paper's error plus
0.5 points in Table 2. On the cluttered sets the paper's comparisons are checked too: learned RAM-8 against the
conv net and 8 random glimpses (one sampled path) of `results/ram_paper_tables.json`, both measured on the
full 60,000 training digits. `experiments.front_page` writes the table into docs/results/ram.md.
"""

from experiments import collect_results
from experiments.configs import ram_mnist

SPEC = "ram_recipe"  # its rows are the targets: every learned RAM row of Tables 1a, 1b, 2a and 2b
SOURCES = ("ram_recipe", "ram_length", "ram_lstm", "ram_c100")
SLACK = {"1a": 0.0, "1b": 0.0, "2a": 0.005, "2b": 0.005}  # how far above the paper a row may land
RULES = {"error_mean_path": "mean path", "error_1_path": "one path"}
CLUTTERED = ("2a", "2b")  # the tables whose RAM-8 rows are set against the conv net and random glimpses


def seed_mean(row: dict, key: str):
  """The mean over the row's seeds of `key`: the table's own metric (`error_1_path` in the spec: `error_1_paths`)
  or a key recorded beside it (`also`); None where no seed has it."""
  values = row.get(collect_results.plural(key)) or row.get("also", {}).get(key, [])
  return collect_results.mean_of_present(values)


def better_rule(row: dict) -> tuple:
  """(error, rule): the lower of the row's seed-mean errors under the mean-path and one-path rules."""
  measured = [(seed_mean(row, key), name) for key, name in RULES.items() if seed_mean(row, key) is not None]
  return min(measured)


def epochs(row: dict) -> float:
  steps, batch = row["overrides"]["num_train_steps"], row["overrides"]["batch_size"]
  return steps / ram_mnist.steps_for(1, batch)


def core(row: dict) -> str:
  """The recurrent core the row trained: its `model.core` override, else the RAM configs' default."""
  name = row["overrides"].get("model.core", ram_mnist.ram_model()["core"])
  return {"rnn": "RNN core", "lstm": "LSTM core"}[name]


def longest(rows: list, table: str, label: str):
  """The row of `table` called `label` with the longest training (the default-length variant), or None."""
  found = [r for r in rows if r["table"] == table and r["row"] == label and r.get("headline")]
  return max(found, key=lambda r: max(r["steps"]), default=None)


def comparison(table: str, error: float, paper_tables: dict) -> str:
  """Whether a RAM-8 error beats the conv net and 8 random glimpses (one path) measured on the same canvases."""
  conv = longest(paper_tables["rows"], table, "Convolutional, 2 layers")
  random = longest(paper_tables["rows"], table, "RAM, 8 random glimpses")
  if conv is None or random is None:
    return ""
  conv_error, random_error = conv["mean_error"], seed_mean(random, "error_1_path")
  verdict = "beats both" if error < min(conv_error, random_error) else (
      "beats 8 random glimpses, not the conv net" if error < random_error else "beats neither")
  return f"{verdict} (conv {100 * conv_error:.2f}%, 8 random glimpses {100 * random_error:.2f}%)"


def markdown(spec: dict, collected: dict, paper_tables: dict) -> str:
  """The standing table: a line per (target row, collected run of it), or one saying it has not run yet.

  Args:
    spec: results/ram_recipe.spec.json (its rows name the table, the row and the paper's error).
    collected: results file name (SOURCES) -> its parsed JSON, or None where it is not there yet.
    paper_tables: results/ram_paper_tables.json, for the conv and random-glimpse comparisons.
  """
  lines = ["| table | row | paper | target | run (core, length) | seeds | error (rule) | meets the target | "
           "the paper's comparison |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
  runs = [(name, r) for name in SOURCES for r in (collected.get(name) or {}).get("rows", [])]
  for target_row in spec["rows"]:
    table, label, paper = target_row["table"], target_row["row"], target_row["paper_error"]
    target = paper + SLACK[table]
    head = f"| {table} | {label} | {100 * paper:.2f}% | ≤ {100 * target:.2f}% |"
    mine = [(name, r) for name, r in runs if r["table"] == table and r["row"] == label]
    if not mine:
      lines.append(f"{head} not run yet | | | | |")
    for name, row in mine:
      error, rule = better_rule(row)
      compared = comparison(table, error, paper_tables) if table in CLUTTERED and "8 glimpses" in label else ""
      lines.append(f"{head} `results/{name}.json`, {core(row)}, {epochs(row):.0f} epochs | {len(row['seeds'])} | "
                   f"{100 * error:.2f}% ({rule}) | {'yes' if error <= target else 'no'}, "
                   f"{100 * (error - paper):+.2f} points from the paper | {compared} |")
  return "\n".join(lines) + "\n"
