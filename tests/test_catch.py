"""Catch: game dynamics, determinism, vmap, the random policy's exact catch rate, and the RAM agent's task."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from attention_jax import io_utils
from attention_jax.rl import catch
from attention_jax.errors import UserError
from attention_jax.models import glimpse
from attention_jax.models.glimpse import GlimpseSpec
from attention_jax.models.ram_catch import CatchAgent
from attention_jax.tasks import catch as catch_task
from attention_jax.training import loop
from experiments.configs import ram_catch
from tests import helpers

SMALL_RETINA = GlimpseSpec(size=6, num_scales=3, what_hidden=16, where_hidden=16, output=32)


def state(row, col, dx, paddle):
  return catch.CatchState(jnp.int32(row), jnp.int32(col), jnp.int32(dx), jnp.int32(paddle), jax.random.PRNGKey(0))


def test_ball_falls_one_row_and_moves_sideways_each_frame():
  s, obs, reward, done = catch.step(state(3, 10, 1, 5), 1)
  assert (int(s.ball_row), int(s.ball_col), int(s.ball_dx), int(s.paddle)) == (4, 11, 1, 5)
  assert float(reward) == 0.0 and not bool(done)
  expected = np.zeros((24, 24))
  expected[4, 11] = 1
  expected[23, 5:7] = 1
  np.testing.assert_array_equal(obs[..., 0], expected)


@pytest.mark.parametrize("col,dx,new_col,new_dx", [(0, -1, 1, 1), (23, 1, 22, -1), (1, -1, 0, -1),
                                                   (22, 1, 23, 1)])
def test_ball_bounces_off_both_walls(col, dx, new_col, new_dx):
  s = catch.move(state(5, col, dx, 0), jnp.int32(1))
  assert (int(s.ball_col), int(s.ball_dx)) == (new_col, new_dx)


@pytest.mark.parametrize("paddle,action,new", [(0, 0, 0), (0, 2, 1), (22, 2, 22), (22, 0, 21), (7, 1, 7)])
def test_paddle_moves_and_is_clamped_at_both_edges(paddle, action, new):
  assert int(catch.move(state(0, 5, 1, paddle), jnp.int32(action)).paddle) == new


@pytest.mark.parametrize("ball_col", [0, 1, 12, 22, 23])
def test_reward_exactly_when_the_paddle_overlaps_the_ball(ball_col):
  for paddle in range(23):
    # One frame before the bottom: the ball at row 22 moving straight down is not possible (dx is +-1), so start
    # it one column off and let the step move it onto ball_col.
    start_col, dx = (ball_col - 1, 1) if ball_col > 0 else (1, -1)
    s, _, reward, done = catch.step(state(22, start_col, dx, paddle), 1)
    assert bool(done)
    assert float(reward) == float(paddle <= ball_col <= paddle + 1), (ball_col, paddle)
    assert int(s.ball_row) == 0  # the game restarted


def test_games_last_23_frames_and_restart_deterministically_from_the_key():
  key = jax.random.PRNGKey(3)
  s = catch.reset(key)
  assert int(s.ball_row) == 0 and int(s.paddle) == 11
  again = catch.reset(key)
  assert jax.tree.map(lambda a, b: bool(jnp.all(a == b)), s, again) == jax.tree.map(lambda a: True, s)
  dones = []
  for _ in range(2 * catch.FRAMES):
    s, _, _, done = catch.step(s, 2)
    dones.append(bool(done))
  assert [i for i, d in enumerate(dones) if d] == [catch.FRAMES - 1, 2 * catch.FRAMES - 1]
  starts = {(int(catch.reset(jax.random.PRNGKey(i)).ball_col), int(catch.reset(jax.random.PRNGKey(i)).ball_dx))
            for i in range(200)}
  assert len({c for c, _ in starts}) > 15 and {d for _, d in starts} == {-1, 1}


def play_random(key):
  k1, k2 = jax.random.split(key)
  actions = jax.random.randint(k2, (catch.FRAMES,), 0, 3)

  def body(s, a):
    s, _, reward, _ = catch.step(s, a)
    return s, reward

  _, rewards = jax.lax.scan(body, catch.reset(k1), actions)
  return rewards.sum()


def test_vmap_over_games_equals_a_python_loop_over_games():
  keys = jax.random.split(jax.random.PRNGKey(1), 6)
  batched = jax.jit(jax.vmap(play_random))(keys)
  one = jax.jit(play_random)
  np.testing.assert_array_equal(batched, [one(k) for k in keys])


def test_random_policy_catch_rate_matches_its_exact_value():
  exact = catch.random_policy_catch_rate()
  assert exact == pytest.approx(1 / 12)  # the ball ends uniformly over the 24 columns; a paddle covers 2
  n = 100_000
  rate = float(jax.jit(jax.vmap(play_random))(jax.random.split(jax.random.PRNGKey(0), n)).mean())
  assert abs(rate - exact) < 4 * np.sqrt(exact * (1 - exact) / n)


def test_agent_plays_whole_games_and_every_part_gets_reward_gradient():
  agent = CatchAgent(core_size=32, glimpse=SMALL_RETINA)
  keys = jax.random.split(jax.random.PRNGKey(0), 5)
  games = jax.vmap(catch.reset)(keys)
  noise = agent.draw_noise(keys)
  params = jax.jit(agent.init)(jax.random.PRNGKey(1), games, noise)["params"]
  out = jax.jit(agent.apply)({"params": params}, games, noise)
  assert out["log_prob"].shape == (5, catch.FRAMES) and out["frame"].shape == (5, catch.FRAMES, 24, 24)
  assert bool(out["done"][:, -1].all()) and not bool(out["done"][:, :-1].any())
  assert float(jnp.abs(out["location"]).max()) <= 1.0
  # The REINFORCE surrogate with a fixed advantage reaches every network; the baseline head only through its loss.
  grads = jax.jit(jax.grad(lambda p: -jnp.sum(agent.apply({"params": p}, games, noise)["log_prob"])))(params)
  frames = grads["frames"]
  for name in ("location", "action", "core", "glimpse"):
    assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(frames[name])) > 0, name
  assert max(float(jnp.abs(g).max()) for g in jax.tree.leaves(frames["baseline"])) == 0
  # The baseline's squared error trains its head and, with baseline_trains_core (the default), core and glimpse
  # networks too; never the two policies.
  for trains_core in (True, False):
    critic = agent.clone(baseline_trains_core=trains_core)
    grads = jax.jit(jax.grad(lambda p, c=critic: jnp.sum(jnp.square(
        1.0 - c.apply({"params": p}, games, noise)["baseline"]))))(params)["frames"]
    largest = {name: max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads[name])) for name in grads}
    assert largest["baseline"] > 0 and largest["location"] == 0 and largest["action"] == 0
    assert (largest["core"] > 0) == trains_core and (largest["glimpse"] > 0) == trains_core
  greedy = CatchAgent(core_size=32, glimpse=SMALL_RETINA, greedy=True)
  play = jax.jit(greedy.apply)
  a = play({"params": params}, games, noise)
  b = play({"params": params}, games, jax.tree.map(lambda x: x + 1.0, noise))
  np.testing.assert_array_equal(a["action"], b["action"])  # greedy play ignores the noise


def test_each_policy_term_uses_a_baseline_fixed_before_its_choice():
  agent = CatchAgent(core_size=32, glimpse=SMALL_RETINA)
  keys = jax.random.split(jax.random.PRNGKey(3), 6)
  games = jax.vmap(catch.reset)(keys)
  location_noise, action_noise = agent.draw_noise(keys)
  params = jax.jit(agent.init)(jax.random.PRNGKey(4), games, (location_noise, action_noise))["params"]
  play = jax.jit(lambda n: agent.apply({"params": params}, games, (n, action_noise)))
  out = play(location_noise)
  # l_t is drawn from h_{t-1}: its baseline is the same head read there, b_{t-1} (the head's bias at t = 0).
  np.testing.assert_allclose(out["baseline_before"][:, 1:], out["baseline"][:, :-1], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(out["baseline_before"][:, 0], np.full(6, params["frames"]["baseline"]["bias"][0]))
  # Moving frame t's glimpse changes b_t, which has seen it, and never the baseline that l_t is judged against.
  t = 5
  moved = play(location_noise.at[:, t].add(5.0))
  np.testing.assert_array_equal(moved["baseline_before"][:, :t + 1], out["baseline_before"][:, :t + 1])
  assert float(jnp.abs(moved["baseline"][:, t] - out["baseline"][:, t]).max()) > 1e-4
  # The task's surrogate pairs log pi(l_t) with b_{t-1} and log pi(a_t) with b_t.
  config = tiny_catch_config()
  task = catch_task.build(config)
  task_params = jax.jit(task.init)(jax.random.PRNGKey(5))
  _, sums = jax.jit(task.loss)(task_params, None, keys)
  played = jax.jit(lambda p: catch_task.play(catch_task.build_agent(config.model), p, keys))(task_params)
  advantage = played["reward"][:, -1:] - played["baseline_before"]
  expected = -np.sum(played["location_log_prob"] * advantage
                     + played["action_log_prob"] * (played["reward"][:, -1:] - played["baseline"]))
  np.testing.assert_allclose(float(sums["reinforce"]), expected, rtol=1e-5)


def test_ball_in_fovea_is_the_ball_inside_the_finest_patch():
  # Location (0, 0) puts the 6x6 patch on rows and columns 9..14; (-1, -1) on -3..2 (partly off the screen).
  out = {"location": jnp.array([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [-1.0, -1.0], [-1.0, -1.0]]]),
         "ball": jnp.array([[[9, 14], [15, 12], [8, 10], [0, 0], [2, 3]]])}
  np.testing.assert_array_equal(catch_task.ball_in_fovea(out, 6), [[1, 0, 0, 1, 0]])
  # Against the glimpse sensor itself: the ball alone on the screen shows in the finest scale exactly when inside.
  rng = np.random.default_rng(0)
  balls = rng.integers(0, 24, (200, 2))
  locations = rng.uniform(-1, 1, (200, 2)).astype(np.float32)
  got = catch_task.ball_in_fovea({"location": jnp.asarray(locations)[None], "ball": jnp.asarray(balls)[None]}, 6)
  for i in range(200):
    screen = np.zeros((24, 24, 1), np.float32)
    screen[balls[i, 0], balls[i, 1]] = 1.0
    seen = float(glimpse.glimpse_sensor(jnp.asarray(screen), jnp.asarray(locations[i]), 6, 1).max())
    assert seen == float(got[0, i]), (balls[i], locations[i])


def test_fixed_glimpse_reference_equals_a_numpy_replay_of_the_ball():
  hits = 0
  for key in catch_task.evaluation_game_keys(0, jnp.arange(300)):  # ball paths replayed in NumPy from the rules
    game = catch.reset(jax.random.fold_in(key, 0))
    col, dx = int(game.ball_col), int(game.ball_dx)
    for row in range(catch.FRAMES):
      hits += 9 <= row <= 14 and 9 <= col <= 14  # the centre glimpse's 6x6 patch covers rows and columns 9..14
      col += dx
      if col < 0 or col >= catch.SIZE:
        col, dx = (1 if col < 0 else catch.SIZE - 2), -dx
  expected = hits / (300 * catch.FRAMES)
  assert catch_task.fixed_glimpse_ball_in_fovea((0.0, 0.0), 6, num_games=300) == pytest.approx(expected, abs=1e-6)
  assert 0.05 < expected < 0.11  # the ball crosses the centre rows in 6 of 23 frames, and then not always there
  # A glimpse on the top-left corner only sees the ball on its first 3 rows, when it starts in columns 0..2.
  assert catch_task.fixed_glimpse_ball_in_fovea((-1.0, -1.0), 6, num_games=300) < expected


@pytest.mark.parametrize("field,value,message", [
    ("model.glimpse.pooling", "median", "model.glimpse.pooling='median' is not known; expected one of"),
    ("reinforce.discount", 0.0, r"reinforce.discount=0.0 is out of range; expected a number in \(0, 1\]"),
    ("reinforce.entropy_weight", -0.1, r"reinforce.entropy_weight=-0.1 is out of range; expected a number in \[0, inf\)"),
    ("model.glimpse.size", 30, "model.glimpse.size=30 is larger than the image \\(24x24\\)"),
    ("model.entropy_weight", 0.1, "model.entropy_weight moved to reinforce.entropy_weight"),
])
def test_bad_catch_fields(tmp_path, field, value, message):
  config = tiny_catch_config(num_devices=1)
  helpers.with_overrides(config, {field: value})
  with pytest.raises(UserError, match=message):
    loop.train_and_evaluate(config, str(tmp_path / "w"))


def tiny_catch_config(**overrides):
  c = ram_catch.get_config()
  c.model.core_size = 32
  c.model.glimpse.update(what_hidden=16, where_hidden=16, output=32)
  c.batch_size = 16
  c.eval_batch_size = 40
  c.eval_games = 40
  c.num_train_steps = 3
  c.log_every_steps = 1
  c.eval_every_steps = 3
  c.checkpoint_every_steps = 3
  c.optimizer.cooldown_steps = 0
  return helpers.with_overrides(c, overrides)


def test_catch_eight_devices_equal_one_device():
  one = helpers.train_steps(tiny_catch_config(num_devices=1), 2)
  pmapped = helpers.train_steps(tiny_catch_config(num_devices=8, parallel="pmap"), 2)
  sharded = helpers.train_steps(tiny_catch_config(num_devices=8), 2)
  assert helpers.max_abs_diff(one.params, pmapped.params) < 1e-5
  assert helpers.max_abs_diff(one.params, sharded.params) < 1e-5


def test_a_short_training_run_beats_random_play_and_evaluate_replays_its_games(tmp_path):
  # 400 updates of 64 games (590,000 frames, about 15 s on 2 cores) of a smaller agent with twice the config's
  # learning rate; seeds 0, 1 and 2 reached 25.1% / 31.2%, 23.6% / 25.2% and 18.6% / 19.5% (sampled / greedy) on
  # the 1,000 evaluation games. Random play catches 1/12 = 8.3%, with a standard deviation of 0.87 points over
  # 1,000 games: 15% is 7.7 standard deviations above it.
  config = ram_catch.get_config()
  config.model.core_size = 64
  config.model.glimpse.update(what_hidden=32, where_hidden=32, output=64)
  config = helpers.with_overrides(config, {
      "batch_size": 64, "num_train_steps": 400, "optimizer.learning_rate": 2e-3, "optimizer.cooldown_steps": 0,
      "log_every_steps": 100, "eval_every_steps": 400, "checkpoint_every_steps": 400, "num_devices": 1})
  workdir = str(tmp_path / "catch")
  loop.train_and_evaluate(config, workdir)
  final = [r for r in io_utils.read_json_lines(f"{workdir}/metrics.jsonl") if r["split"] == "test"][-1]
  assert final["num_examples"] == 1000
  assert final["catch_rate"] > 0.15 and final["greedy_catch_rate"] > 0.15, final
  # experiments.evaluate's path: the same 1,000 games and policy noise every time, so it agrees with the
  # evaluation at the end of training, and it draws the game and the catch-rate curve.
  result = loop.evaluate_checkpoint(workdir)
  assert result["num_examples"] == 1000 and 0 <= result["greedy_ball_in_fovea"] <= 1
  assert result["catch_rate"] == final["catch_rate"] and result["greedy_catch_rate"] == final["greedy_catch_rate"]
  for name in ("catch_game.gif", "catch_game.png", "catch_rate.png"):
    assert (tmp_path / "catch" / "plots" / name).stat().st_size > 1000
