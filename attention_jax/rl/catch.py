"""Catch (Mnih et al. 2014, Section 4.2), a pure-JAX game: `reset(key) -> state`,
`step(state, action) -> (state, observation, reward, done)`; jit-compiled and `vmap`ped over many games.

Rules (SIZE = 24):
  * The screen is SIZE x SIZE binary pixels (observation float32 [SIZE, SIZE, 1], 1 = on): the ball is one pixel,
    the paddle two pixels on the bottom row, columns (paddle, paddle + 1).
  * A game starts with the ball on row 0 at a uniformly random column, moving sideways by dx = -1 or +1 (uniform),
    and the paddle at columns (SIZE/2 - 1, SIZE/2).
  * Each frame the paddle moves by action - 1 (0 left, 1 stay, 2 right), clamped to columns 0..SIZE-2; then the
    ball moves one row down and one column by dx; a ball that would leave the screen sideways bounces: it is
    reflected back inside (column -1 becomes 1, column SIZE becomes SIZE-2) and dx flips.
  * When the ball reaches the bottom row (after SIZE - 1 frames) the game ends: reward 1 if the ball's column is
    one of the paddle's two, else 0. The returned state is then a fresh game drawn with the state's own key (the
    game restarts), and the observation is that new game's first frame; `done` says it happened.
Every game therefore lasts exactly FRAMES = SIZE - 1 actions, and rewards come only at its end.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

SIZE = 24
FRAMES = SIZE - 1  # actions per game
NUM_ACTIONS = 3


class CatchState(NamedTuple):
  ball_row: jnp.ndarray  # int32 []
  ball_col: jnp.ndarray  # int32 []
  ball_dx: jnp.ndarray  # int32 [], -1 or +1
  paddle: jnp.ndarray  # int32 [], the paddle's left column
  key: jnp.ndarray  # the key the next game is drawn from


def reset(key) -> CatchState:
  """A new game: ball on row 0 at a random column with a random sideways direction, paddle in the middle."""
  key, col_key, dx_key = jax.random.split(key, 3)
  col = jax.random.randint(col_key, (), 0, SIZE)
  dx = jnp.where(jax.random.bernoulli(dx_key), 1, -1).astype(jnp.int32)
  return CatchState(jnp.int32(0), col.astype(jnp.int32), dx, jnp.int32(SIZE // 2 - 1), key)


def render(state: CatchState) -> jnp.ndarray:
  """The screen: float32 [SIZE, SIZE, 1] with the ball and the paddle's two pixels set to 1."""
  rows = jnp.arange(SIZE)[:, None]
  cols = jnp.arange(SIZE)[None, :]
  ball = (rows == state.ball_row) & (cols == state.ball_col)
  paddle = (rows == SIZE - 1) & ((cols == state.paddle) | (cols == state.paddle + 1))
  return (ball | paddle).astype(jnp.float32)[..., None]


def move(state: CatchState, action) -> CatchState:
  """One frame of motion (no reward, no restart): paddle, then ball with bouncing."""
  paddle = jnp.clip(state.paddle + jnp.asarray(action, jnp.int32) - 1, 0, SIZE - 2)
  col = state.ball_col + state.ball_dx
  bounce = (col < 0) | (col > SIZE - 1)
  col = jnp.where(col < 0, -col, jnp.where(col > SIZE - 1, 2 * (SIZE - 1) - col, col))
  dx = jnp.where(bounce, -state.ball_dx, state.ball_dx)
  return state._replace(ball_row=state.ball_row + 1, ball_col=col, ball_dx=dx, paddle=paddle)


def step(state: CatchState, action):
  """(state, action) -> (next state, its observation, reward, done); a finished game restarts from state.key."""
  moved = move(state, action)
  done = moved.ball_row == SIZE - 1
  caught = (moved.ball_col >= moved.paddle) & (moved.ball_col <= moved.paddle + 1)
  reward = jnp.where(done & caught, 1.0, 0.0)
  fresh = reset(state.key)
  next_state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, moved)
  return next_state, render(next_state), reward, done


def random_policy_catch_rate() -> float:
  """The exact catch rate of a policy that picks each action uniformly: the paddle's column distribution evolves
  as a clamped random walk, the ball's final column is a function of its start; averaged over the 2 * SIZE starts."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  walk = np.zeros((SIZE - 1, SIZE - 1))  # paddle column -> next column, each action with probability 1/3
  for p in range(SIZE - 1):
    for a in range(NUM_ACTIONS):
      walk[p, min(max(p + a - 1, 0), SIZE - 2)] += 1 / 3
  final = np.zeros(SIZE - 1)
  final[SIZE // 2 - 1] = 1.0
  for _ in range(FRAMES):
    final = final @ walk
  total = 0.0
  for col in range(SIZE):
    for dx in (-1, 1):
      c, d = col, dx
      for _ in range(FRAMES):
        c += d
        if c < 0 or c > SIZE - 1:
          c, d = (-c if c < 0 else 2 * (SIZE - 1) - c), -d
      total += final[max(c - 1, 0):c + 1].sum() if c <= SIZE - 2 else final[c - 1]
  return total / (2 * SIZE)
