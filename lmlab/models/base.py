"""What every language model family shares: the vocabulary check and the parameter count."""

from __future__ import annotations

import torch.nn as nn

from lmlab.errors import UserError


def check_vocab_size(tokenizer, vocab_size: int) -> None:
    """Refuse a tokenizer whose vocabulary does not match the model's (its ids would not fit)."""
    if tokenizer.vocab_size != vocab_size:
        raise UserError(f"tokenizer has {tokenizer.vocab_size} tokens but the model was built for "
                        f"{vocab_size}: use the tokenizer.json saved with the model")


def require_vocab_size(config) -> None:
    if config.vocab_size <= 0:
        raise UserError(f"{type(config).__name__}.vocab_size must be set (it comes from the tokenizer)")


class NeuralLM(nn.Module):
    """Base of the neural families: `self.config.vocab_size` and a token table `self.embedding`."""

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Trainable parameters, shared ones counted once; optionally without the token table."""
        total = sum(p.numel() for p in self.parameters())
        return total if include_embeddings else total - self.embedding.weight.numel()

    def check_tokenizer(self, tokenizer) -> None:
        check_vocab_size(tokenizer, self.config.vocab_size)
