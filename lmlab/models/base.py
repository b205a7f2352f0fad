"""What every model family shares: the vocabulary check and the parameter count.

Every family (the language models, the classifiers, BERT, seq2seq, and the counted n-gram model)
derives from `ModelBase`. What differs between families is data, not code:

- `embedding_tables`: the names of the lookup tables that ``num_parameters(include_embeddings=False)``
  leaves out. A table is a lookup, not a computation, so the count without it is the size of
  the network that does the work (the convention of Kaplan et al., 2020, for scaling laws);
- `vocab_field`: the config field that holds the vocabulary size a tokenizer must match.
"""

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


class ModelBase:
    """The vocabulary check and the parameter count of every family.

    A mixin rather than an `nn.Module`, so that the n-gram model, a table of counts with no
    parameters, shares it too; the neural families list it before `nn.Module`.
    """

    vocab_field = "vocab_size"  # the config field a tokenizer's vocabulary size must equal
    embedding_tables: tuple[str, ...] = ()  # submodule names of the token (and position) tables

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Trainable parameters, shared (tied) ones counted once; optionally without the tables.

        A table that is no `nn.Embedding` (sinusoidal or rotary positions: no weights) counts zero.
        """
        total = sum(p.numel() for p in self.parameters())
        if include_embeddings:
            return total
        modules = [self.get_submodule(name) for name in self.embedding_tables]
        tables = {id(m.weight): m.weight for m in modules if isinstance(m, nn.Embedding)}
        return total - sum(weight.numel() for weight in tables.values())

    def check_tokenizer(self, tokenizer, vocab_field: str | None = None) -> None:
        """Refuse a tokenizer whose vocabulary does not match ``config.<vocab_field>``."""
        check_vocab_size(tokenizer, getattr(self.config, vocab_field or self.vocab_field))


class NeuralLM(ModelBase, nn.Module):
    """Base of the small neural language models: `self.config.vocab_size` and a token table `self.embedding`."""

    embedding_tables = ("embedding",)
