"""Tokenizers: text <-> ids, five algorithms from scratch, saved as Hugging Face tokenizer.json.

``TOKENIZERS[name]().train(texts, vocab_size=N)`` trains one (``vocab_size=None``: the
algorithm's default); `load_tokenizer` reads a file, lmlab's or Hugging Face's.
"""

from __future__ import annotations

import os

from lmlab.tokenizers.base import END_OF_TEXT, Tokenizer
from lmlab.tokenizers.bpe import BPETokenizer
from lmlab.tokenizers.char import CharTokenizer
from lmlab.tokenizers.unigram import UnigramTokenizer
from lmlab.tokenizers.word import WordTokenizer
from lmlab.tokenizers.wordpiece import WordPieceTokenizer

TOKENIZERS: dict[str, type[Tokenizer]] = {
    "char": CharTokenizer,
    "word": WordTokenizer,
    "bpe": BPETokenizer,
    "wordpiece": WordPieceTokenizer,
    "unigram": UnigramTokenizer,
}


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """A tokenizer from a ``tokenizer.json``: one lmlab wrote, or a Hugging Face one (GPT-2's,
    BERT's, ...) whose pipeline an lmlab algorithm reproduces; or from a SentencePiece Unigram
    ``.model`` file (`sentencepiece_model`). Problems are `UserError`s."""
    if os.fspath(path).endswith(".model"):
        from lmlab.tokenizers.sentencepiece_model import load_sentencepiece

        return load_sentencepiece(path)
    return Tokenizer.load(path)


__all__ = ["END_OF_TEXT", "TOKENIZERS", "BPETokenizer", "CharTokenizer", "Tokenizer", "UnigramTokenizer",
           "WordPieceTokenizer", "WordTokenizer", "load_tokenizer"]
