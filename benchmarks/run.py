r"""Speed and memory benchmarks; one JSON line per benchmark.

  python -m benchmarks.run [--only NAME[,NAME]] [--mnist_dir=../shared/data/mnist]

Each line has at least name, examples_per_s (median over timed windows after compilation), compile_s,
peak_rss_mb (of this process so far), devices and the config that was timed; training benchmarks also have
input_fraction (the share of the timed wall time spent waiting on the host input pipeline: `next(batch)` and the
transfer to the device) and preplaced_steps_per_s (the same steps on batches placed beforehand: the step
without its input pipeline). Tests never assert these numbers.
"""

import json
import sys

from absl import app, flags
import ml_collections

from experiments import cli

_ONLY = flags.DEFINE_list("only", [], "Benchmarks to run (default: all).")
_WINDOWS = flags.DEFINE_integer("windows", 5, "Timed windows per benchmark (the median is reported).")
_STEPS = flags.DEFINE_integer("steps_per_window", 20, "Steps per timed window.")
_TATOEBA_FRA = flags.DEFINE_string("tatoeba_fra", "../shared/data/tatoeba/eng-fra-5k.tsv",
                                   "English-French TSV for nmt_small_train.")
_EUROPARL = flags.DEFINE_string("europarl", "../shared/data/europarl-en-it",
                                "Europarl English-Italian folder for nmt_europarl_train and nmt_europarl_beam.")
_EUROPARL_RUN = flags.DEFINE_string("europarl_run", "", "A trained nmt_europarl.py:rnnsearch,50 workdir whose "
                                    "newest checkpoint nmt_europarl_beam decodes with (default: initial parameters).")
_TATOEBA_CMN = flags.DEFINE_string("tatoeba_cmn", "../shared/data/tatoeba/cmn-eng.tsv",
                                   "English-Chinese TSV for nmt_beam_decode and nmt_paper_train.")


def mnist_fc_train():
  """FC-256 x 2 on 28x28 MNIST digits, batch 128, SGD with momentum (the classifier baseline's step)."""
  from experiments.configs import mnist_fc  # pylint: disable=g-import-not-at-top
  config = mnist_fc.get_config()
  timing = _time(config)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


def ram_mnist_train():
  """RAM, 28x28, 6 glimpses of 8x8 at 1 scale, 128/128/256, batch 128, M = 1 (the issue's speed target)."""
  from experiments.configs import ram_mnist  # pylint: disable=g-import-not-at-top
  config = _as_benchmarked(ram_mnist.get_config("6"))
  timing = _time(config)
  return ({"examples_per_s": timing["steps_per_s"] * config.batch_size,
           "glimpse_ms": _glimpse_ms(config, config.batch_size, config.reinforce.num_samples)} |
          _common(timing, config))


def ram_cluttered_train():
  """RAM, 60x60 cluttered (4 pieces), 8 glimpses of 12x12 at 3 scales, batch 128 (canvases drawn in the step)."""
  return _ram_train("60,8")


def ram_cluttered100_train():
  """RAM, 100x100 cluttered (8 pieces), 8 glimpses of 12x12 at 4 scales, batch 128."""
  return _ram_train("100,8")


def _ram_train(arg: str):
  from experiments.configs import ram_cluttered  # pylint: disable=g-import-not-at-top
  config = _as_benchmarked(ram_cluttered.get_config(arg))
  timing = _time(config)
  return ({"examples_per_s": timing["steps_per_s"] * config.batch_size,
           "glimpse_ms": _glimpse_ms(config, config.batch_size, config.reinforce.num_samples)} |
          _common(timing, config))


def _as_benchmarked(config):
  """A RAM config with the model these benchmarks have always timed: the paper's linear location network. The
  configs' searched recipe (issue 34) adds a hidden layer of 256 there; pinning it keeps the rows comparable across
  commits (`benchmarks.compare` runs each commit's own configs)."""
  if "location_net_hidden" in config.model:
    config.model.location_net_hidden = 0
  return config


def _glimpse_ms(config, images: int, paths: int, glimpses: int = 0) -> float:
  """The glimpse sensor alone, as the model of this checkout runs it, on `images` random uint8 images of the
  config's size: all `glimpses` (default: the model's T) glimpses of `paths` paths per image, jitted, median ms of
  5 calls after compilation. With `glimpse_tables` (December 2026 on) the tables are built once per image and
  shared; before, each path's copy of the image was padded and cropped."""
  import statistics  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from attention_jax.models import glimpse  # pylint: disable=g-import-not-at-top
  spec, size = config.model.glimpse, config.data.get("canvas", 0) or 28
  pooling, hw = spec.get("pooling", "mean"), (size, size)
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.integers(0, 256, (images, size, size, 1)).astype(np.uint8))
  locs = jnp.asarray(rng.uniform(-1, 1, (glimpses or config.model.num_glimpses, images * paths, 2)), jnp.float32)
  if hasattr(glimpse, "glimpse_tables"):
    def sensor(x, locs):
      tables = glimpse.glimpse_tables(x, spec.num_scales, pooling)
      return jax.vmap(lambda l: glimpse.batched_glimpse_sensor(tables, l, hw, spec.size, pooling))(locs)
  else:
    def sensor(x, locs):
      padded = glimpse.pad_images(jnp.repeat(x, paths, axis=0), spec.size, spec.num_scales)
      return jax.vmap(lambda l: glimpse.batched_glimpse_sensor(padded, l, hw, spec.size, spec.num_scales,
                                                               pooling))(locs)
  fn = jax.jit(sensor)
  jax.block_until_ready(fn(x, locs))
  times = []
  for _ in range(5):
    start = time.perf_counter()
    jax.block_until_ready(fn(x, locs))
    times.append(1000 * (time.perf_counter() - start))
  return round(statistics.median(times), 3)


def conv_cluttered_train():
  """The conv baseline (8 filters 10x10 stride 5, 256 ReLU) on the same 60x60 cluttered canvases, batch 128."""
  from experiments.configs import ram_cluttered  # pylint: disable=g-import-not-at-top
  config = ram_cluttered.get_config("60,conv")
  timing = _time(config)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


def ram_eval():
  """RAM evaluation (28x28, 6 glimpses, 4 sampled paths and the mean path): images per second over the test
  split."""
  from experiments.configs import ram_mnist  # pylint: disable=g-import-not-at-top
  config = _as_benchmarked(ram_mnist.get_config("6"))
  config.reinforce.eval_samples = 4
  return _ram_eval(config)


def ram_eval_cluttered():
  """RAM evaluation, 60x60 cluttered, 8 glimpses, 16 sampled paths (and the mean path) per image: images per
  second over the whole test split."""
  from experiments.configs import ram_cluttered  # pylint: disable=g-import-not-at-top
  config = _as_benchmarked(ram_cluttered.get_config("60,8"))
  config.reinforce.eval_samples = 16
  return _ram_eval(config) | {"glimpse_ms": _glimpse_ms(config, config.eval_batch_size, 16)}


def _ram_eval(config):
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  trainer = loop.build_trainer(config)
  params = trainer.par.put_replicated(trainer.initial_state().params)
  start = time.perf_counter()
  first = trainer.evaluate(params, "test")  # compiles
  compile_s = time.perf_counter() - start
  rates = []
  for _ in range(3):
    start = time.perf_counter()
    jax.block_until_ready(trainer.evaluate(params, "test"))
    rates.append(first["num_examples"] / (time.perf_counter() - start))
  timing = {"compile_s": round(compile_s, 3), "steps_per_s": 0.0, "devices": trainer.par.num_devices}
  return {"examples_per_s": sorted(rates)[1], "eval_samples": config.reinforce.eval_samples} | _common(timing, config)


def _small_translation_config():
  """RNNsearch, GRU hidden 128, embedding 128, batch 32, sentences up to 10 tokens, Tatoeba English-French with
  SentencePiece vocabularies of 2,300 source and 1,200 target pieces (the size of the word vocabularies of the
  well-known PyTorch tutorial model). Batches come from length buckets 5..10 (one compilation each), as in every
  translation config: a batch is padded to its bucket, not to 10."""
  from experiments.configs import nmt_tatoeba  # pylint: disable=g-import-not-at-top
  config = nmt_tatoeba.get_config("rnnsearch")
  config.model.update(embed=128, hidden=128, maxout=128, alignment=128)
  config.data.path = _TATOEBA_FRA.value
  config.data.update(valid_size=200, test_size=200, src_vocab_size=2300, tgt_vocab_size=1200,
                     tgt_character_coverage=1.0, max_len=10, buckets=(5, 6, 7, 8, 9))
  config.batch_size = 32
  return config


def nmt_small_train():
  """Training pairs/s of the small RNNsearch above (the issue's target: 3,000 pairs/s on 2 CPU cores)."""
  config = _small_translation_config()
  timing = _time(config, warmup_steps=200)  # 1.5 epochs: every bucket is compiled before the clock starts
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size} | _common(timing, config)


def nmt_beam_decode():
  """Beam search (beam 10, max 30 tokens) sentences/s over 1,000 Tatoeba cmn-eng test sentences, batch 200,
  with the nmt_tatoeba RNNsearch at its initial parameters (so hypotheses tend to run to the maximum length)."""
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from experiments.configs import nmt_tatoeba  # pylint: disable=g-import-not-at-top
  from attention_jax.training import loop  # pylint: disable=g-import-not-at-top
  config = nmt_tatoeba.get_config("rnnsearch")
  config.data.path = _TATOEBA_CMN.value
  config.decode.update(method="beam", beam_size=10)
  trainer = loop.build_trainer(config)
  params = trainer.initial_state().params
  arrays, translate = trainer.task.extras["arrays"]("test"), trainer.task.extras["translate"]
  batches = [(arrays["src"][i:i + 200], arrays["src_len"][i:i + 200]) for i in range(0, len(arrays["src"]) - 199,
                                                                                     200)]
  start = time.perf_counter()
  jax.block_until_ready(translate(params, *batches[0]))
  compile_s = time.perf_counter() - start
  rates = []
  for _ in range(3):
    start = time.perf_counter()
    for batch in batches:
      out = translate(params, *batch)
    jax.block_until_ready(out)
    rates.append(200 * len(batches) / (time.perf_counter() - start))
  timing = {"compile_s": round(compile_s, 3), "steps_per_s": 0.0, "devices": 1}
  return {"examples_per_s": sorted(rates)[1], "unit": "sentences"} | _common(timing, config)


def nmt_paper_train():
  """RNNsearch at the paper's sizes (embedding 620, hidden 1000, maxout 500, alignment 1000), batch 80, Tatoeba
  cmn-eng up to 30 tokens (vocabularies as large as SentencePiece finds in it); target tokens/s."""
  from experiments.configs import nmt_tatoeba  # pylint: disable=g-import-not-at-top
  config = nmt_tatoeba.get_config("rnnsearch")
  config.model.update(embed=620, hidden=1000, maxout=500, alignment=1000)
  config.data.path = _TATOEBA_CMN.value
  config.data.update(src_vocab_size=8000, tgt_vocab_size=8000, buckets=())
  config.batch_size = 80
  config.optimizer.update(name="adadelta", learning_rate=1.0, schedule="constant", warmup_steps=0, eps=1e-6,
                          rho=0.95, clip_norm=1.0)
  from benchmarks import harness  # pylint: disable=g-import-not-at-top
  timing = harness.time_training(config, windows=3, steps_per_window=3)
  arrays = timing["trainer"].task.extras["arrays"]("train")
  tokens_per_pair = float(arrays["tgt_len"].mean())
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size,
          "target_tokens_per_s": round(timing["steps_per_s"] * config.batch_size * tokens_per_pair, 1),
          "vocab": [len(timing["trainer"].task.extras["src_vocab"]), len(timing["trainer"].task.extras["tgt_vocab"])]
          } | _common(timing, config)


def nmt_europarl_train():
  """RNNsearch-50 of experiments/configs/nmt_europarl.py at its CPU size (embedding 96, GRU 128, maxout 96,
  alignment 96, 8,000 words a side), batch 64 from its length buckets (pairs up to 50 words of the 200,000-pair
  subset; the buckets compile before the clock starts): target tokens/s."""
  from experiments.configs import nmt_europarl  # pylint: disable=g-import-not-at-top
  config = nmt_europarl.get_config("rnnsearch,50")
  config.data.path = f"{_EUROPARL.value}/train.tsv.gz"
  config.data.update(valid_path=f"{_EUROPARL.value}/valid.tsv", test_path=f"{_EUROPARL.value}/test.tsv")
  timing = _time(config, warmup_steps=60)
  tokens_per_pair = float(timing["trainer"].task.extras["arrays"]("train")["tgt_len"].mean())
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size,
          "target_tokens_per_s": round(timing["steps_per_s"] * config.batch_size * tokens_per_pair, 1)
          } | _common(timing, config)


def nmt_europarl_beam():
  """Beam search (beam 10, length penalty 0.6, up to 100 tokens) over Europarl's test sentences (those of at most
  100 tokens: 2,988 of 3,000), batch 200, with the RNNsearch-50 of --europarl_run (a trained workdir, so that
  hypotheses end where a trained model ends them) or, without it, initial parameters: sentences/s, one pass."""
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from attention_jax.training import checkpoint, loop  # pylint: disable=g-import-not-at-top
  if _EUROPARL_RUN.value:
    config = loop.load_config(_EUROPARL_RUN.value)
  else:
    from experiments.configs import nmt_europarl  # pylint: disable=g-import-not-at-top
    config = nmt_europarl.get_config("rnnsearch,50")
    config.data.path = f"{_EUROPARL.value}/train.tsv.gz"
    config.data.update(valid_path=f"{_EUROPARL.value}/valid.tsv", test_path=f"{_EUROPARL.value}/test.tsv")
  trainer = loop.build_trainer(config)
  if _EUROPARL_RUN.value:
    ckpt = checkpoint.Checkpointer(_EUROPARL_RUN.value, config.checkpoint_every_steps, config.keep_checkpoints)
    _, state, _ = ckpt.restore_newest(trainer.abstract_state())
    ckpt.close()
  else:
    state = trainer.initial_state()
  arrays, translate = trainer.task.extras["arrays"]("test"), trainer.task.extras["translate"]
  batches = [(arrays["src"][i:i + 200], arrays["src_len"][i:i + 200]) for i in range(0, len(arrays["src"]) - 199,
                                                                                     200)]
  start = time.perf_counter()
  jax.block_until_ready(translate(state.params, *batches[0]))
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  for batch in batches:
    out = translate(state.params, *batch)
  jax.block_until_ready(out)
  rate = 200 * len(batches) / (time.perf_counter() - start)
  timing = {"compile_s": round(compile_s, 3), "steps_per_s": 0.0, "devices": 1}
  return {"examples_per_s": rate, "unit": "sentences", "trained": bool(_EUROPARL_RUN.value),
          "sentences": 200 * len(batches)} | _common(timing, config)


def ram_catch_train():
  """RAM playing Catch (6x6 retina, 3 scales, LSTM 256), the config's 256 games of 23 frames per update: frames/s."""
  from experiments.configs import ram_catch  # pylint: disable=g-import-not-at-top
  config = ram_catch.get_config()
  timing = _time(config)
  frames = timing["steps_per_s"] * config.batch_size * 23
  catch_screen = {"data": {"canvas": 24}, "model": config.model}  # 24x24 screens, one glimpse of each
  glimpse_ms = _glimpse_ms(ml_collections.ConfigDict(catch_screen), config.batch_size * 23, 1, glimpses=1)
  return {"examples_per_s": frames, "unit": "frames", "glimpse_ms": glimpse_ms,
          "hours_for_20m_frames": round(20e6 / frames / 3600, 2)} | _common(timing, config)


def textcls_train():
  """The attention BiLSTM of experiments/configs/textcls.py (embedding 64, LSTM 64 a direction, attention 64) on
  SST-2's training sentences, batch 50 from length buckets 12/20/30/52 (every bucket compiled before the clock
  starts): sentences/s."""
  from experiments.configs import textcls  # pylint: disable=g-import-not-at-top
  config = textcls.get_config("sst2")
  timing = _time(config, warmup_steps=100)
  return {"examples_per_s": timing["steps_per_s"] * config.batch_size, "unit": "sentences"} | _common(timing, config)


BENCHMARKS = {"mnist_fc_train": mnist_fc_train, "ram_mnist_train": ram_mnist_train,
              "ram_cluttered_train": ram_cluttered_train, "ram_cluttered100_train": ram_cluttered100_train,
              "conv_cluttered_train": conv_cluttered_train, "ram_eval": ram_eval,
              "ram_eval_cluttered": ram_eval_cluttered, "nmt_small_train": nmt_small_train,
              "nmt_beam_decode": nmt_beam_decode, "nmt_paper_train": nmt_paper_train,
              "ram_catch_train": ram_catch_train, "textcls_train": textcls_train,
              "nmt_europarl_train": nmt_europarl_train, "nmt_europarl_beam": nmt_europarl_beam}


def _time(config, warmup_steps: int = 0):
  from benchmarks import harness  # pylint: disable=g-import-not-at-top
  return harness.time_training(config, windows=_WINDOWS.value, steps_per_window=_STEPS.value,
                               warmup_steps=warmup_steps)


def _common(timing, config):
  from benchmarks import harness  # pylint: disable=g-import-not-at-top
  common = {"compile_s": timing["compile_s"], "steps_per_s": round(timing["steps_per_s"], 2)}
  if "input_fraction" in timing:
    common["input_fraction"] = round(timing["input_fraction"], 4)
    common["preplaced_steps_per_s"] = round(timing["preplaced_steps_per_s"], 2)
  return common | {"peak_rss_mb": round(harness.peak_rss_mb(), 1), "devices": timing["devices"],
                   "config": json.loads(config.to_json_best_effort())}


def main(argv):
  del argv
  from attention_jax.errors import UserError  # pylint: disable=g-import-not-at-top
  names = _ONLY.value or list(BENCHMARKS)
  unknown = [n for n in names if n not in BENCHMARKS]
  if unknown:
    print(f"error: --only names unknown benchmark(s) {unknown}; expected some of {sorted(BENCHMARKS)}",
          file=sys.stderr)
    sys.exit(2)
  for name in names:
    try:
      row = {"name": name} | BENCHMARKS[name]()
    except UserError as e:
      print(f"error: {name}: {e}", file=sys.stderr)
      sys.exit(2)
    row["examples_per_s"] = round(row["examples_per_s"], 1)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
  cli.configure_jax()
  app.run(main, flags_parser=cli.parse_flags)
