"""The results collector's pure parts: the Markdown table the README shows, and which rows the curves figure draws."""

import json

from experiments import collect_results


def test_markdown_table_shows_each_seed_the_mean_spread_and_the_papers_number():
  table = {"rows": [
      {"table": "2a", "row": "RAM, 6 glimpses", "data": "60x60 cluttered", "paper_error": 0.0408,
       "errors": [0.0671, 0.0699], "mean_error": 0.0685, "spread_error": 0.0028, "steps": [20000, 20000],
       "wall_s": [1157.5, 1299.5]},
      {"table": "2b", "row": "Convolutional, 2 layers", "paper_error": None, "errors": [0.22],
       "mean_error": 0.22, "spread_error": 0.0, "steps": [10000], "wall_s": [665.7]}]}
  lines = collect_results.markdown_table(table).splitlines()
  assert len(lines) == 4 and lines[1].count("---") == 7
  assert lines[2] == ("| 2a | RAM, 6 glimpses (60x60 cluttered) | 4.08% | 6.71% / 6.99% | 6.85% (spread 0.28) | "
                      "20,000 | 19 + 22 |")
  assert lines[3] == "| 2b | Convolutional, 2 layers | n/a | 22.00% | 22.00% | 10,000 | 11 |"


def test_curves_draw_only_the_headline_rows_when_some_are_marked(tmp_path):
  for name, errors in (("a", [0.5, 0.2]), ("b", [0.4, 0.1])):
    (tmp_path / name).mkdir()
    rows = [{"split": "test", "step": 1000 * (i + 1), "error": e} for i, e in enumerate(errors)]
    rows.append({"split": "train", "step": 1000, "error": 0.9})
    (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  spec = {"rows": [{"row": "A", "workdirs": [str(tmp_path / "a")]},
                   {"row": "B", "data": "d", "workdirs": [str(tmp_path / "b")], "headline": True}]}
  assert collect_results.test_curves(spec) == {"B (d)": [[(1000, 0.4), (2000, 0.1)]]}
  del spec["rows"][1]["headline"]
  assert collect_results.test_curves(spec) == {"A": [[(1000, 0.5), (2000, 0.2)]], "B (d)": [[(1000, 0.4), (2000, 0.1)]]}
