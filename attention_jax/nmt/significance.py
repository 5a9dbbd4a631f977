"""Is one translation system's BLEU really ahead of another's, bin by bin of source length?

Koehn's (2004) paired bootstrap resampling, as sacrebleu implements it (`sacrebleu.significance.PairedTest`,
the Moses test: 1,000 resamples of the bin's sentences, fixed seed). Both systems are scored on the same
resampled sentences; the p-value is the share of resamples whose absolute BLEU difference exceeds its mean over
the resamples by more than the observed absolute difference (two-sided; (count + 1) / (samples + 1)).
Bahdanau et al. (2014, Figure 2) compare RNNsearch and RNNencdec by sentence length; this puts an error bar on
each point of that comparison.
"""

import numpy as np


def paired_bleu_by_length(source_lengths, baseline, system, references, bins, tokenize: str,
                          samples: int = 1000) -> list:
  """Per source-length bin (min_len, max_len), both inclusive, and over all sentences: both BLEUs, the gap and
  its p-value.

  source_lengths [n] (tokens), baseline/system/references: n strings each, aligned sentence by sentence; a bin's
  max_len None leaves it open (min_len tokens or more).
  Rows: min_len, max_len (None, None for the row of all sentences), sentences, baseline_bleu, system_bleu,
  gap (system - baseline), p_value, baseline_ci and system_ci (half-width of the 95% bootstrap interval).
  """
  from sacrebleu.metrics import BLEU  # pylint: disable=g-import-not-at-top
  from sacrebleu.significance import PairedTest  # pylint: disable=g-import-not-at-top
  if not len(source_lengths) == len(baseline) == len(system) == len(references):
    raise ValueError(f"unaligned inputs: {len(source_lengths)} lengths, {len(baseline)} baseline and "
                     f"{len(system)} system hypotheses, {len(references)} references")
  lengths = np.asarray(source_lengths)
  rows = []
  for lo, hi in [(int(lo), None if hi is None else int(hi)) for lo, hi in bins] + [(None, None)]:
    if lo is None:
      members = np.arange(len(lengths))
    else:
      members = np.flatnonzero((lengths >= lo) & (lengths <= (lengths.max() if hi is None else hi)))
    if members.size < 2:  # a single sentence cannot be resampled into anything but itself
      continue
    test = PairedTest([("baseline", [baseline[i] for i in members]), ("system", [system[i] for i in members])],
                      {"BLEU": BLEU(tokenize=tokenize)}, [[references[i] for i in members]], test_type="bs",
                      n_samples=samples)
    base, sys_ = test()[1]["BLEU"]
    rows.append({"min_len": lo, "max_len": hi, "sentences": int(members.size),
                 "baseline_bleu": float(base.score), "system_bleu": float(sys_.score),
                 "gap": float(sys_.score - base.score), "p_value": float(sys_.p_value),
                 "baseline_ci": float(base.ci), "system_ci": float(sys_.ci)})
  return rows
