"""Conv baseline of Mnih et al. (2014): one conv layer (10x10 filters, stride 5) + rectifier, 256 rectifier units,
softmax. The paper's text says 16 filters (the default here) and its captions 8: `--config.model.filters=8`.

Run (embedded default, no download):
  python -m experiments.train --config=experiments/configs/mnist_conv.py --workdir=/tmp/mnist_conv
Offline protocol:
  python -m experiments.train --config=experiments/configs/mnist_conv.py --workdir=/tmp/mnist_conv_offline \
      --config.data.name=mnist_offline
Result: see docs/results/ram.md (results/mnist_baselines.json) (offline protocol; target >= 97% test accuracy).
"""

from experiments.configs import arguments, base


def get_config(arg=None):
  arguments.no_argument(arg)
  c = base.base_config()
  c.model = dict(name="conv", filters=16, kernel_size=10, stride=5, hidden=256)
  c.num_train_steps = 4000
  c.batch_size = 128
  c.optimizer.name = "sgd"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.schedule = "linear"
  c.optimizer.weight_decay = 1e-3
  return c
