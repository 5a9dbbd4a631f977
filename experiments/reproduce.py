r"""Reproduces a results table: trains and evaluates every run its spec names that has not finished, N at a time,
on this machine or on a SLURM cluster (through submitit), then collects the table as the repo ships it.

  python -m experiments.reproduce --spec=results/ram_offline.spec.json --root=$HOME/runs --jobs=2
  python -m experiments.reproduce --spec=results/textcls.spec.json --root=$HOME/runs --rows=tc_sst2_attention \
      --seeds=0,1 --dry_run                                       # print what would run, run nothing
  python -m experiments.reproduce --spec=results/ram_paper_tables.spec.json --root=/shared/runs \
      --executor=slurm --slurm_partition=gpu --slurm_gpus=1 --slurm_time_min=720 --jobs=16

The spec (`experiments/specs.py`) names each row's config, overrides and seeds; run (ID, S) trains in ROOT/ID_sS.
A run is finished when its eval.json was written after training reached the config's last step. Run again, this
does only what is missing: a finished run is skipped, an interrupted one resumes from its newest checkpoint, and a
run another process is training (it holds the workdir's lock) is waited for, not started twice. A run that fails
is reported with its log (ROOT/_reproduce/logs/ID_sS.log) while the others go on, and the exit status is 1.
SIGINT/SIGTERM stop the local runs cleanly (each saves a checkpoint) and exit 130/143; the same command resumes.

When every run of the spec is finished, the table is written (`--out`, default ROOT/NAME.json, with NAME.md
beside it; `--curves` draws the headline rows), by `experiments.collect_results`, or by
`experiments.collect_translation` for a spec of translation models. `--previous=results/NAME.json` keeps the rows
of runs whose workdirs are gone (see collect_results). With `--rows`/`--seeds` only those runs are trained.
`--partial` collects the rows that are done (all runs finished, or with `--previous` carried from it) and lists
the others as unfinished.
"""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

from absl import app, flags

from experiments import cli
from experiments import specs

def define_flags() -> None:
  """The binary's flags, defined only when it runs as one (tests import this module beside other binaries)."""
  flags.DEFINE_string("spec", None, "The table's spec, results/NAME.spec.json.")
  flags.DEFINE_string("root", None, "Folder of the runs' workdirs (outside the repo).")
  flags.DEFINE_list("rows", [], "Only the runs of these row ids (default: every row).")
  flags.DEFINE_list("seeds", [], "Only these seeds (default: each row's own).")
  flags.DEFINE_integer("jobs", 1, "Runs in flight at a time.", lower_bound=1)
  flags.DEFINE_enum("executor", "local", ["local", "slurm"], "Where runs go: this machine, or SLURM.")
  flags.DEFINE_string("slurm_partition", "", "SLURM partition of each job.")
  flags.DEFINE_integer("slurm_gpus", 0, "GPUs per SLURM job.")
  flags.DEFINE_integer("slurm_cpus", 8, "CPUs per SLURM job.")
  flags.DEFINE_integer("slurm_time_min", 24 * 60, "Time limit of each SLURM job, minutes.")
  flags.DEFINE_string("slurm_account", "", "SLURM account to charge, where the cluster needs one.")
  flags.DEFINE_float("poll_s", 30.0, "Seconds between progress lines.")
  flags.DEFINE_bool("dry_run", False, "Print each run's state and commands; run nothing.")
  flags.DEFINE_bool("collect", True, "Collect the table once every run of the spec is finished.")
  flags.DEFINE_bool("partial", False, "Collect the rows whose runs are all finished even while others are not "
                    "(the table lists the rest under 'unfinished_rows'); rows and models otherwise all wait.")
  flags.DEFINE_string("out", "", "The table to write (default ROOT/NAME.json, NAME.md beside it).")
  flags.DEFINE_string("curves", "", "Also draw the headline rows' test curves to this PNG.")
  flags.DEFINE_string("previous", "", "A table collected before: rows whose workdirs are gone keep its "
                                  "measurement (experiments.collect_results).")
  flags.mark_flags_as_required(["spec", "root"])

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def finished(workdir: str) -> bool:
  """Whether the run in `workdir` trained to its config's last step and was evaluated after that."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  paths = {name: os.path.join(workdir, name) for name in ("config.json", "run.json", "eval.json")}
  if not all(os.path.isfile(p) for p in paths.values()):
    return False
  try:
    steps = io_utils.read_json(paths["config.json"])["num_train_steps"]
    trained = io_utils.read_json(paths["run.json"])["steps"]
  except (OSError, ValueError, KeyError, TypeError):
    return False
  return trained >= steps and os.path.getmtime(paths["eval.json"]) >= os.path.getmtime(paths["run.json"])


def run_state(run) -> str:
  from attention_jax.training import workdir  # pylint: disable=g-import-not-at-top
  if finished(run.workdir):
    return "finished"
  return "running elsewhere" if workdir.in_use(run.workdir) else "to run"


def run_job(commands, log_path: str) -> str:
  """The job: runs each command (train, then evaluate) in the repo, output appended to `log_path`. SIGINT or
  SIGTERM is passed on to the command (training saves a checkpoint and stops). Raises on a command's failure."""
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  stop = []
  for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, lambda s, _: stop.append(s))
  with open(log_path, "a", encoding="utf-8") as log:
    for command in commands:
      log.write(f"$ {shlex.join(command)}\n")
      log.flush()
      proc = subprocess.Popen([sys.executable, *command[1:]], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
      while proc.poll() is None:
        if stop:
          proc.send_signal(signal.SIGTERM)
          stop.clear()
        time.sleep(0.2)
      if proc.returncode != 0:
        raise RuntimeError(f"{command[2]} exited with status {proc.returncode}; see {log_path}")
  return log_path


def make_executor(kind: str, folder: str, partition: str = "", gpus: int = 0, cpus: int = 8,
                  time_min: int = 24 * 60, account: str = ""):
  """A submitit executor: LocalExecutor (jobs are processes here) or SlurmExecutor (one node, one task, `cpus`
  CPUs and `gpus` GPUs per job, a `time_min` limit, on `partition` and `account` where given)."""
  import submitit  # pylint: disable=g-import-not-at-top
  if kind == "local":
    executor = submitit.LocalExecutor(folder=folder)
    executor.update_parameters(timeout_min=10 ** 6)
    return executor
  if not shutil.which("srun"):
    from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
    raise UserError("--executor=slurm: no srun on PATH; run this on a SLURM login node, or use --executor=local")
  executor = submitit.SlurmExecutor(folder=folder)
  extra = {"partition": partition} if partition else {}
  if gpus:
    extra["gpus_per_node"] = gpus
  if account:
    extra["account"] = account
  executor.update_parameters(time=time_min, cpus_per_task=cpus, ntasks_per_node=1, nodes=1,
                             job_name="attention_jax", **extra)
  return executor


def run_progress(run) -> str:
  """'NAME step S/N ETA M min' from the run's metrics.jsonl and config.json ('NAME starting' before either)."""
  from attention_jax import io_utils  # pylint: disable=g-import-not-at-top
  try:
    total = io_utils.read_json(os.path.join(run.workdir, "config.json"))["num_train_steps"]
    rows = [r for r in io_utils.read_json_lines(os.path.join(run.workdir, "metrics.jsonl"))
            if r.get("split") == "train" and "steps_per_s" in r]
  except (OSError, ValueError, KeyError, TypeError):
    return f"{run.name} starting"
  if not rows:
    return f"{run.name} starting"
  step, rate = rows[-1]["step"], rows[-1]["steps_per_s"]
  eta = f" ETA {(total - step) / rate / 60:.0f} min" if rate > 0 and step < total else " evaluating"
  return f"{run.name} step {step:,}/{total:,}{eta}"


def progress_line(counts: dict, running) -> str:
  line = ", ".join(f"{n} {state}" for state, n in counts.items())
  return f"reproduce: {line}" + "".join(f"; {run_progress(r)}" for r in running)


def last_error_line(log_path: str) -> str:
  """The last `error:` line of a run's log ('' if none): what the binary said when it gave up."""
  try:
    with open(log_path, encoding="utf-8", errors="replace") as f:
      lines = [line.strip() for line in f if line.startswith("error:")]
  except OSError:
    return ""
  return lines[-1][:300] if lines else ""


class _Stop:
  """SIGINT/SIGTERM as a flag the scheduling loop reads (the first one only; a second is the default again)."""

  def __init__(self):
    self.signum = None
    for signum in (signal.SIGINT, signal.SIGTERM):
      signal.signal(signum, self._handle)

  def _handle(self, signum, _):
    self.signum = signum
    signal.signal(signum, signal.SIG_DFL)


def run_all(todo, executor, jobs: int, poll_s: float, log_dir: str) -> tuple:
  """Runs `todo` through `executor`, `jobs` at a time, printing progress; returns (failures [(run, message)], the
  signal that stopped it or None, the runs still in flight {name: (run, job)}). A run another process holds waits until it is free, then is looked at again."""
  waiting, running, failures, counts = list(todo), {}, [], {"finished": 0, "failed": 0}
  stop, shown, last = _Stop(), None, 0.0
  while (waiting or running) and stop.signum is None:
    for name, (run, job) in list(running.items()):
      if job.done():
        del running[name]
        log = os.path.join(log_dir, f"{name}.log")
        if job.exception() is None:
          counts["finished"] += 1
        else:
          counts["failed"] += 1
          failures.append((run, f"{name} failed ({last_error_line(log) or 'no error line'}); log: {log}"))
          print(f"reproduce: {failures[-1][1]}", file=sys.stderr)
    for run in list(waiting):
      if len(running) >= jobs:
        break
      state = run_state(run)
      if state == "running elsewhere":
        continue
      waiting.remove(run)
      if state == "finished":
        counts["finished"] += 1
        continue
      log = os.path.join(log_dir, f"{run.name}.log")
      running[run.name] = (run, executor.submit(run_job, (run.train, run.evaluate), log))
    line = progress_line(counts | {"running": len(running), "waiting": len(waiting)},
                         [r for r, _ in running.values()])
    if line != shown or time.time() - last >= poll_s:
      print(line, file=sys.stderr, flush=True)
      shown, last = line, time.time()
    time.sleep(min(1.0, poll_s))
  return failures, stop.signum, running


def stop_running(running: dict, kind: str) -> None:
  """After SIGINT/SIGTERM: local runs are asked to stop (each saves a checkpoint) and waited for; SLURM jobs go on
  (the same command follows them again, since each holds its workdir's lock)."""
  if kind != "local":
    print(f"reproduce: {len(running)} SLURM jobs go on; run the same command to follow them", file=sys.stderr)
    return
  for _, job in running.values():
    job.cancel()
  for _, job in running.values():
    while not job.done():
      time.sleep(0.5)
  print(f"reproduce: stopped {len(running)} runs after their checkpoints; run the same command to resume",
        file=sys.stderr)


def selected_runs(spec: dict, root: str, rows, seeds) -> list:
  """The spec's runs under `root`, only the --rows ids and --seeds if given (each checked against the spec)."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  known = {entry["id"] for _, entry in specs.entries(spec)}
  unknown = sorted(set(rows) - known)
  if unknown:
    raise UserError(f"--rows={','.join(rows)}: {', '.join(unknown)} is not a row id of --spec; expected some of: "
                    f"{', '.join(sorted(known))}")
  try:
    wanted_seeds = {int(s) for s in seeds} or None
  except ValueError as e:
    raise UserError(f"--seeds={','.join(seeds)}: expected integers separated by commas") from e
  found = specs.runs(spec, root, set(rows) or None, wanted_seeds)
  if not found:
    raise UserError(f"--seeds={','.join(seeds)}: no row of --spec has these seeds")
  return found


def finished_rows(spec: dict, root: str, previous: dict | None = None) -> dict:
  """The spec with only the rows whose runs have all finished, or (with `previous`, a table collected before)
  whose workdirs are all gone and which that table holds as the spec names them; the others' ids under
  "unfinished_rows"."""
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  workdirs = lambda row: [specs.workdir(root, row["id"], s) for s in row.get("seeds", [0])]
  carried = lambda row: (previous is not None and not any(os.path.exists(w) for w in workdirs(row))
                         and any(specs.measured_as_specified(row, old) for old in previous["rows"]))
  done = lambda row: all(finished(w) for w in workdirs(row)) or carried(row)
  rows = [row for row in spec["rows"] if done(row)]
  if not rows:
    raise UserError("--partial: no row of --spec has all its runs finished yet")
  return spec | {"rows": rows, "unfinished_rows": sorted({row["id"] for row in spec["rows"] if not done(row)})}


def collect_table(spec: dict, spec_path: str, root: str, out: str, curves: str, previous: str) -> str:
  """Writes the table (JSON, and its Markdown beside it) with the repo's collectors; returns its path."""
  from experiments import collect_results, collect_translation  # pylint: disable=g-import-not-at-top
  name = os.path.basename(spec_path).removesuffix(".json").removesuffix(".spec")
  out = out or os.path.join(os.path.expanduser(root), f"{name}.json")
  if "models" in spec:
    collect_translation.write_table(collect_translation.collect(spec, root, previous), out,
                                    out.removesuffix(".json") + ".md")
    return out
  table = collect_results.collect(spec, root, collect_results.read_previous(previous) if previous else None,
                                  previous)
  if spec.get("unfinished_rows"):
    table["unfinished_rows"] = spec["unfinished_rows"]
  collect_results.write_table(spec, table, out, out.removesuffix(".json") + ".md", curves)
  return out


def dry_run(runs) -> None:
  for run in runs:
    print(f"# {run.name}: {run_state(run)}\n{shlex.join(run.train)} && \\\n  {shlex.join(run.evaluate)}")


def main(argv):
  del argv
  spec = cli.run_reporting_user_errors(specs.load_spec, flags.FLAGS.spec)
  runs = cli.run_reporting_user_errors(selected_runs, spec, flags.FLAGS.root, flags.FLAGS.rows, flags.FLAGS.seeds)
  if flags.FLAGS.dry_run:
    dry_run(runs)
    return
  base = os.path.join(os.path.expanduser(flags.FLAGS.root), "_reproduce")
  todo = [run for run in runs if not finished(run.workdir)]
  print(f"reproduce: {len(runs)} runs, {len(runs) - len(todo)} finished before", file=sys.stderr)
  executor = cli.run_reporting_user_errors(make_executor, flags.FLAGS.executor, os.path.join(base, "submitit"), flags.FLAGS.slurm_partition, flags.FLAGS.slurm_gpus,
                           flags.FLAGS.slurm_cpus, flags.FLAGS.slurm_time_min, flags.FLAGS.slurm_account)
  failures, signum, running = run_all(todo, executor, flags.FLAGS.jobs, flags.FLAGS.poll_s, os.path.join(base, "logs"))
  if signum is not None:
    stop_running(running, flags.FLAGS.executor)
    sys.exit(128 + signum)
  missing = [run.name for run in specs.runs(spec, flags.FLAGS.root) if not finished(run.workdir)]
  if flags.FLAGS.partial and missing and "rows" in spec:
    from experiments import collect_results  # pylint: disable=g-import-not-at-top
    previous = cli.run_reporting_user_errors(collect_results.read_previous, flags.FLAGS.previous) \
        if flags.FLAGS.previous else None
    spec = cli.run_reporting_user_errors(finished_rows, spec, flags.FLAGS.root, previous)
  if flags.FLAGS.collect and (not missing or flags.FLAGS.previous or flags.FLAGS.partial):
    out = cli.run_reporting_user_errors(collect_table, spec, flags.FLAGS.spec, flags.FLAGS.root, flags.FLAGS.out, flags.FLAGS.curves,
                                        flags.FLAGS.previous)
    print(f"reproduce: wrote {out}", file=sys.stderr)
  elif flags.FLAGS.collect:
    print(f"reproduce: the table is not collected: {len(missing)} of its runs are not finished "
          f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})", file=sys.stderr)
  for _, message in failures:
    print(f"error: {message}", file=sys.stderr)
  if failures:
    sys.exit(1)


if __name__ == "__main__":
  define_flags()
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
