"""The Colab notebook runs top to bottom on CPU with tiny settings (so it never rots). That running it again resumes
its runs is the training loop's resume, tested in tests/test_preemption.py."""

import json
import os
import sys

import nbformat
from nbclient import NotebookClient

from tests import helpers

NOTEBOOK = os.path.join(helpers.REPO, "notebooks", "attention_jax_colab.ipynb")


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
  monkeypatch.setenv("ATTENTION_JAX_NOTEBOOK_SMOKE", "1")
  monkeypatch.setenv("ATTENTION_JAX_NOTEBOOK_RUNS", str(tmp_path / "runs"))
  monkeypatch.setenv("XLA_FLAGS", helpers.SUBPROCESS_XLA_FLAGS)  # the kernel is a subprocess; see conftest
  # A kernel spec of this very interpreter (the installed "python3" spec runs whatever `python` is on PATH).
  spec = tmp_path / "jupyter" / "kernels" / "attention_jax_test"
  spec.mkdir(parents=True)
  (spec / "kernel.json").write_text(json.dumps({
      "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
      "display_name": "attention_jax test", "language": "python"}))
  monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  NotebookClient(notebook, timeout=600, kernel_name="attention_jax_test",
                 resources={"metadata": {"path": helpers.REPO}}).execute()  # raises on any cell's error

  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
  text = "".join(o.get("text", "") for o in outputs)
  assert "installed: nothing (the runtime had every requirement)" in text
  assert "backend cpu" in text
  images = [o for o in outputs if "image/png" in o.get("data", {})]
  assert len(images) == 4  # glimpse strips + RAM curves, 2 alignment heat maps
  for name in ("glimpse_strips.png", "reward_accuracy_baseline.png", "alignment_0.png", "alignment_1.png"):
    assert name in text
  for workdir in ("ram_mnist6", "dates_rnnsearch"):  # kept where a second run of the notebook resumes from
    assert os.path.exists(tmp_path / "runs" / workdir / "eval.json")
    assert "4" in os.listdir(tmp_path / "runs" / workdir / "checkpoints")
