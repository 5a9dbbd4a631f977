"""Evaluators picked by config.evals (training/evaluators.py): order, defaults, errors, merging."""

import types

import pytest

from attention_jax.errors import UserError
from attention_jax.training import evaluators


def _task(calls):
  def first(params, split, workdir):
    calls.append(("first", params, split, workdir))
    return {"a": 1, "shared": "first"}

  def second(params, split, workdir):
    calls.append(("second", params, split, workdir))
    return {"b": 2, "shared": "second"}

  return types.SimpleNamespace(name="toy", evaluators={"first": first, "second": second})


def test_empty_evals_runs_every_offered_evaluator_in_order_and_merges_their_results(tmp_path):
  calls = []
  task = _task(calls)
  chosen = evaluators.pick(task, ())
  assert list(chosen) == ["training_curves", "first", "second"]
  del chosen["training_curves"]  # no metrics.jsonl here
  assert evaluators.run(chosen, "P", "test", str(tmp_path)) == {"a": 1, "b": 2, "shared": "second"}
  assert calls == [("first", "P", "test", str(tmp_path)), ("second", "P", "test", str(tmp_path))]


def test_evals_picks_and_orders_by_name_and_names_what_a_task_offers():
  calls = []
  task = _task(calls)
  assert list(evaluators.pick(task, ["second", "first"])) == ["second", "first"]
  assert evaluators.run(evaluators.pick(task, ["second"]), None, "valid", "w") == {"b": 2, "shared": "second"}
  assert [c[0] for c in calls] == ["second"]
  with pytest.raises(UserError, match=r"config field evals names 'bleu', which the toy task does not offer; it "
                                      r"offers \['training_curves', 'first', 'second'\]"):
    evaluators.pick(task, ["first", "bleu"])


def test_training_curves_draws_the_metrics_file(tmp_path):
  (tmp_path / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 2.0}\n'
                                          '{"step": 2, "split": "train", "loss": 1.0}\n'
                                          '{"step": 2, "split": "test", "loss": 1.5}\n')
  assert evaluators.training_curves(None, "test", str(tmp_path)) == {}
  assert (tmp_path / "plots" / "training_curves.png").stat().st_size > 1000
