"""Recurrent Attention Model (Mnih, Heess, Graves & Kavukcuoglu 2014), as pure linen modules.

At each of T steps (Section 3.1, Figure 1):
  glimpse network   g_t = relu(Linear(h_g) + Linear(h_l)),  h_g = relu(Linear(rho(x, l_t))), h_l = relu(Linear(l_t))
  core network      h_t = relu(Linear(h_{t-1}) + Linear(g_t))          (or an LSTM core)
  location policy   l_{t+1} ~ N(mu_t, sigma^2 I),  mu_t = Linear(h_t) (optionally tanh; optionally a hidden ReLU
                    layer first); the sensor reads clip(l, -1, 1)
  baseline          b_t = Linear(h_t) (or one learned constant), regressed onto the reward
and after the last glimpse the action network gives class logits = Linear(h_T).

The first location l_1 is drawn from the policy at h_0 = 0. The policy and the baseline read the core state through
`stop_gradient`, and the sampled location is a constant to the rest of the model: REINFORCE trains the location
network alone, and the classification loss trains glimpse, core and action networks alone.
The Gaussian sample is the policy's action, and its score is the Gaussian's, d log N(l; mu, sigma^2) / d mu =
(l - mu) / sigma^2, which is unbiased (Eq. 2 of the paper needs E[score] = 0). Clipping to the image is part of the
environment, not of the policy: the glimpse sensor and the location network read clip(l, -1, 1) (a glimpse centred
outside the image sees the border, as at l = +-1). The score of the clipped point, which this code used until
November 2026, is biased near the border: the clipped sample has point masses at -1 and 1 that a density ignores
(with mu = 0.9 and sigma = 0.17, E[score] = -1.1 instead of 0; `tests/test_ram.py` checks both on a bandit).
The T steps are one `nn.scan`, batched; randomness comes in as pre-drawn standard normal (or uniform) noise.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from attention_jax.models import glimpse
from attention_jax.models.glimpse import GlimpseSpec


def gaussian_log_prob(x, mean, std):
  """log N(x; mean, std^2 I) summed over the last axis (the two location coordinates)."""
  return jnp.sum(-0.5 * jnp.square((x - mean) / std) - jnp.log(std) - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def sample_location(mean, std: float, noise):
  """The location policy's action l = mean + std * noise and its log-probability, for REINFORCE.

  Args:
    mean: <float32>[batch, 2] the policy's mean mu (differentiable).
    std: the policy's standard deviation sigma.
    noise: <float32>[batch, 2] standard normal noise.
  Returns:
    (location, log_prob): <float32>[batch, 2] clip(l, -1, 1), what the sensor reads (a constant to the model), and
    <float32>[batch] log N(l; mu, sigma^2 I) of the unclipped sample l, whose gradient in mu is unbiased.
  """
  sample = jax.lax.stop_gradient(mean + std * noise)
  return jnp.clip(sample, -1.0, 1.0), gaussian_log_prob(sample, mean, std)


class GlimpseNetwork(nn.Module):
  """g = relu(Linear(h_g) + Linear(h_l)) with h_g = relu(Linear(rho(x, l))), h_l = relu(Linear(l)).

  Attributes:
    spec: the glimpse and the sizes of the network that reads it.
    pixel_scale: pixels are divided by this (uint8 digits: 255; Catch's 0/1 screens: 1).
  """
  spec: GlimpseSpec
  pixel_scale: float = 255.0

  @nn.compact
  def __call__(self, tables, locs, image_hw):
    """tables: `glimpse.glimpse_tables` of b images; locs <float32>[b * n, 2], n glimpse paths per image (each
    image's adjacent) -> g <float32>[b * n, output]."""
    s = self.spec
    rho = glimpse.batched_glimpse_sensor(tables, locs, image_hw, s.size, s.pooling)  # [b * n, k, g, g, c]
    rho = rho.reshape(rho.shape[0], -1) / self.pixel_scale  # pixels in [0, 1]
    h_g = nn.relu(nn.Dense(s.what_hidden, name="what")(rho))
    h_l = nn.relu(nn.Dense(s.where_hidden, name="where")(locs))
    # Linear(h_g) + Linear(h_l) as one matmul of the concatenation (same function, one larger product).
    return nn.relu(nn.Dense(s.output, name="what_where")(jnp.concatenate([h_g, h_l], -1)))


class RecurrentCore(nn.Module):
  """h_t = relu(Linear(h_{t-1}) + Linear(g_t)); the carry is (h,) so it matches the LSTM's (c, h) interface."""
  features: int = 256

  @nn.compact
  def __call__(self, carry, inputs):
    (h,) = carry
    # Linear(h_{t-1}) + Linear(g_t) as one matmul of the concatenation.
    h = nn.relu(nn.Dense(self.features, name="recurrent_input")(jnp.concatenate([h, inputs], -1)))
    return (h,), h


class GlimpseStep(nn.Module):
  """One step: sample l_t from the policy at h_{t-1}, take the glimpse, update the core (the fields are the
  model's own, see `RecurrentAttentionModel`)."""
  glimpse: GlimpseSpec
  core: str
  core_size: int
  location_std: float
  tanh_mean: bool
  random_glimpses: bool
  location_net_hidden: int = 0
  baseline_input: str = "state"

  def setup(self):
    self.glimpse_net = GlimpseNetwork(self.glimpse)
    self.core_net = (nn.OptimizedLSTMCell(self.core_size) if self.core == "lstm"
                     else RecurrentCore(self.core_size))
    if self.location_net_hidden == 0 and self.baseline_input == "state":
      # The linear location network (2 outputs) and the baseline (1 output) read the same detached state: one Dense.
      self.location_and_baseline = nn.Dense(3)
    else:
      self.location_hidden = nn.Dense(self.location_net_hidden) if self.location_net_hidden else None
      self.location_out = nn.Dense(2)
      self.baseline_out = nn.Dense(1) if self.baseline_input == "state" else None
      if self.baseline_input == "constant":
        self.baseline_constant = self.param("baseline_constant", nn.initializers.zeros, ())

  def heads(self, h):
    """(location head <float32>[b, 2] (before any tanh), baseline b_t <float32>[b]) from the detached state h."""
    if self.location_net_hidden == 0 and self.baseline_input == "state":
      both = self.location_and_baseline(h)
      return both[:, :2], both[:, 2]
    hidden = nn.relu(self.location_hidden(h)) if self.location_hidden else h
    if self.baseline_input == "constant":  # a learned constant, the same for every image and step
      baseline = jnp.broadcast_to(self.baseline_constant, h.shape[:1])
    else:
      baseline = self.baseline_out(h)[:, 0]
    return self.location_out(hidden), baseline

  def __call__(self, carry, noise, tables, image_hw):
    h_prev = carry[-1]  # [b, core_size]; the RNN carry is (h,), the LSTM's (c, h)
    location_head, baseline = self.heads(jax.lax.stop_gradient(h_prev))  # [b, 2], [b]
    if self.random_glimpses:  # ablation: uniform locations, the location head unused
      loc = noise
      mean = jnp.zeros_like(loc)
      log_prob = jnp.zeros(loc.shape[0])
    else:
      mean = jnp.tanh(location_head) if self.tanh_mean else location_head  # [b, 2]
      loc, log_prob = sample_location(mean, self.location_std, noise)  # [b, 2], [b]
    g = self.glimpse_net(tables, loc, image_hw)
    carry, h = self.core_net(carry, g)
    return carry, {"location": loc, "mean": mean, "log_prob": log_prob, "baseline": baseline, "h": h}


class RecurrentAttentionModel(nn.Module):
  """RAM: `__call__(images [b, h, w, c], noise [b * M, T, 2]) -> dict` with logits [b * M, classes],
  location/mean [b * M, T, 2], log_prob/baseline [b * M, T]: M glimpse paths per image (each image's adjacent in
  noise and outputs), which read the image's glimpse tables, computed once per call.

  Attributes:
    num_glimpses: T, the glimpses per image.
    glimpse: the glimpse and its network (`GlimpseSpec`; `models.registry` makes it from config.model.glimpse).
    core: "rnn" (h_t = relu(Linear(h_{t-1}) + Linear(g_t))) or "lstm".
    core_size: units of the core.
    location_std: sigma of the Gaussian location policy.
    tanh_mean: squash the policy's mean into (-1, 1).
    random_glimpses: the ablation: uniformly random locations, no location network.
    num_classes: classes of the action network.
    unroll: scan unrolling (a speed knob, same function).
    location_net_hidden: 0 for the paper's linear location network mu_t = Linear(h_t); H > 0 puts a ReLU layer
      of H units before it (as in kevinzakka's PyTorch RAM after its PR #32).
    baseline_input: "state" (b_t = Linear(h_t)) or "constant" (one learned scalar, as in the Torch7 `rnn` RAM).
  """
  num_glimpses: int = 6
  glimpse: GlimpseSpec = GlimpseSpec()
  core: str = "rnn"  # "rnn" or "lstm"
  core_size: int = 256
  location_std: float = 0.17
  tanh_mean: bool = True
  random_glimpses: bool = False
  num_classes: int = 10
  unroll: int = 1
  location_net_hidden: int = 0
  baseline_input: str = "state"

  @nn.compact
  def __call__(self, images, noise):
    batch = noise.shape[0]  # b * M paths
    steps = nn.scan(GlimpseStep, variable_broadcast="params", split_rngs={"params": False},
                    in_axes=(1, nn.broadcast, nn.broadcast), out_axes=1, length=self.num_glimpses, unroll=self.unroll)(
                        glimpse=self.glimpse, core=self.core, core_size=self.core_size,
                        location_std=self.location_std, tanh_mean=self.tanh_mean,
                        random_glimpses=self.random_glimpses, location_net_hidden=self.location_net_hidden,
                        baseline_input=self.baseline_input, name="steps")
    zeros = jnp.zeros((batch, self.core_size), jnp.float32)
    carry = (zeros, zeros) if self.core == "lstm" else (zeros,)
    # Once per image, outside the loop: every glimpse of every path reads these.
    tables = glimpse.glimpse_tables(images, self.glimpse.num_scales, self.glimpse.pooling)
    _, out = steps(carry, noise, tables, images.shape[1:3])  # each [b * M, T, ...]
    out["logits"] = nn.Dense(self.num_classes, name="action")(out["h"][:, -1])
    return out

  def draw_noise(self, keys):
    """Per-example noise for the T locations: keys [b] -> [b, T, 2] (standard normal, or uniform in [-1, 1])."""
    shape = (self.num_glimpses, 2)
    if self.random_glimpses:
      return jax.vmap(lambda k: jax.random.uniform(k, shape, minval=-1.0, maxval=1.0))(keys)
    return jax.vmap(lambda k: jax.random.normal(k, shape))(keys)
