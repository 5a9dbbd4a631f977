r"""Translated MNIST (Mnih et al. 2014, Table 1b): each digit at a random spot of a 60x60 canvas, 12x12 glimpses
at 3 scales, 4/6/8 glimpses, or the FC/conv baselines.

The argument after ':' is the number of glimpses (4, 6 or 8), with ",sgd" for the paper's optimiser
and ",lstm" for an LSTM core (`ram_mnist.with_options`), or "fc"/"conv". Run:
  python -m experiments.train --config=experiments/configs/ram_translated.py:6 --workdir=/tmp/ram_t60_6 \
      --config.data.name=mnist_offline
The RAM rows start from the recipe searched at 28x28 (`ram_mnist.RECIPE`: 200 epochs of 50,000 digits, the
paper's size of this set, the checkpoint chosen on the 10,000 held out), evaluating every 10 epochs.
Paper: the rows of its Table 1b (NIPS 2014 version, full protocol). Measured here: see docs/results/ram.md.
"""

from experiments.configs import arguments, ram_cluttered, ram_mnist


FORMS = ("'N' glimpses from 1 to 8, then ',sgd' (the paper's optimiser) and/or ',lstm' (an LSTM core) (e.g. '6', "
         "'6,lstm'), 'fc' or 'conv'")


def read_argument(arg: str) -> tuple:
  what, *options = arg.split(",")
  if what in ("fc", "conv"):
    if options:
      raise ValueError(f"the baselines take no options ({','.join(options)!r})")
    return what, ()
  return str(arguments.number(what, "glimpses", range(1, 9))), ram_mnist.read_options(options)


def get_config(arg="6"):
  what, options = arguments.parse(arg, FORMS, read_argument)
  if what in ("fc", "conv"):
    c = ram_cluttered.baseline_config(what, 60)
  else:
    c = ram_mnist.ram_config(ram_mnist.ram_model(num_glimpses=int(what), glimpse_size=12, num_scales=3))
    ram_mnist.with_options(ram_cluttered.with_canvas_cadence(c), options)
  c.data.canvas = 60
  c.data.clutter = 0
  c.data.clutter_size = 8
  return c
