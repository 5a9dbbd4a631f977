"""RAM plays Catch: REINFORCE with a learned baseline from the final reward alone (Mnih et al. 2014, Section 4.2).

A training step plays `batch_size` complete games (each FRAMES = 23 frames) in parallel inside the compiled step:
  loss = -sum_t [log pi(l_t) (R_t - b_{t-1}) + log pi(a_t) (R_t - b_t)] + sum_t (R_t - b_t)^2
         - entropy_weight sum_t H(pi(. | h_t)),
  R_t = discount^(T - t) r_T
with r_T = 1 if the ball was caught. The entropy bonus (Williams & Peng 1991; 0 unless the config sets it, as
ram_catch.py does) keeps the action policy from turning deterministic, early before it has learned anything and
late, when a policy locked into one action leaves REINFORCE nothing to learn from; it is not a reward. The catch
rate is the share of games caught. Evaluation plays `eval_games` fixed games (game i from a fixed key) with the
sampled policy and with the greedy one (mean location, most likely action), and reports for the greedy one how often
the ball lies inside the finest patch of the glimpse (`greedy_ball_in_fovea`, a share of all frames): whether the
agent looks at the ball or reads it off the coarser scales. Frames seen = step * batch_size * FRAMES.
"""

import os

import grain
import jax
import jax.numpy as jnp
import numpy as np

from attention_jax import distributed, io_utils, random_streams
from attention_jax.data import pipeline
from attention_jax.rl import catch, reinforce
from attention_jax.errors import UserError, check_positive
from attention_jax.models import glimpse, registry
from attention_jax.models.ram_catch import CatchAgent
from attention_jax.tasks.base import Task


def build_agent(model_config, greedy: bool = False) -> CatchAgent:
  """The Catch agent `config.model` describes (`models.registry`), sampling or greedy."""
  agent = registry.build(model_config, names=("catch_agent",), greedy=greedy)
  glimpse.check_spec(agent.glimpse, catch.SIZE)
  for field in ("core_size", "location_std"):
    check_positive(f"model.{field}", getattr(agent, field))
  return agent


def policy_settings(config) -> tuple:
  """(discount, entropy weight) of the REINFORCE objective, from `config.reinforce`."""
  discount = float(config.reinforce.get("discount", 1.0))
  if not 0.0 < discount <= 1.0:
    raise UserError(f"config field reinforce.discount={discount} must lie in (0, 1]")
  entropy_weight = float(config.reinforce.get("entropy_weight", 0.0))
  if entropy_weight < 0:
    raise UserError(f"config field reinforce.entropy_weight={entropy_weight} must be >= 0")
  return discount, entropy_weight


def play(agent, params, keys):
  """Plays one game per key: games reset from fold_in(key, 0), policy noise from fold_in(key, 1)."""
  games = jax.vmap(lambda k: catch.reset(jax.random.fold_in(k, 0)))(keys)
  noise = agent.draw_noise(jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys))
  return agent.apply({"params": params}, games, noise)


def evaluation_game_keys(seed: int, indices):
  """Key of evaluation game i: the same game (and policy noise) in every evaluation of a run with this seed."""
  return random_streams.indexed_keys(seed, "eval_games", indices)


def ball_in_fovea(out, glimpse_size: int):
  """1 where the ball lies inside the finest (glimpse_size x glimpse_size) patch of that frame's glimpse: [b, T]."""
  start = glimpse.patch_starts(out["location"], (catch.SIZE, catch.SIZE), glimpse_size)  # [b, T, 2]
  inside = (out["ball"] >= start) & (out["ball"] < start + glimpse_size)
  return jnp.all(inside, axis=-1).astype(jnp.float32)


def fixed_glimpse_ball_in_fovea(location, glimpse_size: int = 6, num_games: int = 1000, seed: int = 0) -> float:
  """The share of frames whose ball lies in the finest patch of a glimpse held still at `location` (row, column in
  [-1, 1]), over the evaluation's `num_games` games of `seed`: the reference for `greedy_ball_in_fovea`. The ball's
  path does not depend on the paddle, so the games are played with 'stay'."""
  keys = evaluation_game_keys(seed, jnp.arange(num_games))

  def ball_path(key):  # [T, 2]
    def frame(game, _):
      ball = jnp.stack([game.ball_row, game.ball_col])
      return catch.step(game, jnp.int32(1))[0], ball
    return jax.lax.scan(frame, catch.reset(jax.random.fold_in(key, 0)), None, length=catch.FRAMES)[1]

  balls = jax.vmap(ball_path)(keys)  # [games, T, 2]
  locations = jnp.broadcast_to(jnp.asarray(location, jnp.float32), balls.shape)
  return float(jnp.mean(ball_in_fovea({"location": locations, "ball": balls}, glimpse_size)))


def frames_seen(step: int, batch_size: int) -> int:
  return int(step) * batch_size * catch.FRAMES


def reinforce_sums(out, discount: float, entropy_weight: float) -> dict:
  """The summed REINFORCE objective of played games (`play`'s output, [b, T] arrays) and its metric sums.

  l_t was chosen before its glimpse (baseline b_{t-1}), a_t after it (baseline b_t): see models/ram_catch.py.
  """
  final = out["reward"][:, -1]  # [b]; every game ends on its last frame
  returns = reinforce.final_reward_returns(final, catch.FRAMES, discount)  # [b, T]
  rl = (reinforce.reinforce_loss(out["location_log_prob"], returns, out["baseline_before"])
        + reinforce.reinforce_loss(out["action_log_prob"], returns, out["baseline"]))
  bl = reinforce.baseline_loss(returns, out["baseline"])
  entropy = jnp.sum(out["entropy"], axis=-1)  # [b]
  return {"loss": jnp.sum(rl + bl - entropy_weight * entropy), "reinforce": jnp.sum(rl),
          "baseline_mse": jnp.sum(bl) / catch.FRAMES, "action_entropy": jnp.sum(entropy) / catch.FRAMES,
          "catch_rate": jnp.sum(final), "baseline": jnp.sum(out["baseline"][:, 0]),
          "count": jnp.asarray(final.shape[0], jnp.float32)}


def game_pictures(agent, params, plots_dir: str, seed: int, batch_size: int) -> list:
  """One evaluation game as an animated GIF and a PNG strip with the glimpse boxes, and the catch rate against
  frames seen (from the run's metrics.jsonl)."""
  from attention_jax import plotting  # pylint: disable=g-import-not-at-top
  keys = evaluation_game_keys(seed, jnp.arange(1))
  out = jax.device_get(jax.jit(lambda p, k: play(agent, p, k))(params, keys))
  frames, locations, actions = out["frame"][0], out["location"][0], out["action"][0]
  caught = bool(out["reward"][0, -1] > 0)
  paths = [plotting.catch_game(frames, locations, actions, caught, agent.glimpse.size, agent.glimpse.num_scales,
                               os.path.join(plots_dir, f"catch_game.{ext}")) for ext in ("png", "gif")]
  rows = io_utils.read_json_lines(os.path.join(os.path.dirname(plots_dir), "metrics.jsonl"))
  curves = {"train (sampled)": ("train", "catch_rate"), "evaluation, sampled": ("test", "catch_rate"),
            "evaluation, greedy": ("test", "greedy_catch_rate")}
  points = {label: [(frames_seen(r["step"], batch_size), r[key]) for r in rows if r["split"] == split and key in r]
            for label, (split, key) in curves.items()}
  paths.append(plotting.catch_curve(points, os.path.join(plots_dir, "catch_rate.png")))
  return [p for p in paths if p]


def build(config) -> Task:
  agent, greedy_agent = build_agent(config.model), build_agent(config.model, greedy=True)
  discount, entropy_weight = policy_settings(config)
  batch_size, eval_games = config.batch_size, int(config.get("eval_games", 1000))
  check_positive("eval_games", eval_games)
  # Nothing to read: a step's "batch" only fixes how many games each device plays (keys come from the loop).
  rows = distributed.process_rows(batch_size)
  train_data = grain.MapDataset.range(2**62).map(lambda i: {"game": np.arange(batch_size, dtype=np.int32)[rows]})

  def init(key):
    keys = jax.random.split(key, 2)
    games = jax.vmap(catch.reset)(keys)
    return agent.init(key, games, agent.draw_noise(keys))["params"]

  def loss(params, batch, keys):
    del batch
    sums = reinforce_sums(play(agent, params, keys), discount, entropy_weight)
    return sums["loss"], sums

  def evaluate(params, batch, keys):
    del keys  # game i is the same in every evaluation: its key is fold_in(fixed key, i)
    game_keys = evaluation_game_keys(config.seed, batch["index"])
    w = batch["mask"]
    sampled = play(agent, params, game_keys)["reward"][:, -1]
    greedy_out = play(greedy_agent, params, game_keys)
    fovea = jnp.mean(ball_in_fovea(greedy_out, agent.glimpse.size), axis=-1)  # [b], share of the game's frames
    return {"catch_rate": jnp.sum(sampled * w), "greedy_catch_rate": jnp.sum(greedy_out["reward"][:, -1] * w),
            "greedy_ball_in_fovea": jnp.sum(fovea * w), "count": jnp.sum(w)}

  def eval_batches(split):
    del split  # games are generated: one fixed set of `eval_games` games
    return pipeline.eval_batches({"game": np.arange(eval_games, dtype=np.int32)}, config.eval_batch_size)

  def catch_games(params, split, workdir):
    del split  # one fixed set of evaluation games
    game_pictures(agent, params, os.path.join(workdir, "plots"), config.seed, batch_size)
    return {}

  return Task(name="catch", init=init, loss=loss, evaluate=evaluate, model=agent, train_data=train_data,
              eval_batches=eval_batches, evaluators={"catch_games": catch_games})
