"""Optimizers and learning-rate schedules, picked by name from `config.optimizer`.

Optimizers: SGD (with momentum, optionally Nesterov), Adam, Adadelta (Zeiler 2012; Bahdanau et al. use
rho=0.95, eps=1e-6). Schedules: constant, linear annealing to 0 over the run (Mnih et al.), cosine decay; each may
start with a linear warmup. A constant schedule may end with a linear cooldown to 0 over its last `cooldown_steps`
(warmup-stable-decay: Hu et al. 2024, Haegele et al. 2024); until the cooldown starts it is the constant schedule, so a
run trained without one can be resumed with one. `clip_norm > 0` rescales gradients to at most that global norm first;
`weight_decay > 0` adds wd * w to the gradient.
"""

import optax

from attention_jax.errors import UserError, check_choice, check_positive

OPTIMIZERS = ("sgd", "adam", "adadelta")
SCHEDULES = ("constant", "linear", "cosine")


def build_schedule(cfg, num_train_steps: int) -> optax.Schedule:
  check_choice("optimizer.schedule", cfg.schedule, SCHEDULES)
  check_positive("optimizer.learning_rate", cfg.learning_rate)
  warmup = int(cfg.get("warmup_steps", 0))
  if not 0 <= warmup < num_train_steps:
    raise UserError(f"config field optimizer.warmup_steps={warmup} must lie in [0, num_train_steps="
                    f"{num_train_steps})")
  cooldown = int(cfg.get("cooldown_steps", 0))
  if cooldown and cfg.schedule != "constant":
    raise UserError(f"config field optimizer.cooldown_steps={cooldown} needs optimizer.schedule='constant' (got "
                    f"{cfg.schedule!r}, which decays already)")
  if not 0 <= cooldown <= num_train_steps - warmup:
    raise UserError(f"config field optimizer.cooldown_steps={cooldown} must lie in [0, num_train_steps - "
                    f"warmup_steps = {num_train_steps - warmup}]")
  decay_steps = num_train_steps - warmup
  if cfg.schedule == "constant" and cooldown:
    main = optax.join_schedules([optax.constant_schedule(cfg.learning_rate),
                                 optax.linear_schedule(cfg.learning_rate, 0.0, cooldown)], [decay_steps - cooldown])
  elif cfg.schedule == "constant":
    main = optax.constant_schedule(cfg.learning_rate)
  elif cfg.schedule == "linear":
    main = optax.linear_schedule(cfg.learning_rate, 0.0, decay_steps)
  else:
    main = optax.cosine_decay_schedule(cfg.learning_rate, decay_steps)
  if warmup == 0:
    return main
  return optax.join_schedules([optax.linear_schedule(0.0, cfg.learning_rate, warmup), main], [warmup])


def build_optimizer(cfg, num_train_steps: int):
  """Returns (optax transformation, learning-rate schedule) from `config.optimizer`."""
  check_choice("optimizer.name", cfg.name, OPTIMIZERS)
  schedule = build_schedule(cfg, num_train_steps)
  if cfg.name == "sgd":
    opt = optax.sgd(schedule, momentum=cfg.momentum or None, nesterov=bool(cfg.get("nesterov", False)))
  elif cfg.name == "adam":
    opt = optax.adam(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  else:
    opt = optax.adadelta(schedule, rho=cfg.rho, eps=cfg.eps)
  weight_decay = float(cfg.get("weight_decay", 0.0))
  if weight_decay < 0:
    raise UserError(f"config field optimizer.weight_decay={weight_decay} must be >= 0")
  if weight_decay > 0:  # L2 penalty wd/2 |w|^2 added to the gradient (decoupled from Adam's scaling: AdamW)
    opt = optax.chain(optax.add_decayed_weights(weight_decay), opt)
  if cfg.clip_norm < 0:
    raise UserError(f"config field optimizer.clip_norm={cfg.clip_norm} must be >= 0 (0 turns clipping off)")
  if cfg.clip_norm > 0:
    opt = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt)
  return opt, schedule
