"""The one training loop every experiment shares, and its parts (state, optimizers, parallelism, checkpoints,
metrics)."""
