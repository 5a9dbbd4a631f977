"""Experiments' tasks, picked by name from `config.task`."""

from attention_jax.errors import check_choice
from attention_jax.tasks import catch, classification, ram, text_classification, translation
from attention_jax.tasks.base import Task

BUILDERS = {"classification": classification.build, "ram": ram.build, "translation": translation.build,
            "catch": catch.build, "text_classification": text_classification.build}


def build(config) -> Task:
  return BUILDERS[check_choice("task", config.task, BUILDERS)](config)
