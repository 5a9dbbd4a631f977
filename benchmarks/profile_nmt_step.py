r"""Where a translation training step's time goes: the output layer, the attention, the recurrences.

  python -m benchmarks.profile_nmt_step [--config=experiments/configs/nmt_europarl.py:rnnsearch,50] \
      [--batch=64] [--src_len=40] [--tgt_len=40]

Times the jitted gradient of the summed token cross-entropy (what the training step differentiates) on a synthetic
batch of the config's model at its sizes, then the same step with one part taken away:
  output layer   the target vocabulary cut to 8 words (the readout's maxout stays): its share is the difference
  attention      RNNencdec at the same sizes (one fixed context, no alignment model): the difference
  recurrences    what is left of the RNNencdec step beside its output layer (encoder and decoder GRUs, embeddings)
Each line is JSON: the variant, its median step time over --reps timed calls after compilation, and its share of
the full step. No data is read (token ids are random), so it runs anywhere in seconds; the shares, not the
absolute times, are the point on a shared machine.
"""

import json
import statistics
import time

from absl import app, flags

_CONFIG = flags.DEFINE_string("config", "experiments/configs/nmt_europarl.py:rnnsearch,50",
                              "config file:argument whose model sizes are profiled")
_BATCH = flags.DEFINE_integer("batch", 64, "sentence pairs per step")
_SRC_LEN = flags.DEFINE_integer("src_len", 40, "source tokens (padded length of the batch)")
_TGT_LEN = flags.DEFINE_integer("tgt_len", 40, "target tokens")
_REPS = flags.DEFINE_integer("reps", 10, "timed calls per variant")


def _load_config(spec: str):
  import importlib.util  # pylint: disable=g-import-not-at-top
  path, _, arg = spec.partition(":")
  module_spec = importlib.util.spec_from_file_location("profiled_config", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg) if arg else module.get_config()


def step_time(model_config, src_vocab: int, tgt_vocab: int, batch: int, src_len: int, tgt_len: int,
              reps: int) -> float:
  """Median seconds of one jitted gradient of the summed cross-entropy for this model on a random batch."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  from attention_jax.models import registry  # pylint: disable=g-import-not-at-top
  model = registry.build(model_config, names=("rnnsearch", "rnnencdec"), src_vocab=src_vocab, tgt_vocab=tgt_vocab)
  keys = jax.random.split(jax.random.PRNGKey(0), 3)
  src = jax.random.randint(keys[0], (batch, src_len), 4, src_vocab)
  tgt = jax.random.randint(keys[1], (batch, tgt_len), 4, tgt_vocab)
  src_len_arr = jnp.full((batch,), src_len, jnp.int32)
  params = model.init(keys[2], src, src_len_arr, tgt)["params"]

  def loss(p):
    logits, _ = model.apply({"params": p}, src, src_len_arr, tgt)
    return jnp.sum(optax.softmax_cross_entropy_with_integer_labels(logits, tgt))

  grad = jax.jit(jax.grad(loss))
  jax.block_until_ready(grad(params))  # compile
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(grad(params))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main(argv):
  del argv
  config = _load_config(_CONFIG.value)
  sizes = dict(batch=_BATCH.value, src_len=_SRC_LEN.value, tgt_len=_TGT_LEN.value, reps=_REPS.value)
  src_vocab, tgt_vocab = int(config.data.src_vocab_size), int(config.data.tgt_vocab_size)
  model = config.model.to_dict()
  encdec = {k: v for k, v in model.items() if k not in ("alignment", "attention")} | {"name": "rnnencdec"}
  variants = {
      "full": (model, tgt_vocab),
      "output layer cut to 8 words": (model, 8),
      "no attention (RNNencdec)": (encdec, tgt_vocab),
      "no attention, output layer cut to 8 words": (encdec, 8),
  }
  times = {name: step_time(m, src_vocab, v, **sizes) for name, (m, v) in variants.items()}
  full = times["full"]
  shares = {
      "output layer": (full - times["output layer cut to 8 words"]) / full,
      "attention": (full - times["no attention (RNNencdec)"]) / full,
      "recurrences and embeddings": times["no attention, output layer cut to 8 words"] / full,
  }
  for name, seconds in times.items():
    print(json.dumps({"variant": name, "step_ms": round(1e3 * seconds, 1), "of_full": round(seconds / full, 3)}
                     | sizes | {"model": model, "src_vocab": src_vocab, "tgt_vocab": tgt_vocab}))
  print(json.dumps({"shares": {k: round(v, 3) for k, v in shares.items()},
                    "target_tokens_per_s": round(_BATCH.value * _TGT_LEN.value / full, 1)}))


if __name__ == "__main__":
  app.run(main)
