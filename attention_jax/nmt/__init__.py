"""Neural machine translation: vocabularies, decoding and metrics for RNNsearch/RNNencdec."""
