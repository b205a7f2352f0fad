"""Streaming decoded text as tokens arrive.

A token is not always a whole character: byte-level BPE can split one UTF-8 character over
several tokens, and decoding half of it gives the replacement character U+FFFD. `TextStream`
holds tokens back until they decode cleanly, then releases the new text.
"""

from __future__ import annotations


class TextStream:
    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.pending: list[int] = []

    def push(self, token: int) -> str:
        """Add one token; return the text that is now complete (possibly empty)."""
        self.pending.append(token)
        text = self.tokenizer.decode(self.pending)
        if text.endswith("\ufffd") and len(self.pending) < 4:  # an incomplete UTF-8 sequence
            return ""
        self.pending = []
        return text

    def flush(self) -> str:
        text = self.tokenizer.decode(self.pending) if self.pending else ""
        self.pending = []
        return text
