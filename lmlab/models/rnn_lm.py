"""Recurrent language models: Elman RNN, LSTM and GRU (`lmlab.nn.rnn`) over token embeddings.

    x_t = Embedding(w_t)                      # (B, T, n_embd)
    h_t = Recurrent(x_t, h_{t-1})             # n_layer stacked cells, (B, T, n_hidden)
    P(w_{t+1} | w_<=t) = softmax(W h_t + b)

Unlike a Transformer, the model has no context limit: everything it knows about the past is in
h_t. Training uses truncated backpropagation through time (TBPTT, Williams & Peng 1990): the
text is read in consecutive windows of `block_size` tokens, gradients flow back at most one
window, but with `carry_state` the hidden state flows on from window to window, so the model
learns to use memory longer than the window. The Trainer hands each micro-batch its carried
`RecurrentState` (`carried_state(slot)`, advanced in place); the carried states are part of the
model's state_dict (`get_extra_state`), so a checkpoint holds them and resume continues exactly.

The LSTM's forget-gate bias starts at 1 (Gers et al. 2000; Jozefowicz et al. 2015): the cell
remembers by default, which is what lets its gradient survive (tests/nn/test_rnn.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmlab.config import AT_LEAST_ONE, Config, FRACTION
from lmlab.models.base import NeuralLM, require_vocab_size
from lmlab.nn.rnn import Recurrent, RecurrentState


@dataclass
class RNNLMConfig(Config):
    """Shape of a recurrent language model; `cell` is the family (rnn, lstm or gru)."""

    vocab_size: int = 0
    cell: Literal["rnn", "lstm", "gru"] = "lstm"
    block_size: Annotated[int, AT_LEAST_ONE] = 128  # TBPTT window: tokens per training sequence, and how far gradients flow back
    n_embd: Annotated[int, AT_LEAST_ONE] = 128
    n_hidden: Annotated[int, AT_LEAST_ONE] = 256
    n_layer: Annotated[int, AT_LEAST_ONE] = 2
    dropout: Annotated[float, FRACTION] = 0.0  # on the embeddings, between layers and before the output layer
    carry_state: bool = True  # carry the hidden state across consecutive training windows
    fast: bool = True  # torch's fused RNN kernels; False runs the written-out loop (same parameters)


class RNNLM(NeuralLM):
    def __init__(self, config: RNNLMConfig) -> None:
        super().__init__()
        require_vocab_size(config)
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = Recurrent(config.cell, config.n_embd, config.n_hidden, config.n_layer,
                             dropout=config.dropout, fast=config.fast)
        self.lm_head = nn.Linear(config.n_hidden, config.vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        if config.cell == "lstm":
            H = config.n_hidden
            with torch.no_grad():
                for layer in range(config.n_layer):
                    getattr(self.rnn, f"bias_ih_l{layer}")[H : 2 * H] = 1.0  # forget gate (rows i, f, g, o)
                    getattr(self.rnn, f"bias_hh_l{layer}")[H : 2 * H] = 0.0
        self.carried: list[RecurrentState] = []  # TBPTT: one state per micro-batch slot

    def new_cache(self, batch_size: int | None = None, max_length: int | None = None) -> RecurrentState:
        return RecurrentState()

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: RecurrentState | None = None):
        """ids (B, T) -> (logits (B, T, V), loss or None). With `cache`, continue from its state and
        advance it in place (detached: gradients stop at the window boundary)."""
        x = self.dropout(self.embedding(ids))  # (B, T, n_embd)
        out, hidden = self.rnn(x, cache.hidden if cache is not None else None)  # (B, T, n_hidden)
        if cache is not None:
            cache.update(hidden, ids.size(1))
        logits = self.lm_head(self.dropout(out))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-1)
        return logits, loss

    # --- truncated BPTT: the hidden states carried from one training step to the next --------
    def carried_state(self, slot: int) -> RecurrentState:
        """The state carried for micro-batch `slot` of every step (created empty on first use)."""
        while len(self.carried) <= slot:
            self.carried.append(RecurrentState())
        return self.carried[slot]

    def reset_carried(self) -> None:
        for state in self.carried:
            state.reset()

    def get_extra_state(self) -> torch.Tensor:
        """The carried states as one tensor (slots, 1 or 2, L, B, H), empty when there are none."""
        kept = [s.hidden for s in self.carried if s.hidden is not None]
        if not kept:
            return torch.zeros(0)
        as_stack = lambda h: torch.stack(h) if isinstance(h, tuple) else h[None]  # noqa: E731
        template = as_stack(kept[0])
        return torch.stack([as_stack(s.hidden) if s.hidden is not None else torch.zeros_like(template)
                            for s in self.carried])  # a reset state and a zero state compute the same

    def set_extra_state(self, packed: torch.Tensor) -> None:
        self.carried = []
        for slot in packed if packed.numel() else []:
            state = RecurrentState()
            state.hidden = (slot[0], slot[1]) if self.config.cell == "lstm" else slot[0]
            self.carried.append(state)
