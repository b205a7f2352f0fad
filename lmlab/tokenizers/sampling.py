"""Subword regularisation where training reads text: a tokenizer that samples for a while.

Two ways to give a model a different segmentation of the same text each time it reads it:

- **BPE-dropout** (Provilkov et al., 2020): `BPETokenizer.dropout` = p skips each applicable merge
  with probability p, so words come out in smaller, varying pieces;
- **Unigram sampling** (Kudo, 2018): `UnigramTokenizer.sample_alpha` = alpha draws a segmentation
  with probability proportional to P(segmentation)^alpha from the lattice of all of them.

Only the training text is read this way; evaluation and the saved tokenizer stay deterministic.
`sampling(tokenizer, bpe_dropout, sample_alpha, seed)` switches sampling on inside a ``with``
block, seeded, and restores the tokenizer after it:

>>> from lmlab.tokenizers import BPETokenizer
>>> tok = BPETokenizer().train(["low lower lowest " * 20], vocab_size=280)
>>> with sampling(tok, bpe_dropout=1.0, seed=0):
...     len(tok.encode(" lowest"))  # every merge dropped: one token per byte
7
>>> len(tok.encode(" lowest"))
1

The config fields are named ``bpe_dropout`` and ``sample_alpha``: ``dropout`` is already the
model's dropout key in ``--set``.
"""

from __future__ import annotations

import contextlib
import random

from lmlab.errors import UserError


def check_sampling(tokenizer_name: str, bpe_dropout: float, sample_alpha: float) -> None:
    """Refuse sampling settings that the named tokenizer algorithm cannot use."""
    if not 0.0 <= bpe_dropout <= 1.0:
        raise UserError(f"--set bpe_dropout={bpe_dropout}: give a probability in [0, 1] (0 = plain BPE)")
    if sample_alpha < 0.0:
        raise UserError(f"--set sample_alpha={sample_alpha}: give alpha >= 0 (0 = the best segmentation)")
    if bpe_dropout and tokenizer_name != "bpe":
        raise UserError(f"--set bpe_dropout is BPE-dropout: it needs tokenizer=bpe, not {tokenizer_name}")
    if sample_alpha and tokenizer_name != "unigram":
        raise UserError(f"--set sample_alpha samples Unigram segmentations: it needs tokenizer=unigram, "
                        f"not {tokenizer_name}")


@contextlib.contextmanager
def sampling(tokenizer, bpe_dropout: float = 0.0, sample_alpha: float = 0.0, seed=None):
    """Inside the block `tokenizer.encode` samples (BPE-dropout or Unigram sampling) from a
    generator seeded with `seed`; afterwards the tokenizer is as it was."""
    check_sampling(tokenizer.type_name, bpe_dropout, sample_alpha)
    name = "dropout" if bpe_dropout else "sample_alpha"
    value = bpe_dropout or sample_alpha
    if not value:
        yield tokenizer
        return
    saved = getattr(tokenizer, name), tokenizer.rng
    setattr(tokenizer, name, value)
    tokenizer.rng = random.Random(seed)
    try:
        yield tokenizer
    finally:
        setattr(tokenizer, name, saved[0])
        tokenizer.rng = saved[1]
