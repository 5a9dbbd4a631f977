"""RAM playing Catch (Mnih et al. 2014, Section 4.2): one glimpse per frame, an LSTM core, a Gaussian location
policy and a softmax policy over the game's 3 actions, all trained by REINFORCE from the final reward.

Each frame t (the game runs inside the scan, so whole games are one compiled `nn.scan` over frames):
  l_t ~ N(mu(h_{t-1}), sigma^2 I)         location policy (tanh mean); the sensor reads clip(l_t, -1, 1), and
                                          the score is of the unclipped sample (unbiased; `ram.sample_location`)
  g_t = glimpse network(rho(x_t, l_t), l_t)
  h_t = LSTM(h_{t-1}, g_t)
  a_t ~ softmax(W_a h_t)                   sampled with pre-drawn Gumbel noise (argmax of logits + noise)
  b_t = w_b^T h_t                          baseline of the return (value of the game so far)
  x_{t+1}, r_t = catch.step(x_t, a_t)
Each policy's REINFORCE term uses the baseline of the state its choice was made from: a_t is drawn from h_t and
uses b_t, but l_t is drawn from h_{t-1} and uses b_{t-1} = w_b^T h_{t-1} (output `baseline_before`). Pairing
l_t with b_t would be biased: b_t has already seen the glimpse at l_t, so the surrogate would push the location
policy away from exactly those glimpses that make the outcome predictable.
As in the classification RAM, the location policy reads the core state through `stop_gradient`: its REINFORCE
term trains the location network alone, while the action policy's term trains action, core and glimpse networks.
With `baseline_trains_core` (the default) the baseline's squared error also trains core and glimpse networks, as
the value head of an actor-critic shares its trunk: a dense regression signal that teaches the core where ball and
paddle are long before the policy gradient alone would; without it the baseline reads `stop_gradient(h_t)`.
Every part of the agent learns from the final reward alone (no shaping).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from attention_jax.rl import catch
from attention_jax.models import glimpse
from attention_jax.models.glimpse import GlimpseSpec
from attention_jax.models.ram import GlimpseNetwork, gaussian_log_prob, sample_location


class CatchFrame(nn.Module):
  """One frame: glimpse, core update, action, game step (the fields are the agent's own, see `CatchAgent`)."""
  glimpse: GlimpseSpec
  core_size: int
  location_std: float
  greedy: bool
  baseline_trains_core: bool

  @nn.compact
  def __call__(self, carry, noise):
    lstm_carry, game = carry
    location_noise, action_noise = noise  # [b, 2], [b, 3]
    h_prev = lstm_carry[1]
    mean = jnp.tanh(nn.Dense(2, name="location")(jax.lax.stop_gradient(h_prev)))  # [b, 2]
    if self.greedy:
      loc, location_log_prob = mean, gaussian_log_prob(mean, mean, self.location_std)
    else:
      loc, location_log_prob = sample_location(mean, self.location_std, location_noise)  # [b, 2], [b]
    frames = jax.vmap(catch.render)(game)  # [b, 24, 24, 1]
    ball = jnp.stack([game.ball_row, game.ball_col], axis=-1)  # [b, 2], the ball on the screen this glimpse reads
    tables = glimpse.glimpse_tables(frames, self.glimpse.num_scales, self.glimpse.pooling)  # a new screen a frame
    g = GlimpseNetwork(self.glimpse, pixel_scale=1.0, name="glimpse")(tables, loc, frames.shape[1:3])
    lstm_carry, h = nn.OptimizedLSTMCell(self.core_size, name="core")(lstm_carry, g)
    logits = nn.Dense(catch.NUM_ACTIONS, name="action")(h)  # [b, 3]
    log_policy = jax.nn.log_softmax(logits)
    action = jnp.argmax(log_policy + (0.0 if self.greedy else action_noise), axis=-1)
    baseline_head = nn.Dense(1, name="baseline")  # one head, read before (b_{t-1}) and after (b_t) the glimpse
    baseline = baseline_head(h if self.baseline_trains_core else jax.lax.stop_gradient(h))[:, 0]  # [b]
    baseline_before = baseline_head(jax.lax.stop_gradient(h_prev))[:, 0]  # [b]; only used as l_t's baseline
    entropy = -jnp.sum(jnp.exp(log_policy) * log_policy, axis=-1)  # [b], of the action policy
    game, _, reward, done = jax.vmap(catch.step)(game, action)
    action_log_prob = jnp.take_along_axis(log_policy, action[:, None], axis=1)[:, 0]  # [b]
    out = {"location": loc, "action": action, "log_prob": location_log_prob + action_log_prob,
           "location_log_prob": location_log_prob, "action_log_prob": action_log_prob, "baseline": baseline,
           "baseline_before": baseline_before, "reward": reward, "done": done, "frame": frames[..., 0],
           "ball": ball, "entropy": entropy}
    return (lstm_carry, game), out


class CatchAgent(nn.Module):
  """`__call__(games, noise) -> dict` of per-frame arrays [b, T, ...] for T = catch.FRAMES frames (one game).

  Attributes:
    glimpse: the retina and its network (`GlimpseSpec`; `models.registry` makes it from config.model.glimpse).
    core_size: units of the LSTM core.
    location_std: sigma of the Gaussian location policy.
    greedy: play the mean location and the most likely action (evaluation), instead of sampling.
    baseline_trains_core: the baseline's squared error also trains core and glimpse networks.
    unroll: scan unrolling (a speed knob, same function).
  """
  glimpse: GlimpseSpec = GlimpseSpec(size=6, num_scales=3)
  core_size: int = 256
  location_std: float = 0.1
  greedy: bool = False
  baseline_trains_core: bool = True
  unroll: int = 1

  @nn.compact
  def __call__(self, games: catch.CatchState, noise):
    batch = games.ball_row.shape[0]
    frames = nn.scan(CatchFrame, variable_broadcast="params", split_rngs={"params": False}, in_axes=1, out_axes=1,
                     length=catch.FRAMES, unroll=self.unroll)(
                         glimpse=self.glimpse, core_size=self.core_size, location_std=self.location_std,
                         greedy=self.greedy, baseline_trains_core=self.baseline_trains_core, name="frames")
    zeros = jnp.zeros((batch, self.core_size), jnp.float32)
    _, out = frames(((zeros, zeros), games), noise)
    return out

  @staticmethod
  def draw_noise(keys):
    """Per-game noise: keys [b] -> (location normal [b, T, 2], action Gumbel [b, T, 3])."""
    def one(key):
      k1, k2 = jax.random.split(key)
      return jax.random.normal(k1, (catch.FRAMES, 2)), jax.random.gumbel(k2, (catch.FRAMES, catch.NUM_ACTIONS))
    return jax.vmap(one)(keys)
