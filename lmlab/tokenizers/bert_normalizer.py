r"""BERT's "basic tokenizer": the text clean-up and word split that come before WordPiece.

In order (Hugging Face's ``BertNormalizer`` then ``BertPreTokenizer``):

1. clean: remove control characters (Unicode categories C*, except tab, newline and carriage
   return) and U+FFFD, and turn every kind of whitespace into a plain space;
2. put spaces around CJK ideographs, so each one becomes a word of its own;
3. strip accents: decompose (NFD) and drop the non-spacing marks, so "é" becomes "e";
4. lower-case;
5. split on whitespace, and make each punctuation character a word of its own.

>>> BertNormalizer().split("Héllo,  WORLD! 你好")
['hello', ',', 'world', '!', '你', '好']
>>> BertNormalizer(lowercase=False).split("Don't")
['Don', "'", 't']

Character classes (``\p{C}``, ``\p{P}``, ``\p{Mn}``, White_Space) come from the `regex`
module's Unicode tables; with bert-base-uncased's vocabulary the ids equal Hugging Face's
``BertTokenizerFast`` on SST-2 and on emoji, CJK, accents and control characters (tested).
"""

from __future__ import annotations

import unicodedata

import regex

CONTROL = regex.compile(r"[\x00\ufffd]|[^\P{C}\t\n\r]")  # the C categories, but not \t \n \r
WHITESPACE = regex.compile(r"\s")  # Unicode White_Space, as Rust's char::is_whitespace
CJK = regex.compile("([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002b73f"
                    "\U0002b740-\U0002b81f\U0002b920-\U0002ceaf\U0002f800-\U0002fa1f])")  # HF's ranges
NONSPACING_MARK = regex.compile(r"\p{Mn}")
PUNCTUATION = r"\p{P}!-/:-@\[-`{-~"  # Unicode punctuation, and all ASCII symbols (as BERT)
WORD_OR_PUNCTUATION = regex.compile(rf"[^\s{PUNCTUATION}]+|[{PUNCTUATION}]")


class BertNormalizer:
    """The options of Hugging Face's BertNormalizer; `strip_accents=None` follows `lowercase`."""

    def __init__(self, lowercase: bool = True, strip_accents: bool | None = None, clean_text: bool = True,
                 handle_chinese_chars: bool = True) -> None:
        self.lowercase = lowercase
        self.strip_accents = strip_accents
        self.clean_text = clean_text
        self.handle_chinese_chars = handle_chinese_chars

    def normalize(self, text: str) -> str:
        if self.clean_text:
            text = WHITESPACE.sub(" ", CONTROL.sub("", text))
        if self.handle_chinese_chars:
            text = CJK.sub(r" \1 ", text)
        if self.lowercase if self.strip_accents is None else self.strip_accents:
            text = NONSPACING_MARK.sub("", unicodedata.normalize("NFD", text))
        if self.lowercase:
            # Python lower-cases a word-final capital sigma to "ς"; BERT (one character at a
            # time) always gives "σ".
            text = text.replace("Σ", "σ").lower()
        return text

    def split(self, text: str) -> list[str]:
        """Normalize, then split into words and single punctuation characters."""
        return WORD_OR_PUNCTUATION.findall(self.normalize(text))

    def to_dict(self) -> dict:
        return {"type": "BertNormalizer", "clean_text": self.clean_text,
                "handle_chinese_chars": self.handle_chinese_chars, "strip_accents": self.strip_accents,
                "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, section: dict) -> "BertNormalizer":
        return cls(lowercase=section["lowercase"], strip_accents=section.get("strip_accents"),
                   clean_text=section["clean_text"], handle_chinese_chars=section["handle_chinese_chars"])
