"""README.md and docs/results/*.md hold the results tables as `experiments.front_page` writes them from results/*.json:
none is typed, none is stale, and every results table has its place."""

import glob
import json
import os

import pytest

from attention_jax.errors import UserError
from experiments import front_page
from tests import helpers


def read(name: str) -> str:
  with open(os.path.join(helpers.REPO, name), encoding="utf-8") as f:
    return f.read()


@pytest.mark.parametrize("name", front_page.FILES)
def test_every_generated_table_is_up_to_date(name):
  text = read(name)
  assert front_page.MARKER.search(text), f"{name} has no generated table"
  assert front_page.fill(text, name) == text, f"{name} is stale: run python -m experiments.front_page --write"


def test_every_results_table_has_a_place_in_the_docs():
  pages = "".join(read(name) for name in front_page.FILES)
  for spec in glob.glob(os.path.join(helpers.REPO, "results", "*.spec.json")):
    name = os.path.basename(spec).removesuffix(".spec.json")
    assert f"<!-- begin table: results/{name}.json -->" in pages, f"results/{name}.json is in no page"


def test_the_readme_is_a_front_page():
  assert len(read("README.md").splitlines()) <= 250


def test_every_search_table_has_a_place_in_the_docs_and_an_uncollected_one_names_its_collector():
  pages = "".join(read(name) for name in front_page.FILES)
  for name in front_page.SEARCHES:
    if front_page.load(name) is not None:
      assert f"<!-- begin table: results/{name}.json -->" in pages, f"results/{name}.json is in no page"
  command = front_page.collect_command("ram_search_c100")
  assert command == "python -m experiments.ram_search --root=DIR --collect --output=results/ram_search_c100.json"
  assert "--spec=results/ram_lstm.spec.json" in front_page.collect_command("ram_lstm")


def test_a_marker_naming_no_table_is_refused():
  with pytest.raises(UserError, match="names no table"):
    front_page.fill("<!-- begin table: results/nothing.json -->\n<!-- end table -->", "X.md")


def test_the_ram_summary_reads_the_paper_rules_from_the_collected_rows():
  table = front_page.load("ram_paper_tables")
  row = next(r for r in table["rows"] if r["table"] == "2b" and r["row"].startswith("RAM, 8 glimpses")
             and max(r["steps"]) == 60000)
  line = next(l for l in front_page.ram_table().splitlines() if l.startswith("| 2b | RAM, 8 glimpses"))
  cells = [c.strip() for c in line.strip("|").split("|")]
  one_path = sum(row["also"]["error_1_path"]) / len(row["seeds"])
  mean_path = sum(row["also"]["error_mean_path"]) / len(row["seeds"])
  assert cells[2:6] == [f"{100 * row['paper_error']:.2f}%", f"{100 * mean_path:.2f}%", f"{100 * one_path:.2f}%",
                        f"{100 * row['mean_error']:.2f}%"]


def test_the_translation_table_shows_each_models_bleu_and_each_gap_with_its_p_value():
  from attention_jax.nmt import results  # pylint: disable=g-import-not-at-top
  table = json.loads(read("results/nmt_europarl.json"))
  lines = results.markdown_table(table).splitlines()
  search = next(l for l in lines if l.startswith("| RNNsearch-50 |"))
  assert f"| {table['models']['RNNsearch-50']['bleu']:.1f} |" in search
  gap = next(c for c in table["comparisons"] if c["system"] == "RNNsearch-50" and c["baseline"] == "RNNencdec-50")
  everything = next(r for r in gap["rows"] if r["min_len"] is None)
  line = next(l for l in lines if l.startswith("| RNNsearch-50 - RNNencdec-50 (p) |"))
  assert f"| {everything['gap']:+.1f} ({everything['p_value']:.3f}) |" in line
  assert "| 60+ |" in lines[0]
