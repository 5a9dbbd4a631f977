r"""RAM plays Catch (Mnih et al. 2014, Section 4.2): 6x6 retina at 3 scales, 256 LSTM units, one glimpse per frame,
REINFORCE with a learned baseline from the final reward only.

Run:
  python -m experiments.train --config=experiments/configs/ram_catch.py --workdir=/tmp/ram_catch
  python -m experiments.evaluate --workdir=/tmp/ram_catch    # catch rate over 1,000 games, GIF, strip, curve
Paper: about 85% of balls caught after 20 million frames. Frames seen = step * batch_size * 23.
Measured here (2 CPU cores, 1,000 evaluation games, sampled / greedy policy) after 20.0 million frames (step
3,400), seeds 0-4 (--config.seed=N): 98.5% / 100.0%, 97.0% / 95.9%, 98.5% / 100.0%, 97.6% / 94.9%, 95.6% / 98.4%;
each passed 85% sampled after 10.3 to 11.8 million frames (greedy after 8.8 to 11.8 million).
Random play catches 8.3%. docs/results/catch.md has the table, the commands and the runs without the entropy bonus (one of five
collapsed to "always right"), with mean pooling, and before the location baseline was fixed.
"""

from experiments.configs import arguments, base


def get_config(arg=None):
  arguments.no_argument(arg)
  c = base.base_config()
  c.task = "catch"
  c.model = dict(name="catch_agent",
                 glimpse=dict(size=6, num_scales=3, what_hidden=128, where_hidden=128, output=256,
                              pooling="max"),  # coarser scales max-pooled: the 1-pixel ball stays 1, not 1/4, 1/16
                 core_size=256, location_std=0.2, baseline_trains_core=True, unroll=1)
  c.reinforce = dict(discount=1.0,
                     entropy_weight=0.003)  # keeps the action policy from locking into one action (docs/results/catch.md)
  c.eval_games = 1000
  c.batch_size = 256  # games per update (5,888 frames)
  c.eval_batch_size = 500
  c.num_train_steps = 3400  # 20.0 million frames
  c.log_every_steps = 50
  c.eval_every_steps = 250
  c.checkpoint_every_steps = 250
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 1e-3
  c.optimizer.schedule = "constant"
  c.optimizer.cooldown_steps = 700  # linear decay to 0 over the last 4.1 million frames
  c.optimizer.clip_norm = 5.0
  return c
