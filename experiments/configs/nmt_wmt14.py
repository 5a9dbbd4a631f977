r"""WMT'14 English to French (Bahdanau et al. 2014's corpus) through TFDS `wmt14_translate/fr-en`.

Preparing the TFDS dataset downloads it and needs the `tf` extra (pip install -e .[tf]); afterwards training
reads it through array_record data sources without TensorFlow.
Run (argument: rnnsearch, rnnencdec, rnnsearch,paper or rnnencdec,paper):
  python -m experiments.train --config=experiments/configs/nmt_wmt14.py:rnnsearch,paper --workdir=/tmp/wmt_search50
The `paper` variant uses the paper's sizes: embedding 620, hidden 1000, maxout 500, alignment 1000, 30,000-token
vocabularies, batch 80, Adadelta (eps 1e-6, rho 0.95), gradient-norm clip 1, sentences up to 50 tokens
(RNNsearch-50). Published result (Bahdanau et al., Table 1, all test sentences): RNNsearch-50 26.75 BLEU,
RNNencdec-50 17.82. No run of this config was made here (no WMT'14 data or accelerator on the test machines).
"""

from experiments.configs import arguments, nmt_dates

FORMS = "'MODEL' or 'MODEL,paper', MODEL 'rnnsearch' or 'rnnencdec' (',paper': the paper's sizes)"


def read_argument(arg: str) -> tuple:
  name, *options = (arg or "rnnsearch").split(",")
  if options not in ([], ["paper"]):
    raise ValueError(f"the option after the model must be 'paper', not {','.join(options)!r}")
  return nmt_dates.read_model(name), options == ["paper"]


def get_config(arg: str = "rnnsearch"):
  name, paper = arguments.parse(arg, FORMS, read_argument)
  c = nmt_dates.translation_config(name)
  c.data.name = "wmt14"
  c.data.tokenizer = "sentencepiece"
  c.data.src_vocab_size = 30000
  c.data.tgt_vocab_size = 30000
  c.data.max_len = 50
  c.data.buckets = (10, 20, 30, 40)
  c.data.length_bin = 10
  c.data.bleu_tokenize = "13a"
  c.decode = dict(method="beam", beam_size=12, length_penalty=0.6)
  c.batch_size = 128
  c.eval_batch_size = 256
  c.num_train_steps = 200000
  c.log_every_steps = 500
  c.eval_every_steps = 10000
  c.checkpoint_every_steps = 5000
  if paper:
    c.model = nmt_dates.model_config(name, 620, 1000, 500, 1000)
    c.batch_size = 80
    c.eval_batch_size = 80
    nmt_dates.use_paper_optimizer(c)
  else:
    c.model = nmt_dates.model_config(name, 256, 512, 256, 512)
  return c
