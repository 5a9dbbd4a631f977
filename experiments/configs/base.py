"""Fields every experiment shares; each config file starts from `base_config()` and overrides what it needs."""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.task = "classification"
  c.seed = 0
  c.parallel = "sharding"  # or "pmap"
  c.num_devices = 0  # 0: all local devices

  c.batch_size = 128
  c.eval_batch_size = 500
  c.num_train_steps = 1000
  c.log_every_steps = 100
  c.eval_every_steps = 500
  c.checkpoint_every_steps = 500
  c.keep_checkpoints = 3
  c.eval_split = "test"  # the split training evaluates every eval_every_steps (the RAM configs: "valid")
  c.select_by = ""  # a metric of that evaluation (lower is better): its best checkpoint is the one evaluated
  c.evals = ()  # evaluators experiments.evaluate runs (training/evaluators.py); () runs all the task offers

  c.data = ml_collections.ConfigDict()
  c.data.name = "mnist_embedded"
  c.data.mnist_dir = "../shared/data/mnist"  # IDX files (offline and full protocols); "" downloads
  c.data.tfds_data_dir = ""  # prepared array_record data; "" means ~/attention_jax_data/tfds

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "sgd"  # sgd | adam | adadelta
  c.optimizer.learning_rate = 0.1
  c.optimizer.schedule = "constant"  # constant | linear (to 0) | cosine
  c.optimizer.warmup_steps = 0
  c.optimizer.cooldown_steps = 0  # constant schedule only: linear decay to 0 over the last cooldown_steps
  c.optimizer.momentum = 0.9
  c.optimizer.nesterov = False
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.rho = 0.95
  c.optimizer.clip_norm = 0.0  # 0: no clipping
  c.optimizer.weight_decay = 0.0
  c.optimizer.weight_decay_type = "l2"  # l2 (added to the gradient) | decoupled (AdamW, SGDW); training/optim.py
  return c
