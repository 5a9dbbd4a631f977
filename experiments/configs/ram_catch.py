r"""RAM plays Catch (Mnih et al. 2014, Section 4.2): 6x6 retina at 3 scales, 256 LSTM units, one glimpse per frame,
REINFORCE with a learned baseline from the final reward only.

Run:
  python -m experiments.train --config=experiments/configs/ram_catch.py --workdir=/tmp/ram_catch
  python -m experiments.evaluate --workdir=/tmp/ram_catch    # catch rate over 1,000 games, GIF, strip, curve
Paper: about 85% of balls caught after 20 million frames. Frames seen = step * batch_size * 23.
Measured here (2 CPU cores): seed 0, after 20.0 million frames (step 13,600), greedy play catches 85.5% of the
1,000 evaluation games, the sampled policy 73.5% (greedy 60.4% at 8.8M frames, 81.2% at 13.2M, 64.6% at 14.7M:
the curve is noisy); seed 1 (--config.seed=1) reaches only 60.7% greedy / 61.8% sampled at 20.0M frames, still
rising, and 85.0% greedy at 23.6M frames (step 16,000) when resumed with --config.num_train_steps=20400. Random play catches 8.3%. README.md has the table.
"""

from experiments.configs import base


def get_config():
  c = base.base_config()
  c.task = "catch"
  c.model = dict(glimpse_size=6, num_scales=3, glimpse_hidden=128, location_hidden=128, glimpse_output=256,
                 core_size=256, location_std=0.2, discount=1.0, unroll=1,
                 baseline_trains_core=True, entropy_weight=0.0)
  c.eval_games = 1000
  c.batch_size = 64  # games per update (1,472 frames)
  c.eval_batch_size = 500
  c.num_train_steps = 13600  # about 20 million frames
  c.log_every_steps = 100
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.optimizer.name = "adam"
  c.optimizer.learning_rate = 3e-4
  c.optimizer.schedule = "constant"
  c.optimizer.clip_norm = 5.0
  return c
