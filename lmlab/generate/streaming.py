"""Streaming decoded text as tokens arrive.

Decoding token by token is wrong for most tokenizers: byte-level BPE can split one UTF-8
character over several tokens (half of it decodes to the replacement character U+FFFD), and
WordPiece and Unigram decide spaces from a token's neighbours (``play`` + ``##ing`` is one word;
Unigram's ``▁`` becomes a space only inside a sequence). `TextStream` therefore decodes the whole
sequence, prompt included, and releases the text that is new since the last release, holding it
back while it ends in an incomplete character.
"""

from __future__ import annotations


class TextStream:
    def __init__(self, tokenizer, prefix: list[int] | None = None) -> None:
        self.tokenizer = tokenizer
        self.ids = list(prefix or [])
        self.released = len(tokenizer.decode(self.ids)) if self.ids else 0  # characters already shown

    def push(self, token: int) -> str:
        """Add one token; return the text that is now complete (possibly empty)."""
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):  # maybe an incomplete UTF-8 sequence: wait for the next token
            return ""
        return self._release(text)

    def flush(self) -> str:
        """Whatever is left at the end, complete or not."""
        return self._release(self.tokenizer.decode(self.ids))

    def _release(self, text: str) -> str:
        new, self.released = text[self.released:], len(text)
        return new
