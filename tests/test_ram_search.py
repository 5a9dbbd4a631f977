"""The RAM random search (experiments/ram_search.py): trials are a fixed function of their seed and index, select
on the validation split only, and the collector reads the best validation error from the files a run writes."""

import json
import math
import os

from experiments import ram_search
from experiments.configs import ram_mnist, ram_translated


def test_trials_are_reproducible_and_cover_the_space():
  first = [ram_search.sample_settings(0, i) for i in range(64)]
  assert first == [ram_search.sample_settings(0, i) for i in range(64)]
  assert first != [ram_search.sample_settings(1, i) for i in range(64)]
  for key, values in {"optimizer": {"adam", "sgd"}, "num_samples": {1, 2, 4}, "location_net_hidden": {0, 256},
                      "baseline_input": {"state", "constant"}, "epochs": set(ram_search.EPOCHS)}.items():
    assert {s[key] for s in first} == values, key
  for s in first:
    low, high = ram_search.OPTIMIZERS[s["optimizer"]][1]
    assert low <= s["learning_rate"] <= high and 0.05 <= s["location_std"] <= 0.25


def test_overrides_select_on_validation_and_name_real_config_fields():
  settings = {"optimizer": "sgd", "learning_rate": 0.01, "location_std": 0.1, "num_samples": 2,
              "location_net_hidden": 256, "baseline_input": "constant", "epochs": 50}
  fields = ram_search.overrides(settings)
  assert fields["batch_size"] == 20 and fields["num_train_steps"] == 2500 * 50
  assert fields["eval_every_steps"] == 2500 * ram_mnist.EVAL_EVERY_EPOCHS
  assert fields["eval_split"] == "valid" and fields["select_by"] == "error_1_path"
  assert fields["data.name"] == "mnist" and round(60000 * fields["data.validation_fraction"]) == 10000
  assert_fields_of(ram_mnist.get_config("6"), fields)


def assert_fields_of(config, fields: dict) -> None:
  for name, value in fields.items():  # every override is a field of the config, of the field's type
    *path, leaf = name.split(".")
    block = config
    for part in path:
      block = block[part]
    assert leaf in block, name
    assert isinstance(value, type(block[leaf])) or isinstance(block[leaf], float), name


def write_trial(root, index, valid_rows, steps):
  settings = ram_search.sample_settings(0, index)
  fields = ram_search.overrides(settings)
  workdir = ram_search.trial_dir(root, 0, index)
  os.makedirs(workdir)
  ram_search.write_json(os.path.join(workdir, "trial.json"), {
      "index": index, "search_seed": 0, "config": "experiments/configs/ram_mnist.py:6", "settings": settings,
      "overrides": fields, "command": "python -m experiments.train ..."})
  ram_search.write_json(os.path.join(workdir, "run.json"), {"command": "c", "commit": "abc", "hardware": "cpu",
                                                            "steps": steps, "wall_s": 60.0})
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    for step, one, mean in valid_rows:
      f.write(json.dumps({"step": step, "split": "train", "loss": 1.0}) + "\n")
      f.write(json.dumps({"step": step, "split": "valid", "error_1_path": one, "error_mean_path": mean,
                          "error_16_paths": one / 2}) + "\n")
  return fields


def test_collect_takes_the_best_validation_step_under_the_one_path_rule(tmp_path):
  fields = write_trial(str(tmp_path), 3, [(100, 0.05, 0.04), (200, 0.02, 0.03), (300, 0.02, 0.01)], 300)
  write_trial(str(tmp_path), 5, [(100, 0.01, 0.09)], 100)
  table = ram_search.collect(str(tmp_path))
  assert [r["index"] for r in table["trials"]] == [5, 3]  # best validation error first
  row = table["trials"][1]
  assert (row["best_step"], row["valid_error_1_path"], row["valid_error_mean_path"]) == (200, 0.02, 0.03)
  assert row["valid_error_16_paths"] == 0.01 and row["commit"] == "abc" and row["wall_s"] == 60.0
  assert row["finished"] is (fields["num_train_steps"] <= 300)
  assert math.isclose(row["epochs_trained"], round(300 * fields["batch_size"] / 50000, 1))
  assert "| 5 |" in ram_search.markdown(table)


def test_the_near_recipe_space_fixes_the_recipe_and_samples_only_lr_std_and_m(tmp_path):
  trials = [ram_search.sample_settings(0, i, "near_recipe") for i in range(64)]
  assert trials == [ram_search.sample_settings(0, i, "near_recipe") for i in range(64)]
  assert trials != [ram_search.sample_settings(0, i) for i in range(64)]
  for s in trials:
    assert (s["optimizer"], s["location_net_hidden"], s["baseline_input"], s["epochs"]) == ("adam", 256, "state", 100)
    assert 2.5e-4 <= s["learning_rate"] <= 3e-3 and 0.02 <= s["location_std"] <= 0.2
  assert {s["num_samples"] for s in trials} == {1, 2}
  stds = [s["location_std"] for s in trials]
  assert min(stds) < 0.04 and max(stds) > 0.1  # log-uniform: both ends of the range are drawn
  fields = ram_search.overrides(trials[0], eval_every_epochs=10)
  assert fields["eval_every_steps"] == fields["checkpoint_every_steps"] == ram_mnist.steps_for(10, 128)
  assert fields["num_train_steps"] == ram_mnist.steps_for(100, 128)
  # its trials live beside the wide space's without taking their names
  assert ram_search.trial_dir(str(tmp_path), 0, 3, "near_recipe") != ram_search.trial_dir(str(tmp_path), 0, 3)


def test_the_binary_takes_a_config_path_and_a_mistyped_flag_gets_one_error_line(tmp_path):
  from tests.helpers import run_binary  # pylint: disable=g-import-not-at-top
  ok = run_binary("experiments.ram_search", f"--root={tmp_path}", "--space=near_recipe", "--trials=2", "--dry_run",
                  "--config=experiments/configs/ram_translated.py:6", "--eval_every_epochs=10")
  assert ok.returncode == 0, ok.stderr
  lines = ok.stdout.strip().splitlines()
  assert len(lines) == 2 and all("--config=experiments/configs/ram_translated.py:6" in l for l in lines)
  assert "--config.eval_every_steps=3910" in lines[0]
  bad = run_binary("experiments.ram_search", f"--root={tmp_path}", "--space=nearby", "--dry_run")
  assert bad.returncode != 0 and bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1
  bad = run_binary("experiments.ram_search", f"--root={tmp_path}", "--first=-1", "--dry_run")  # wide has no -1
  assert bad.returncode != 0 and bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_near_recipe_trial_minus_one_is_the_recipe_itself(tmp_path):
  reference = ram_search.sample_settings(0, ram_search.REFERENCE, "near_recipe")
  assert reference == {"optimizer": "adam", "learning_rate": ram_mnist.RECIPE["learning_rate"],
                       "location_std": ram_mnist.RECIPE["location_std"], "num_samples": 1,
                       "location_net_hidden": ram_mnist.RECIPE["location_net_hidden"], "baseline_input": "state",
                       "epochs": ram_search.sample_settings(0, 0, "near_recipe")["epochs"]}
  assert ram_search.trial_dir(str(tmp_path), 0, -1, "near_recipe").endswith("near_recipe_seed0_reference")
  assert "| recipe | adam |" in ram_search.markdown({"trials": [{"index": -1, "settings": reference,
                                                                  "epochs_trained": 0, "wall_s": None}]})


def test_std_sweep_changes_only_the_location_std_of_the_reference(tmp_path):
  reference = ram_search.sample_settings(0, ram_search.REFERENCE, "near_recipe")
  sweep = [ram_search.sample_settings(seed, i, "std_sweep") for seed, i in ((0, 0), (0, 1), (0, 2), (5, 3))]
  stds = [s.pop("location_std") for s in sweep]
  assert all(s == {k: v for k, v in reference.items() if k != "location_std"} for s in sweep)
  assert [round(v / reference["location_std"], 6) for v in stds] == [round(math.sqrt(2) ** k, 6) for k in (1, 2, 3, 4)]
  assert ram_search.trial_dir(str(tmp_path), 0, 1, "std_sweep").endswith("std_sweep_seed0_trial001")
  row = {"index": 1, "space": "std_sweep", "settings": {**sweep[1], "location_std": stds[1]}, "epochs_trained": 0,
         "wall_s": None}
  assert "| std_sweep 1 | adam | 0.00075 | 0.171 | 1 | rnn |" in ram_search.markdown({"trials": [row]})


def test_variants_change_one_setting_of_the_reference_and_name_real_config_fields():
  reference = ram_search.sample_settings(0, ram_search.REFERENCE, "near_recipe")
  variants = [ram_search.sample_settings(0, i, "variants") for i in range(len(ram_search.VARIANTS))]
  for variant, change in zip(variants, ram_search.VARIANTS):
    assert {k: v for k, v in variant.items() if k not in change} == {k: v for k, v in reference.items()
                                                                       if k not in change}
  lstm = ram_search.overrides(variants[0], eval_every_epochs=10)
  assert lstm["model.core"] == "lstm" and "model.core" not in ram_search.overrides(reference, 10)
  assert ram_search.overrides(variants[2], 10)["reinforce.num_samples"] == 4
  assert_fields_of(ram_translated.get_config("6"), lstm)


def test_lstm_canvas_is_the_lstm_recipe_at_a_quarter_length_changing_only_std_and_m(tmp_path):
  from experiments.configs import ram_cluttered  # pylint: disable=g-import-not-at-top
  from tests.helpers import run_binary  # pylint: disable=g-import-not-at-top
  reference = {**ram_search.sample_settings(0, ram_search.REFERENCE, "near_recipe"), "core": "lstm",
               "epochs": ram_mnist.RECIPE["epochs"] // 4}
  trials = [ram_search.sample_settings(0, i, "lstm_canvas") for i in range(len(ram_search.LSTM_CANVAS_VARIANTS))]
  assert trials[0] == reference
  std = reference["location_std"]
  assert ([round(t["location_std"] / std, 6) for t in trials]
          == [1.0, 0.6, round(math.sqrt(2), 6), 1.0, 2.0, round(2 * math.sqrt(2), 6), 2.0])
  assert [t["num_samples"] for t in trials] == [1, 1, 1, 2, 1, 1, 2]
  for t in trials:
    assert {k: v for k, v in t.items() if k not in ("location_std", "num_samples")} == {
        k: v for k, v in reference.items() if k not in ("location_std", "num_samples")}
  fields = ram_search.overrides(trials[3], eval_every_epochs=10)
  assert fields["model.core"] == "lstm" and fields["num_train_steps"] == ram_mnist.steps_for(50)
  assert_fields_of(ram_cluttered.get_config("100,8"), fields)
  bad = run_binary("experiments.ram_search", f"--root={tmp_path}", "--space=lstm_canvas", "--trials=8", "--dry_run")
  assert bad.returncode != 0 and bad.stderr.strip().startswith("error: --first=0 --trials=8: --space=lstm_canvas")
  assert len(bad.stderr.strip().splitlines()) == 1
