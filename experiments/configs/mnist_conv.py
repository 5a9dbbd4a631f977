"""Conv baseline of Mnih et al. (2014): one conv layer (10x10 filters, stride 5) + rectifier, 256 rectifier units,
softmax. The paper's captions say 8 filters and its text 16: `--config.model.filters=16` for the latter.

Run (embedded default, no download):
  python -m experiments.train --config=experiments/configs/mnist_conv.py --workdir=/tmp/mnist_conv
Offline protocol:
  python -m experiments.train --config=experiments/configs/mnist_conv.py --workdir=/tmp/mnist_conv_offline \
      --config.data.name=mnist_offline
Result: see the README's results table (offline protocol; target >= 97% test accuracy).
"""

from experiments.configs import base


def get_config():
  c = base.base_config()
  c.model = dict(name="conv", filters=8, kernel_size=10, stride=5, hidden=256)
  c.num_train_steps = 3000
  c.batch_size = 128
  c.optimizer.name = "sgd"
  c.optimizer.learning_rate = 0.05
  c.optimizer.momentum = 0.9
  c.optimizer.schedule = "linear"
  return c
