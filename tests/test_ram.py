"""RAM: glimpse sensor against NumPy, REINFORCE against the analytic gradient, gradient routing, canvases,
a short run that learns, and 1-device vs 8-device training."""

import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attention_jax import io_utils, random_streams
from attention_jax.rl import reinforce
from attention_jax.data import images
from attention_jax.errors import UserError
from attention_jax.models import glimpse
from attention_jax.models.glimpse import GlimpseSpec
from attention_jax.models.ram import RecurrentAttentionModel, gaussian_log_prob, sample_location
from attention_jax.tasks import ram as ram_task
from attention_jax.training import loop, state as state_lib
from experiments.configs import ram_mnist
from tests import glimpse_reference, helpers


def numpy_glimpse(image, loc, g, k, pooling="mean"):
  """Plain NumPy: crop each scale's square (zeros outside the image), then average- or max-pool it to g x g."""
  h, w, c = image.shape
  out = []
  for i in range(k):
    width, f = g * 2 ** i, 2 ** i
    # The definition in exact arithmetic (float64 holds these multiples of 2^-17 exactly), l read at 2^-16.
    l = np.floor(np.asarray(loc, np.float32).astype(np.float64) * 2 ** 16) / 2 ** 16
    top, left = np.floor((l + 1) / 2 * np.array([h, w]) - width / 2 + 0.5).astype(int)
    crop = np.zeros((width, width, c), np.float64)
    for r in range(width):
      for q in range(width):
        y, x = top + r, left + q
        if 0 <= y < h and 0 <= x < w:
          crop[r, q] = image[y, x]
    out.append(getattr(np, pooling)(crop.reshape(g, f, g, f, c), axis=(1, 3)))
  return np.stack(out)


LOCATIONS = [(0, 0), (-1, -1), (1, 1), (-1, 1), (1, -1), (0, -1), (1, 0), (0.37, -0.81), (-0.99, 0.5)]


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("size,g,k", [(28, 8, 1), (28, 8, 2), (60, 12, 3), (37, 5, 2), (100, 12, 4)])
def test_glimpse_sensor_equals_numpy_crop_pad_pool(size, g, k, pooling):
  image = np.random.default_rng(size).integers(0, 256, (size, size, 1)).astype(np.float32)
  for loc in LOCATIONS:
    got = glimpse.glimpse_sensor(jnp.asarray(image), jnp.asarray(loc, jnp.float32), g, k, pooling)
    np.testing.assert_allclose(got, numpy_glimpse(image, loc, g, k, pooling), rtol=1e-6, atol=1e-4,
                               err_msg=str(loc))


def test_max_pooling_keeps_a_one_pixel_ball_at_full_strength_at_every_scale():
  screen = np.zeros((24, 24, 1), np.float32)
  screen[13, 10] = 1.0  # Catch's ball
  mean = glimpse.glimpse_sensor(jnp.asarray(screen), jnp.zeros(2), 6, 3)
  high = glimpse.glimpse_sensor(jnp.asarray(screen), jnp.zeros(2), 6, 3, "max")
  # Scale i pools 2^i x 2^i pixels: the mean shrinks the ball to 1, 1/4, 1/16; the max keeps 1 in the cell holding it.
  np.testing.assert_allclose([float(mean[i].max()) for i in range(3)], [1.0, 0.25, 0.0625])
  np.testing.assert_array_equal([float(high[i].max()) for i in range(3)], [1.0, 1.0, 1.0])
  np.testing.assert_array_equal(np.argwhere(np.asarray(high[2, :, :, 0])), [[3, 2]])  # rows 12-15, columns 8-11
  np.testing.assert_array_equal(np.asarray(high) > 0, np.asarray(mean) > 0)
  with pytest.raises(ValueError, match="pooling='median'"):
    glimpse.glimpse_sensor(jnp.asarray(screen), jnp.zeros(2), 6, 3, "median")


def test_glimpse_centre_of_28x28_reads_the_middle_pixels():
  image = np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1)
  got = glimpse.glimpse_sensor(jnp.asarray(image), jnp.zeros(2), 8, 1)
  np.testing.assert_array_equal(got[0, :, :, 0], image[10:18, 10:18, 0])
  corner = glimpse.glimpse_sensor(jnp.asarray(image), -jnp.ones(2), 8, 1)[0, :, :, 0]
  assert float(jnp.abs(corner[:4]).sum() + jnp.abs(corner[:, :4]).sum()) == 0  # outside reads as zero
  np.testing.assert_array_equal(corner[4:, 4:], image[:4, :4, 0])


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("h,w,g,k", [(28, 28, 8, 1), (28, 28, 8, 2), (60, 60, 12, 3), (100, 100, 12, 4),
                                     (24, 24, 6, 3), (37, 21, 5, 3), (12, 12, 12, 2)])
def test_fast_sensor_is_bit_identical_to_cropping_the_padded_image(h, w, g, k, pooling):
  """The block tables give the same bits as the direct crop-and-pool (tests/glimpse_reference.py) for uint8 and
  0/1 pixels, at 3 x 400 random locations in [-1.6, 1.6]^2 (inside, on and past the border, where the patch is
  held at p pixels out), at the corners and edges, and with n locations per image sharing its tables."""
  rng = np.random.default_rng(h * w + k)
  imgs = rng.integers(0, 256, (6, h, w, 1)).astype(np.uint8)
  if pooling == "max":
    imgs[:3] = imgs[:3] > 250  # sparse 0/1 screens, as Catch's
  edges = np.array([(a, b) for a in (-1, 0, 1, -1.3, 1.6) for b in (-1, 0, 1, -1.6, 1.3)], np.float32)
  locs = np.concatenate([rng.uniform(-1.6, 1.6, (400 * 3 - len(edges), 2)), edges]).astype(np.float32)
  locs = jnp.asarray(locs.reshape(6, 200, 2))  # 200 locations per image
  fast = jax.jit(lambda x, l: glimpse.batched_glimpse_sensor(glimpse.glimpse_tables(x, k, pooling),
                                                             l.reshape(-1, 2), (h, w), g, pooling))
  want = jax.vmap(lambda l: glimpse_reference.batched_glimpse_sensor(jnp.asarray(imgs), l, g, k, pooling),
                  in_axes=1, out_axes=1)(locs)  # [6, 200, k, g, g, 1]
  got = fast(jnp.asarray(imgs), locs).reshape(want.shape)
  assert got.dtype == want.dtype == jnp.float32
  np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
  one = glimpse.glimpse_sensor(jnp.asarray(imgs[4]), locs[4, 7], g, k, pooling)
  np.testing.assert_array_equal(np.asarray(one), np.asarray(want[4, 7]))


def test_images_too_large_for_integer_patch_starts_are_refused():
  glimpse.check_spec(GlimpseSpec(), glimpse.MAX_IMAGE_SIZE)
  with pytest.raises(UserError, match="the images are 4097x4097; the glimpse sensor takes at most 4096x4096"):
    glimpse.check_spec(GlimpseSpec(), 4097)
  # the largest size: starts stay exact at the far border (l = 3 is 2 image widths past the centre)
  assert glimpse.patch_starts(jnp.array([3.0, -3.0]), (4096, 4096), 96).tolist() == [8144, -4144]


def test_the_tables_are_built_once_per_image_whatever_the_paths():
  """M sampled paths read the tables of their image: locations [b * M, 2] against tables of b images, and a
  count that is not a multiple is refused."""
  imgs = np.random.default_rng(1).integers(0, 256, (2, 60, 60, 1)).astype(np.uint8)
  tables = glimpse.glimpse_tables(jnp.asarray(imgs), 3)
  assert [t.shape for t in tables] == [(2, 66, 66, 1), (2, 65, 65, 1), (2, 63, 63, 1)]
  locs = jnp.array([[0.1, 0.2], [-1.0, 1.0], [0.9, -0.3], [0.0, 0.0]])
  paths = glimpse.batched_glimpse_sensor(tables, locs, (60, 60), 12)  # image 0: locs 0, 1; image 1: locs 2, 3
  for i, image in enumerate((0, 0, 1, 1)):
    np.testing.assert_array_equal(paths[i], glimpse.glimpse_sensor(jnp.asarray(imgs[image]), locs[i], 12, 3))
  with pytest.raises(ValueError, match="3 locations for 2 images"):
    glimpse.batched_glimpse_sensor(tables, locs[:3], (60, 60), 12)


def test_training_with_the_fast_sensor_equals_training_with_the_direct_crop(monkeypatch):
  """3 steps of cluttered 60x60 RAM (3 scales, M = 2 paths per image) give the same parameters and optimizer state
  bit for bit when the model's sensor is swapped for the reference, which crops every path's padded copy of its
  image."""
  config = tiny_ram_config(num_devices=1, batch_size=16)
  config.data.update(canvas=60, clutter=4, clutter_size=8)
  config.model.glimpse.update(size=12, num_scales=3)
  config.reinforce.num_samples = 2
  fast = helpers.train_steps(config, 3)

  def direct_crop(tables, locs, image_hw, glimpse_size, pooling="mean"):
    del image_hw
    images = tables[0]  # the raw images: see the swapped glimpse_tables below
    paths = jnp.repeat(images, locs.shape[0] // images.shape[0], axis=0)
    return glimpse_reference.batched_glimpse_sensor(paths, locs, glimpse_size, 3, pooling)

  monkeypatch.setattr(glimpse, "glimpse_tables", lambda images, num_scales, pooling="mean": (images,))
  monkeypatch.setattr(glimpse, "batched_glimpse_sensor", direct_crop)
  helpers.assert_bit_identical(fast, helpers.train_steps(config, 3))


def test_reinforce_on_a_gaussian_bandit_matches_the_analytic_gradient_and_the_baseline_cuts_variance():
  """One step, l ~ N(mu, s^2), reward r(l) = c - (l - a)^2: E[r] = c - (mu - a)^2 - s^2, dE[r]/dmu = -2 (mu - a).

  The offset c changes nothing in expectation but inflates the variance of the plain estimator; a baseline
  learned towards E[r] removes it.
  """
  mu, s, a, c, n = 0.3, 0.5, -0.4, 3.0, 200_000
  samples = mu + s * jax.random.normal(jax.random.PRNGKey(0), (n, 1, 1))  # [n, T=1, 1 coordinate]
  rewards = c - jnp.square(samples[..., 0] - a)  # [n, 1]

  def per_sample_grads(baseline):
    def surrogate(m, x, r):
      return reinforce.reinforce_loss(gaussian_log_prob(x, m, s), r, baseline)  # x: [T=1, 1]
    return -jax.vmap(jax.grad(surrogate), in_axes=(None, 0, 0))(jnp.array([mu]), samples, rewards)[:, 0]

  analytic = -2 * (mu - a)
  plain = per_sample_grads(jnp.zeros((1,)))
  assert abs(float(plain.mean()) - analytic) < 4 * float(plain.std()) / np.sqrt(n)
  # Learn the baseline by gradient descent on baseline_loss, then compare the estimator's variance.
  b = jnp.zeros((1,))
  for _ in range(200):
    b = b - 0.05 * jax.grad(lambda b: jnp.mean(reinforce.baseline_loss(rewards[:4096], jnp.broadcast_to(b, (4096, 1)))))(b)
  np.testing.assert_allclose(float(b[0]), c - (mu - a) ** 2 - s ** 2, atol=0.03)
  with_baseline = per_sample_grads(b)
  assert abs(float(with_baseline.mean()) - analytic) < 4 * float(with_baseline.std()) / np.sqrt(n)
  assert float(with_baseline.var()) < 0.5 * float(plain.var())


def test_location_score_is_unbiased_at_the_border():
  """A one-step bandit whose best location is the border: reward r = clip(l, -1, 1) (first coordinate), policy
  mean 0.9, std 0.17. E[r] grows with mu at rate P(l < 1) = Phi((1 - mu) / sigma) = 0.7218, and the score has mean
  0. The density of the clipped point (the form used before) gives E[score] = -1.01 and a gradient of 0.74 too
  little (-0.02 in expectation); the model's `sample_location` must match the analytic values."""
  mu, s, n = 0.9, 0.17, 400_000
  noise = jax.random.normal(jax.random.PRNGKey(0), (n, 2))
  means = jnp.full((n, 2), mu)
  phi = 0.5 * (1 + jax.scipy.special.erf((1 - mu) / s / np.sqrt(2)))

  def per_sample(policy):
    """Per-sample REINFORCE estimate r * d log p / d mu and score d log p / d mu (first coordinate)."""
    def reward_times_log_prob(m, eps):
      loc, log_prob = policy(m[None], eps[None])
      return loc[0, 0] * log_prob[0]  # loc is a constant (stop_gradient)
    grads = jax.vmap(jax.grad(reward_times_log_prob))(means, noise)[:, 0]
    scores = jax.vmap(jax.grad(lambda m, eps: policy(m[None], eps[None])[1][0]))(means, noise)[:, 0]
    return grads, scores

  def clipped_density(m, eps):  # the biased form: the Gaussian density at the clipped point
    loc = jax.lax.stop_gradient(jnp.clip(m + s * eps, -1, 1))
    return loc, gaussian_log_prob(loc, m, s)

  grads, scores = per_sample(lambda m, eps: sample_location(m, s, eps))
  tol = lambda x: 4 * float(x.std()) / np.sqrt(n)
  assert abs(float(scores.mean())) < tol(scores)
  assert abs(float(grads.mean()) - float(phi)) < tol(grads)
  biased_grads, biased_scores = per_sample(clipped_density)
  assert float(biased_scores.mean()) < -0.9 and abs(float(biased_grads.mean()) - float(phi)) > 0.5
  loc, _ = sample_location(means, s, noise)
  assert float(loc.max()) == 1.0 and float(loc.min()) > -1.0  # the sensor still reads a clipped location


def test_final_reward_returns_discount_backwards():
  np.testing.assert_allclose(reinforce.final_reward_returns(jnp.array([1.0, 0.0]), 3, 0.5),
                             [[0.25, 0.5, 1.0], [0, 0, 0]])


def _small_model(**kw):
  return RecurrentAttentionModel(num_glimpses=3, glimpse=GlimpseSpec(size=8, num_scales=2, what_hidden=16,
                                                                     where_hidden=16, output=32), core_size=32, **kw)


@pytest.mark.parametrize("core", ["rnn", "lstm"])
def test_classification_loss_sends_no_gradient_to_the_location_network_and_reinforce_none_elsewhere(core):
  model = _small_model(core=core)
  imgs = jnp.asarray(np.random.default_rng(0).integers(0, 256, (6, 28, 28, 1)).astype(np.uint8))
  labels = jnp.arange(6) % 10
  noise = model.draw_noise(jax.random.split(jax.random.PRNGKey(0), 6))
  params = model.init(jax.random.PRNGKey(1), imgs, noise)["params"]

  def term(name):
    return jax.grad(lambda p: jnp.sum(ram_task.hybrid_loss_terms(
        model.apply({"params": p}, imgs, noise), labels, 1.0)[name]))(params)

  ce, rl, bl = term("cross_entropy"), term("reinforce"), term("baseline_mse")
  heads = lambda g: g["steps"]["location_and_baseline"]
  flat = lambda g: {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(g)}
  assert all(float(jnp.abs(v).max()) == 0 for v in jax.tree.leaves(heads(ce)))
  assert float(jnp.abs(heads(rl)["kernel"][:, :2]).max()) > 0  # REINFORCE reaches the location network ...
  assert float(jnp.abs(heads(rl)["kernel"][:, 2]).max()) == 0  # ... but not the baseline
  for path, v in flat(rl).items():
    if "location_and_baseline" not in path:
      assert float(jnp.abs(v).max()) == 0, path  # nor the glimpse, core or action networks
  assert float(jnp.abs(heads(bl)["kernel"][:, 2]).max()) > 0
  assert float(jnp.abs(heads(bl)["kernel"][:, :2]).max()) == 0
  assert float(jnp.abs(ce["action"]["kernel"]).max()) > 0


def test_locations_are_clipped_samples_around_the_mean_and_random_glimpses_are_uniform():
  model = _small_model()
  imgs = jnp.zeros((512, 28, 28, 1), jnp.uint8)
  noise = model.draw_noise(jax.random.split(jax.random.PRNGKey(0), 512))
  params = model.init(jax.random.PRNGKey(1), imgs, noise)["params"]
  out = model.apply({"params": params}, imgs, noise)
  sample = np.asarray(out["mean"]) + model.location_std * np.asarray(noise)
  np.testing.assert_allclose(out["location"], np.clip(sample, -1, 1), atol=1e-6)
  expected_log_prob = np.sum(-0.5 * np.square(noise) - np.log(model.location_std) - 0.5 * np.log(2 * np.pi), -1)
  np.testing.assert_allclose(out["log_prob"], expected_log_prob, rtol=1e-4, atol=1e-4)  # of the unclipped sample
  assert out["logits"].shape == (512, 10) and out["log_prob"].shape == (512, 3)
  rand = _small_model(random_glimpses=True)
  noise = rand.draw_noise(jax.random.split(jax.random.PRNGKey(2), 512))
  out = rand.apply({"params": params}, imgs, noise)
  assert float(jnp.abs(out["log_prob"]).max()) == 0
  locs = np.asarray(out["location"]).reshape(-1)
  assert locs.min() >= -1 and locs.max() <= 1 and abs(locs.mean()) < 0.05 and abs(locs.std() - 1 / np.sqrt(3)) < 0.02


def numpy_canvases(digits, pieces, rng, size):
  """The host reference (the NumPy generator this suite used before canvases moved onto the device): each digit
  at a uniform spot of a size x size canvas over its pieces [b, k, s, s, 1], each at a uniform spot, overlaps
  maxed."""
  b, h, w, c = digits.shape
  s = pieces.shape[2]
  out = np.zeros((b, size, size, c), digits.dtype)
  for i in range(b):
    for piece in pieces[i]:
      r, q = rng.integers(0, size - s + 1, size=2)
      out[i, r:r + s, q:q + s] = np.maximum(out[i, r:r + s, q:q + s], piece)
    r, q = rng.integers(0, size - h + 1, size=2)
    out[i, r:r + h, q:q + w] = np.maximum(out[i, r:r + h, q:q + w], digits[i])
  return out


def _render(canvas, digits, pieces, seed=0):
  keys = jax.random.split(jax.random.PRNGKey(seed), len(digits))
  if pieces is None:
    pieces = np.zeros((len(digits), 0, 1, 1, 1), np.uint8)
  return np.asarray(jax.jit(lambda d, p, k: images.draw_canvases(canvas, d, p, k))(digits, pieces, keys))


def test_translated_and_cluttered_canvases_on_the_device():
  digits = np.zeros((64, 28, 28, 1), np.uint8)
  digits[:, 10:18, 12:16] = 200  # a bar in the middle of each "digit"
  plain = _render(images.Canvas(60), digits, None)
  assert plain.shape == (64, 60, 60, 1) and plain.dtype == np.uint8
  assert (plain.reshape(64, -1).sum(1) == digits.reshape(64, -1).sum(1)).all()  # the digit, whole, once
  rows = [np.flatnonzero(p[..., 0].any(1))[0] for p in plain]
  assert len(set(rows)) > 10  # positions vary
  np.testing.assert_array_equal(plain, _render(images.Canvas(60), digits, None))  # fixed by the keys
  pieces = np.full((64, 8, 8, 8, 1), 90, np.uint8)
  cluttered = _render(images.Canvas(100, 8, 8), digits, pieces)
  assert cluttered.shape == (64, 100, 100, 1)
  assert set(np.unique(cluttered)) <= {0, 90, 200}
  assert ((cluttered == 200).reshape(64, -1).sum(1) == 32).all()  # the digit's strokes lie over the pieces
  assert ((cluttered == 90).reshape(64, -1).sum(1) > 64).all()  # at least one 8x8 piece beside the digit


def test_canvases_are_every_piece_and_the_digit_on_its_own_zero_canvas_maxed():
  """Pasting each piece into the one canvas with a max over its region is the definition: every piece and the
  digit on a zero canvas of their own at their drawn spots, all maxed (bit for bit, uint8)."""
  rng = np.random.default_rng(5)
  digits = rng.integers(0, 256, (16, 28, 28, 1)).astype(np.uint8)
  pieces = rng.integers(0, 256, (16, 8, 8, 8, 1)).astype(np.uint8)
  keys = jax.random.split(jax.random.PRNGKey(3), 16)
  got = _render(images.Canvas(100, 8, 8), digits, pieces, seed=3)
  for i in range(16):
    pieces_key, digit_key = jax.random.split(random_streams.sub_key(keys[i], "canvas"))
    spots = np.asarray(jax.random.randint(pieces_key, (8, 2), 0, 100 - 8 + 1))
    row, col = np.asarray(jax.random.randint(digit_key, (2,), 0, 100 - np.array([28, 28]) + 1))
    layers = np.zeros((9, 100, 100, 1), np.uint8)
    for k, (r, q) in enumerate(spots):
      layers[k, r:r + 8, q:q + 8] = pieces[i, k]
    layers[8, row:row + 28, col:col + 28] = digits[i]
    np.testing.assert_array_equal(got[i], layers.max(0))


def test_device_canvases_match_the_host_generators_statistics():
  """Same distribution as the NumPy reference: where the digit lands, how much clutter, pixel by pixel."""
  rng = np.random.default_rng(0)
  n, size = 2000, 60
  digits = np.zeros((n, 28, 28, 1), np.uint8)
  digits[:, 4:24, 12:16] = 255  # a stroke, so its position is readable
  pieces = rng.integers(0, 2, (n, 4, 8, 8, 1)).astype(np.uint8) * 100  # noise: every piece has ink
  device = _render(images.Canvas(size, 4, 8), digits, pieces)
  host = numpy_canvases(digits, pieces, rng, size)
  for canvases in (device, host):  # the digit lies whole inside the canvas
    assert ((canvases == 255).reshape(n, -1).sum(1) == 80).all()
  stroke_rows = lambda x: np.argmax((x[..., 0] == 255).any(2), axis=1) - 4  # the digit's top row, 0..32
  for name, stat in (("digit top row", stroke_rows), ("clutter pixels", lambda x: (x == 100).reshape(n, -1).sum(1)),
                     ("rows with clutter", lambda x: (x == 100).any((2, 3)).sum(1))):
    d, h = stat(device).astype(float), stat(host).astype(float)
    se = np.sqrt((d.var() + h.var()) / n)
    assert abs(d.mean() - h.mean()) < 4 * se, (name, d.mean(), h.mean())
    assert abs(d.std() - h.std()) < 0.1 * h.std(), (name, d.std(), h.std())
  assert stroke_rows(device).min() == 0 and stroke_rows(device).max() == size - 28  # every spot reachable
  profile = lambda x: (x > 0).mean((0, 2, 3))  # share of inked pixels by canvas row
  np.testing.assert_allclose(profile(device), profile(host), atol=0.02)


def tiny_ram_config(**overrides):
  c = helpers.tiny_classifier_config(**overrides)
  c.task = "ram"
  c.model = ram_mnist.ram_model(num_glimpses=3)
  c.model.update(dict(core_size=64, unroll=1))
  c.model.glimpse.update(what_hidden=32, where_hidden=32, output=64)
  c.reinforce = dict(num_samples=1, eval_samples=1, weight=1.0)
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 3e-3
  return c


def test_ram_eight_devices_equal_one_device_with_per_example_randomness(tmp_path):
  params = {}
  for name, parallel, n in (("one", "sharding", 1), ("pmap", "pmap", 8), ("sharding", "sharding", 8)):
    config = tiny_ram_config(parallel=parallel, num_devices=n, num_train_steps=4, checkpoint_every_steps=4)
    # SGD with momentum: a gradient summed over 8 devices in another order differs by rounding, and SGD moves the
    # parameters by the learning rate times that (Adam divides by the gradient's root mean square, which turns the
    # rounding of a near-zero entry into a step of up to the learning rate). A per-example key drawn differently
    # changes the gradient itself, not its rounding. (Seen here: 1.5e-7 after 4 steps.)
    config.optimizer.update(name="sgd", learning_rate=0.05, momentum=0.9)
    params[name] = loop.train_and_evaluate(config, str(tmp_path / name)).params
  assert helpers.max_abs_diff(params["one"], params["pmap"]) < 1e-6
  assert helpers.max_abs_diff(params["one"], params["sharding"]) < 1e-6


def test_a_short_ram_run_raises_reward(tmp_path):
  config = tiny_ram_config(num_devices=1, num_train_steps=300, log_every_steps=50, eval_every_steps=300,
                           checkpoint_every_steps=300, batch_size=64)
  loop.train_and_evaluate(config, str(tmp_path / "ram"))
  rows = [r for r in io_utils.read_json_lines(str(tmp_path / "ram" / "metrics.jsonl")) if r["split"] == "train"]
  assert rows[0]["reward"] < 0.4 and rows[-1]["reward"] > rows[0]["reward"] + 0.2
  assert rows[-1]["baseline"] > rows[0]["baseline"]  # the baseline follows the reward up


@pytest.mark.parametrize("field,value,message", [
    ("model.glimpse.size", 40, "model.glimpse.size=40 is larger than the image"),
    ("model.glimpse.what_hidden", 0, "model.glimpse.what_hidden=0 must be an integer >= 1"),
    ("reinforce.num_samples", 0, "reinforce.num_samples=0 must be an integer >= 1"),
    ("model.num_glimpses", 0, "model.num_glimpses=0 must be an integer >= 1"),
    ("model.core", "gru", "model.core='gru' is not known"),
    ("data.clutter", 4, "data.clutter=4 needs a canvas"),
    ("data.canvas", 20, "data.canvas=20 must be 0"),
])
def test_bad_ram_fields(tmp_path, field, value, message):
  config = tiny_ram_config()
  if field.startswith("data.") and "data.canvas" not in config.data:
    config.data.canvas, config.data.clutter, config.data.clutter_size = 0, 0, 8
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(helpers.with_overrides(config, {field: value}), str(tmp_path / "w"))


def test_evaluate_writes_glimpse_strips_and_reward_curves(tmp_path):
  config = tiny_ram_config(num_devices=1, num_train_steps=4, checkpoint_every_steps=4)
  loop.train_and_evaluate(config, str(tmp_path / "w"))
  result = loop.evaluate_checkpoint(str(tmp_path / "w"))
  assert result["step"] == 4 and result["num_examples"] == 1000
  # path_rules' 16 draws per image give the one-path error; `error_1_path` is in eval.json beside the batch's `error`
  assert {"error_1_path", "error_16_paths", "error_mean_path"} <= set(result)
  assert 0 <= result["error_mean_path"] <= 1 and 0 <= result["error_16_paths"] <= 1
  for name in ("glimpse_strips.png", "reward_accuracy_baseline.png", "training_curves.png"):
    assert (tmp_path / "w" / "plots" / name).stat().st_size > 5000, name
  # config.evals picks evaluators (it may change between training and evaluation: a resumable field)
  shutil.rmtree(tmp_path / "w" / "plots")
  saved = json.loads((tmp_path / "w" / "config.json").read_text())
  (tmp_path / "w" / "config.json").write_text(json.dumps(saved | {"evals": ["glimpse_strips"]}))
  assert loop.evaluate_checkpoint(str(tmp_path / "w"))["error"] == result["error"]
  assert [p.name for p in (tmp_path / "w" / "plots").iterdir()] == ["glimpse_strips.png"]
  with pytest.raises(UserError, match="evals names 'bleu', which the ram task does not offer"):
    loop.train_and_evaluate(helpers.with_overrides(config, {"evals": ("bleu",)}), str(tmp_path / "w2"))


@pytest.mark.parametrize("random_glimpses", [False, True])
def test_path_rules_agree_with_the_batch_error_when_the_paths_cannot_differ(random_glimpses):
  """With location_std 1e-9 (0 is refused: REINFORCE's score would be infinite) every sampled path reads the mean
  path's patches (locations are read at 2^-16), so all rules give the batch metrics' error; random
  glimpses have no mean path (its mean is the centre), and their N-path rules average N uniform paths."""
  config = tiny_ram_config(num_devices=1)
  config.model.update(location_std=1e-9 if not random_glimpses else 0.17, random_glimpses=random_glimpses)
  config.reinforce.eval_samples = 16
  trainer = loop.build_trainer(config)
  params = trainer.task.init(jax.random.key(0))
  batch_error = trainer.evaluate(trainer.par.put_replicated(params), "test")["error"]
  rules = trainer.task.evaluators["path_rules"](params, "test", "unused")
  if random_glimpses:
    assert sorted(rules) == ["error_16_paths", "error_1_path"]
    assert rules["error_1_path"] == batch_error  # `error` is the one-path rule
  else:
    assert rules == {"error_mean_path": batch_error, "error_1_path": batch_error, "error_16_paths": batch_error}
  assert 0.5 < batch_error < 1  # untrained


def _cluttered_config(**overrides):
  config = tiny_ram_config(**overrides)
  config.data.update(canvas=60, clutter=4, clutter_size=8)
  return config


def _test_canvases(config):
  """Every test canvas of the split as the evaluation step draws it, on `config.num_devices` devices."""
  trainer = loop.build_trainer(config)
  canvas = images.Canvas.from_config(config.data)
  par = trainer.par
  draw = par.compile_step(lambda params, batch, resident: images.render(
      canvas, batch | resident, state_lib.eval_example_keys(config.seed, batch["index"])), donate_state=False)
  out = []
  for batch in trainer.task.eval_batches("test"):
    drawn = np.asarray(draw(None, par.put_batch(batch), trainer.resident("test")))
    out.append(drawn.reshape(-1, *drawn.shape[-3:])[batch["mask"] > 0])
  return np.concatenate(out)


def test_test_canvases_do_not_depend_on_batch_size_or_devices():
  one = _test_canvases(_cluttered_config(eval_batch_size=100, num_devices=1))
  assert one.shape == (1000, 60, 60, 1)
  np.testing.assert_array_equal(one, _test_canvases(_cluttered_config(eval_batch_size=500, num_devices=1)))
  np.testing.assert_array_equal(one, _test_canvases(_cluttered_config(eval_batch_size=200, num_devices=8,
                                                                      parallel="pmap")))
  np.testing.assert_array_equal(one, _test_canvases(_cluttered_config(eval_batch_size=200, num_devices=8)))


def test_clutter_comes_from_other_digits_of_the_whole_split():
  """On a split sorted by class (as the offline test split is), about 1 piece in 10 is of the target's class, no
  piece is ever cut from the example's own digit, and the cuts cover every spot of the digit."""
  config = _cluttered_config(eval_batch_size=500)
  test = images.load(config.data, "test")
  assert (np.diff(test["label"]) >= 0).all()  # sorted by class
  n = len(test["label"])
  index = {"index": np.arange(n, dtype=np.int32)}
  cuts = images._test_clutter(n, 28, images.Canvas(60, 4, 8), config.seed)(index, None)["clutter"]  # [n, 4, 3]
  sources = cuts[..., 0]
  assert cuts.dtype == np.int32 and not (sources == np.arange(n)[:, None]).any()
  same_class = np.mean(test["label"][sources] == test["label"][:, None])
  assert 0.07 < same_class < 0.13
  data = images.task_data(config)
  for batch in data.eval_batches("test"):  # the task's batches carry indices and cuts, never pixels
    assert set(batch) == {"index", "label", "clutter", "mask"} and batch["clutter"].shape == (500, 4, 3)
  assert data.resident("test")["digits"].shape == (n, 28, 28, 1)
  assert cuts[..., 1].min() == 0 and cuts[..., 1].max() == 20  # cuts reach both edges of the digit
  assert cuts[..., 2].min() == 0 and cuts[..., 2].max() == 20
  rng = np.random.default_rng(0)
  train_cuts = images._train_clutter(n, 28, images.Canvas(60, 4, 8))(index, rng)["clutter"]
  assert not (train_cuts[..., 0] == np.arange(n)[:, None]).any()
  train_batch = next(iter(data.train))
  assert set(train_batch) == {"index", "label", "clutter"} and train_batch["clutter"].shape == (32, 4, 3)


def test_cut_pieces_equals_slicing_each_digit():
  rng = np.random.default_rng(0)
  digits = rng.integers(0, 255, (50, 28, 28, 1), dtype=np.uint8)
  cuts = np.stack([rng.integers(0, 50, (16, 4)), rng.integers(0, 21, (16, 4)), rng.integers(0, 21, (16, 4))], -1)
  expected = np.stack([[digits[s, t:t + 8, l:l + 8] for s, t, l in cuts[i]] for i in range(16)])
  np.testing.assert_array_equal(np.asarray(jax.jit(images.cut_pieces, static_argnums=2)(digits, cuts, 8)),
                                expected)
