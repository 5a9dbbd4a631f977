"""REINFORCE with a learned baseline (Williams 1992), as used by Mnih et al. (2014), Section 3.2 (Eq. 2):

  grad J = sum_t grad log pi(a_t | s_{1:t}) (R_t - b_t),

estimated with samples. `reinforce_loss` is the surrogate whose gradient is that estimate (negated, to be
minimised); the advantage R_t - b_t is held constant, so the baseline gets no gradient from it, and the baseline is
trained separately by `baseline_loss`.
"""

import jax
import jax.numpy as jnp


def reinforce_loss(log_probs: jnp.ndarray, returns: jnp.ndarray, baselines: jnp.ndarray) -> jnp.ndarray:
  """-sum_t log pi(a_t) (R_t - b_t) with the advantage held constant: [..., T] each -> [...]."""
  advantage = jax.lax.stop_gradient(returns - baselines)
  return -jnp.sum(log_probs * advantage, axis=-1)


def baseline_loss(returns: jnp.ndarray, baselines: jnp.ndarray) -> jnp.ndarray:
  """sum_t (R_t - b_t)^2, which trains b_t towards E[R_t]: [..., T] each -> [...]."""
  return jnp.sum(jnp.square(jax.lax.stop_gradient(returns) - baselines), axis=-1)


def final_reward_returns(final_reward: jnp.ndarray, num_steps: int, discount: float = 1.0) -> jnp.ndarray:
  """Returns R_t = discount^(T - t) r_T of a reward given only after the last of T steps: [...] -> [..., T]."""
  powers = jnp.arange(num_steps - 1, -1, -1, dtype=jnp.float32)  # T-1, ..., 0
  return final_reward[..., None] * discount ** powers
