"""Text: the reserved token ids every model shares, and vocabularies (characters, words, SentencePiece)."""
