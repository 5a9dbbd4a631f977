"""experiments.compare_curves: rows of collected tables in one figure, and one `error:` line for a bad entry."""

import json

import pytest

from attention_jax.errors import UserError
from experiments import compare_curves
from tests import helpers


def write_table(path, rows):
  path.write_text(json.dumps({"rows": rows}))
  return str(path)


SHORT = {"id": "short", "row": "RAM-6", "steps": [200], "overrides": {"num_train_steps": 200},
         "valid_curves": [[[100, 0.5], [200, 0.3]], [[100, 0.4], [200, 0.2]]], "test_curves": [[], []]}
LONG = {"id": "long", "row": "RAM-6", "steps": [550], "overrides": {"num_train_steps": 600},
        "valid_curves": [[[100, 0.6], [200, 0.4], [600, 0.1]]]}


def test_each_entry_becomes_a_line_labelled_by_its_row_and_length(tmp_path):
  first, second = write_table(tmp_path / "a.json", [SHORT]), write_table(tmp_path / "b.json", [LONG])
  rows = {entry: compare_curves.read_row(entry) for entry in (f"{first}:short", f"{second}:long")}
  assert compare_curves.row_curves(rows, "valid") == {
      "RAM-6, 200 steps": [[(100, 0.5), (200, 0.3)], [(100, 0.4), (200, 0.2)]],
      "RAM-6, 600 steps": [[(100, 0.6), (200, 0.4), (600, 0.1)]]}
  assert compare_curves.lowest_points(compare_curves.row_curves(rows, "valid")) == {
      "RAM-6, 200 steps": ([(200, 0.3), (200, 0.2)], pytest.approx(0.25)),
      "RAM-6, 600 steps": ([(600, 0.1)], pytest.approx(0.1))}
  with pytest.raises(UserError, match=r"a.json:short: the row has no recorded test curve"):
    compare_curves.row_curves({f"{first}:short": SHORT}, "test")  # its runs never evaluated on test while training


def test_the_binary_draws_the_figure_and_names_a_bad_entry(tmp_path):
  table = write_table(tmp_path / "a.json", [SHORT, LONG])
  out = tmp_path / "fig.png"
  proc = helpers.run_binary("experiments.compare_curves", f"--rows={table}:short,{table}:long", f"--out={out}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert out.stat().st_size > 5000
  assert "RAM-6, 200 steps: 200: 0.3000, 200: 0.2000; mean 0.2500" in proc.stdout
  assert "RAM-6, 600 steps: 600: 0.1000; mean 0.1000" in proc.stdout
  for entry, said in ((f"{table}:nothing", "has no row with id 'nothing'; it has short, long"),
                      ("results_without_id", "must be RESULTS_FILE:ROW_ID"),
                      (f"{tmp_path}/gone.json:short", "no results file")):
    proc = helpers.run_binary("experiments.compare_curves", f"--rows={entry}", f"--out={out}")
    assert proc.returncode == 2 and said in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
