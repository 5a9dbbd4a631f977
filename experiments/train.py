r"""Trains an experiment; run again with the same --workdir to resume from its newest checkpoint.

  python -m experiments.train --config=experiments/configs/mnist_fc.py --workdir=/tmp/mnist_fc \
      [--config.FIELD=VALUE ...]

Exit status: 0 when the run reached its last step; 2 for a user error (one `error:` line); 143 when SIGTERM or
SIGINT stopped it (after a checkpoint of the step it was at: the same command resumes).

Multi-host (data parallel over every device of every process; each process feeds its own share of each batch):
  python -m experiments.train ... --coordinator_address=HOST:PORT --num_processes=N --process_id=I   # on each host
  python -m experiments.train ... --distributed=auto     # Cloud TPU pods, SLURM: the job is detected
"""

import contextlib
import os
import shlex
import sys

from absl import app, flags
from ml_collections import config_flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Folder for config.json, metrics, checkpoints and plots.")
config_flags.DEFINE_config_file("config", None, "A config file from experiments/configs/.", lock_config=True)
_DISTRIBUTED = flags.DEFINE_enum("distributed", "off", ["off", "auto", "flags"],
                                 "Join a multi-process job: 'auto' detects it (Cloud TPU, SLURM), 'flags' takes "
                                 "the three flags below (implied when they are given).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", "", "HOST:PORT of process 0, for a multi-process job.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", 0, "Processes in the multi-process job.")
_PROCESS_ID = flags.DEFINE_integer("process_id", -1, "This process's index in [0, num_processes).")
flags.mark_flags_as_required(["config", "workdir"])
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
  del argv
  from attention_jax import distributed  # pylint: disable=g-import-not-at-top
  from attention_jax import run_record  # pylint: disable=g-import-not-at-top
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  from attention_jax.training import workdir  # pylint: disable=g-import-not-at-top
  given = _COORDINATOR.value or _NUM_PROCESSES.value or _PROCESS_ID.value >= 0
  if _DISTRIBUTED.value != "off" or given:
    cli.run_reporting_user_errors(distributed.initialize, _COORDINATOR.value, _NUM_PROCESSES.value,
                                  _PROCESS_ID.value, _DISTRIBUTED.value == "auto")
  on_checkpoint = None
  with contextlib.ExitStack() as held:
    if distributed.is_primary():  # the processes of a multi-host job share the workdir; the first one holds it
      cli.run_reporting_user_errors(held.enter_context, workdir.exclusive(_WORKDIR.value))
      command = " ".join(["python -m experiments.train"] + [shlex.quote(a) for a in sys.argv[1:]])
      on_checkpoint = cli.run_reporting_user_errors(run_record.Recorder, _WORKDIR.value, command, REPO).update
    final = cli.run_reporting_user_errors(loop.train_and_evaluate, flags.FLAGS.config, _WORKDIR.value,
                                          on_checkpoint)
    if on_checkpoint:
      on_checkpoint(int(final.step))
  if int(final.step) < flags.FLAGS.config.num_train_steps:  # SIGTERM/SIGINT: the loop saved this step and stopped
    print(f"stopped by a signal at step {int(final.step)} of {flags.FLAGS.config.num_train_steps}, after its "
          "checkpoint; run the same command to resume", file=sys.stderr)
    sys.exit(143)  # as a process killed by SIGTERM, so `train && evaluate` does not go on


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
