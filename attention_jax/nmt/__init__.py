"""Neural machine translation: decoding, BLEU reports and significance for RNNsearch/RNNencdec (vocabularies:
`attention_jax.text`)."""
