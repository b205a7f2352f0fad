"""Tokenizers: text <-> ids. `Tokenizer.load` reads any lmlab ``tokenizer.json``."""

from lmlab.tokenizers.base import END_OF_TEXT, Tokenizer
from lmlab.tokenizers.char import CharTokenizer

TOKENIZERS = {"char": CharTokenizer}

__all__ = ["END_OF_TEXT", "TOKENIZERS", "CharTokenizer", "Tokenizer"]
