r"""Europarl English to Italian: the paper's Figure 2 (BLEU against source length) on long sentences.

The argument after ':' is "MODEL,LIMIT": MODEL rnnsearch or rnnencdec, LIMIT the longest training pair in words
(30 or 50, the paper's RNNsearch-30/-50 and RNNencdec-30/-50), optionally ",paper" for the paper's sizes.
All four models share the vocabulary (the most frequent words of the same training subset, the rest <unk>), the
training subset and the training budget; each is tested on every test sentence, long ones included.
Run:
  python -m experiments.train --config=experiments/configs/nmt_europarl.py:rnnsearch,50 --workdir=/tmp/ep_search50
  python -m experiments.evaluate --workdir=/tmp/ep_search50    # BLEU, BLEU with no <unk>, BLEU by source length
  python -m experiments.compare_lengths --workdirs=/tmp/ep_encdec50,/tmp/ep_search50 --top_bin=60 --out=/tmp/ep.png
Data: ../shared/data/europarl-en-it (Europarl v7-era sittings; valid and test from October-December 2000). This
is not the paper's language pair (WMT'14 English-French): say so wherever its numbers appear.
Sizes: the default is a CPU size (embedding 96, GRU 128, maxout 96, alignment 96, 8,000 words a side, 200,000
training pairs, batch 64, 5,000 steps): `benchmarks.profile_nmt_step` put half of a step in the output layer and a
third in the attention at GRU 256 and 10,000 words, and these sizes run about 1.8x faster, so the four models train
in a few hours on 2 cores (measured: RNNsearch-50 17.2 BLEU, RNNencdec-50 6.0 on the test set, 97 and 77 minutes;
docs/results/translation.md). ",paper" is the
paper's (620 / 1000 / 500 / 1000, 30,000 words a side, batch 80, Adadelta) for an accelerator.
"""

from experiments.configs import arguments, nmt_dates

FORMS = ("'MODEL', 'MODEL,LIMIT' or 'MODEL,LIMIT,paper': MODEL 'rnnsearch' or 'rnnencdec', LIMIT the training "
         "length limit in words, 1 to 1000 (default 50), ',paper' the paper's sizes (e.g. 'rnnsearch,30')")


def read_argument(arg: str) -> tuple:
  model, *rest = (arg or "rnnsearch").split(",")
  limit = arguments.number(rest[0], "length limit", range(1, 1001)) if rest else 50
  if rest[1:] not in ([], ["paper"]):
    raise ValueError(f"the option after the limit must be 'paper', not {','.join(rest[1:])!r}")
  return nmt_dates.read_model(model), limit, rest[1:] == ["paper"]

EUROPARL = "../shared/data/europarl-en-it"


def get_config(arg: str = "rnnsearch,50"):
  model, limit, paper = arguments.parse(arg, FORMS, read_argument)
  c = nmt_dates.translation_config(model)
  if paper:
    c.model = nmt_dates.model_config(model, 620, 1000, 500, 1000)
  else:
    c.model = nmt_dates.model_config(model, 96, 128, 96, 96)
  c.data.name = "tsv"
  c.data.path = f"{EUROPARL}/train.tsv.gz"
  c.data.valid_path = f"{EUROPARL}/valid.tsv"
  c.data.test_path = f"{EUROPARL}/test.tsv"
  c.data.valid_size = 0  # unused: the held-out files are the splits
  c.data.test_size = 0
  c.data.seed = 0
  c.data.reverse_direction = False
  c.data.max_train_pairs = 0 if paper else 200_000  # drawn by data.seed; the vocabulary is built from them
  c.data.max_train_len = limit  # words a side, training only: the test set stays whole
  c.data.tokenizer = "word"
  c.data.src_vocab_size = 30_000 if paper else 8_000
  c.data.tgt_vocab_size = 30_000 if paper else 8_000
  c.data.max_len = 100  # tokens: longer test pairs (a handful) are dropped with a warning
  c.data.buckets = (10, 20, 30, 40, 50, 60, 80)
  c.data.length_bin = 10
  c.data.bleu_tokenize = "none"  # Europarl is tokenized already
  c.decode = dict(method="beam", beam_size=10, length_penalty=0.6)
  c.batch_size = 80 if paper else 64
  c.eval_batch_size = 200
  c.num_train_steps = 20_000 if paper else 5_000  # CPU: about 2 epochs of the -50 subset, 1.5-2 hours a model
  c.log_every_steps = 200
  c.eval_every_steps = 2500
  c.checkpoint_every_steps = 1000
  c.num_heatmaps = 4
  c.heatmap_min_source_len = 40  # the paper's Figure 3 shows long sentences
  if paper:
    nmt_dates.use_paper_optimizer(c)
  return c
