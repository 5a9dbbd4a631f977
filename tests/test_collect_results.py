"""The results collector's pure parts: the Markdown table the README shows, and which rows the curves figure draws."""

import json

import pytest

from attention_jax.errors import UserError
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


def _run(workdir, evaluation, seed=0, test_errors=(), config="x.py", valid_errors=()):
  workdir.mkdir()
  (workdir / "eval.json").write_text(json.dumps({"step": 100} | evaluation))
  logged = [{"split": "test", "step": 1000 * (i + 1), "error": e} for i, e in enumerate(test_errors)]
  logged += [{"split": "valid", "step": 500 * (i + 1), "error": e} for i, e in enumerate(valid_errors)]
  logged.append({"split": "train", "step": 1000, "error": 0.9})
  (workdir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in logged))
  command = f"python -m experiments.train --config={config} --workdir={workdir} --config.seed={seed}"
  (workdir / "run.json").write_text(json.dumps({"wall_s": 60.0, "hardware": "cpu", "command": command,
                                                "commit": "x"}))
  (workdir / "config.json").write_text(json.dumps({"seed": seed, "batch_size": 128}))
  return str(workdir)


def test_a_metric_read_from_another_eval_key_and_the_keys_recorded_beside_it(tmp_path):
  _run(tmp_path / "ram_s0", {"error": 0.05, "error_16_paths": 0.04, "error_mean_path": 0.07})
  _run(tmp_path / "ram_s1", {"error": 0.07, "error_16_paths": 0.06, "error_mean_path": 0.09}, seed=1)
  _run(tmp_path / "conv_s0", {"error": 0.08})
  spec = {"read": {"error": "error_16_paths"}, "also": ["error", "error_mean_path"],
          "also_labels": {"error": "4 paths", "error_mean_path": "mean path"},
          "rows": [{"id": "ram", "config": "x.py", "seeds": [0, 1], "row": "RAM", "paper_error": 0.0408},
                   {"id": "conv", "config": "x.py", "row": "conv", "read": {"error": "error"}}]}
  table = collect_results.collect(spec, str(tmp_path))
  ram_row, conv_row = table["rows"]
  assert ram_row["errors"] == [0.04, 0.06] and abs(ram_row["mean_error"] - 0.05) < 1e-12
  assert ram_row["read_from"] == {"error": "error_16_paths"} and ram_row["seeds"] == [0, 1]
  assert ram_row["also"] == {"error": [0.05, 0.07], "error_mean_path": [0.07, 0.09]}
  assert conv_row["errors"] == [0.08] and conv_row["read_from"] == {"error": "error"}
  assert conv_row["also"] == {"error": [0.08], "error_mean_path": [None]} and "read" not in conv_row
  lines = collect_results.markdown_table(table, "error", spec["also"], spec["also_labels"]).splitlines()
  assert lines[0].startswith("| table | row (the paper's label) | paper | this suite, per seed | mean (spread) | "
                             "4 paths | mean path | steps |")
  assert lines[2] == "|  | RAM | 4.08% | 4.00% / 6.00% | 5.00% (spread 2.00) | 6.00% | 8.00% | 100 | 1 + 1 |"
  assert lines[3] == "|  | conv | n/a | 8.00% | 8.00% | 8.00% | n/a | 100 | 1 |"
  del spec["rows"][1]["read"]  # the conv run has no error_16_paths: an error that names the file and the remedy
  with pytest.raises(UserError, match=r"conv_s0/eval.json has no 'error_16_paths' \(row 'conv'\); run python -m "
                                      r"experiments.evaluate"):
    collect_results.collect(spec, str(tmp_path))


def test_curves_draw_only_the_headline_rows_when_some_are_marked(tmp_path):
  _run(tmp_path / "a_s0", {"error": 0.2}, test_errors=[0.5, 0.2])
  _run(tmp_path / "b_s0", {"error": 0.1}, test_errors=[0.4, 0.1])
  spec = {"rows": [{"id": "a", "config": "x.py", "row": "A"},
                   {"id": "b", "config": "x.py", "row": "B", "data": "d", "headline": True}]}
  table = collect_results.collect(spec, str(tmp_path))
  assert table["rows"][1]["test_curves"] == [[[1000, 0.4], [2000, 0.1]]]
  assert collect_results.table_curves(spec, table) == {"B (d)": [[(1000, 0.4), (2000, 0.1)]]}
  del spec["rows"][1]["headline"]
  assert collect_results.table_curves(spec, table) == {"A": [[(1000, 0.5), (2000, 0.2)]],
                                                       "B (d)": [[(1000, 0.4), (2000, 0.1)]]}


def test_a_row_records_its_validation_curve_where_its_runs_evaluated_on_one(tmp_path):
  _run(tmp_path / "a_s0", {"error": 0.2}, valid_errors=[0.6, 0.3])
  _run(tmp_path / "a_s1", {"error": 0.2}, seed=1, valid_errors=[0.5, 0.25])
  _run(tmp_path / "b_s0", {"error": 0.1}, test_errors=[0.4, 0.1])
  spec = {"rows": [{"id": "a", "config": "x.py", "row": "A", "seeds": [0, 1]}, {"id": "b", "config": "x.py", "row": "B"}]}
  a, b = collect_results.collect(spec, str(tmp_path))["rows"]
  assert a["valid_curves"] == [[[500, 0.6], [1000, 0.3]], [[500, 0.5], [1000, 0.25]]] and a["test_curves"] == [[], []]
  assert "valid_curves" not in b and b["test_curves"] == [[[1000, 0.4], [2000, 0.1]]]


def test_rows_whose_workdirs_are_gone_are_carried_from_the_previous_table(tmp_path, capsys):
  _run(tmp_path / "ram_s0", {"error": 0.05}, test_errors=[0.2, 0.05])
  _run(tmp_path / "conv_s0", {"error": 0.08}, config="c.py")
  spec = {"rows": [{"id": "ram", "config": "x.py", "row": "RAM", "headline": True},
                   {"id": "conv", "config": "c.py", "row": "conv", "headline": True}]}
  first = json.loads(json.dumps(collect_results.collect(spec, str(tmp_path))))  # as written and read back
  # An older table (rows without `id`, `workdirs` or curves): its run id comes from its command's --workdir=.
  old_conv = {k: v for k, v in first["rows"][1].items() if k not in ("id", "workdirs", "test_curves")}
  previous = {"rows": [first["rows"][0], old_conv]}
  for name in ("ram_s0", "conv_s0"):
    for f in (tmp_path / name).iterdir():
      f.unlink()
    (tmp_path / name).rmdir()
  spec["rows"][0]["paper_error"] = 0.04  # the spec's fixed fields win over the carried ones
  table = collect_results.collect(spec, str(tmp_path), previous, "results/t.json")
  ram, conv = table["rows"]
  assert ram["errors"] == [0.05] and ram["paper_error"] == 0.04 and ram["carried_from"] == "results/t.json"
  assert conv["errors"] == [0.08] and conv["id"] == "conv"
  assert collect_results.table_curves(spec, table) == {"RAM": [[(1000, 0.2), (2000, 0.05)]]}
  assert "conv has no recorded curve" in capsys.readouterr().err
  # Without --previous, or with runs the previous table never measured, a gone workdir is an error: another
  # override, another seed or another config is another run.
  with pytest.raises(UserError, match="eval.json"):
    collect_results.collect(spec, str(tmp_path))
  for change in ({"overrides": {"model.hidden": 3}}, {"seeds": [1]}, {"config": "x.py"}):
    changed = {"rows": [spec["rows"][0], spec["rows"][1] | change]}
    with pytest.raises(UserError, match="no row of --previous=results/t.json ran its config"):
      collect_results.collect(changed, str(tmp_path), previous, "results/t.json")
