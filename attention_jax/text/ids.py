"""Token ids reserved in every vocabulary (`text.vocab`) and read by every text model: 0 pad, 1 bos, 2 eos,
3 unk."""

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")  # their strings, in id order
