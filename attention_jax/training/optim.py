"""Optimizers and learning-rate schedules, picked by name from `config.optimizer`.

Optimizers: SGD (with momentum, optionally Nesterov), Adam, Adadelta (Zeiler 2012; Bahdanau et al. use
rho=0.95, eps=1e-6). Schedules: constant, linear annealing to 0 over the run (Mnih et al.), cosine decay; each may
start with a linear warmup. A constant schedule may end with a linear cooldown to 0 over its last `cooldown_steps`
(warmup-stable-decay: Hu et al. 2024, Haegele et al. 2024); until the cooldown starts it is the constant schedule, so a
run trained without one can be resumed with one. `clip_norm > 0` rescales gradients to at most that global norm first.

`weight_decay > 0` takes one of two forms (`weight_decay_type`):
  l2         (the default) wd * w is added to the gradient before the optimizer, i.e. an L2 penalty wd/2 |w|^2 in
             the loss. With Adam or Adadelta the decay is then rescaled per coordinate like the gradient, so
             weights with large gradients decay less: this is *not* AdamW.
  decoupled  Loshchilov & Hutter (2019): the optimizer's direction u_t is computed from the gradient alone, then
             w <- w - lr_t (u_t + wd * w). With Adam this is AdamW; with SGD, SGDW (momentum never carries the
             decay).
"""

import optax

from attention_jax.errors import UserError, check_choice, check_positive

OPTIMIZERS = ("sgd", "adam", "adadelta")
WEIGHT_DECAY_TYPES = ("l2", "decoupled")
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


def _optimizer(cfg, schedule) -> optax.GradientTransformation:
  if cfg.name == "sgd":
    return optax.sgd(schedule, momentum=cfg.momentum or None, nesterov=bool(cfg.get("nesterov", False)))
  if cfg.name == "adam":
    return optax.adam(schedule, b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  return optax.adadelta(schedule, rho=cfg.rho, eps=cfg.eps)


def _direction(cfg) -> optax.GradientTransformation:
  """The optimizer without its learning rate: the direction u_t that `_optimizer` scales by -lr_t."""
  if cfg.name == "sgd":
    if not cfg.momentum:
      return optax.identity()
    return optax.trace(decay=cfg.momentum, nesterov=bool(cfg.get("nesterov", False)))
  if cfg.name == "adam":
    return optax.scale_by_adam(b1=cfg.b1, b2=cfg.b2, eps=cfg.eps)
  return optax.scale_by_adadelta(rho=cfg.rho, eps=cfg.eps)


def build_optimizer(cfg, num_train_steps: int):
  """Returns (optax transformation, learning-rate schedule) from `config.optimizer`."""
  check_choice("optimizer.name", cfg.name, OPTIMIZERS)
  schedule = build_schedule(cfg, num_train_steps)
  weight_decay = float(cfg.get("weight_decay", 0.0))
  if weight_decay < 0:
    raise UserError(f"config field optimizer.weight_decay={weight_decay} must be >= 0")
  decay_type = check_choice("optimizer.weight_decay_type", cfg.get("weight_decay_type", "l2"), WEIGHT_DECAY_TYPES)
  if weight_decay > 0 and decay_type == "decoupled":
    opt = optax.chain(_direction(cfg), optax.add_decayed_weights(weight_decay),
                      optax.scale_by_learning_rate(schedule))
  else:
    opt = _optimizer(cfg, schedule)
    if weight_decay > 0:  # L2: wd * w added to the gradient, then rescaled by the optimizer like the gradient
      opt = optax.chain(optax.add_decayed_weights(weight_decay), opt)
  if cfg.clip_norm < 0:
    raise UserError(f"config field optimizer.clip_norm={cfg.clip_norm} must be >= 0 (0 turns clipping off)")
  if cfg.clip_norm > 0:
    opt = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), opt)
  return opt, schedule
