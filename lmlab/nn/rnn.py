"""Recurrent layers from scratch: the Elman RNN, the LSTM and the GRU.

A recurrent layer reads a sequence one step at a time and carries a hidden state h_t:

    Elman (1990):   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000):
                    i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
                    c_t = f * c_{t-1} + i * g            # the cell state: a gated running sum
                    h_t = o * tanh(c_t)
    GRU (Cho et al. 2014):
                    r, z = sigmoid(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)[reset, update rows]
                    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
                    h_t = (1 - z) * n + z * h_{t-1}

Why the gates matter: backpropagating through the Elman RNN multiplies the gradient by
W_hh^T diag(1 - h_t^2) at every step, so it shrinks (or grows) geometrically with distance. The
LSTM's cell state is updated additively, dc_t/dc_{t-1} = f_t, so with forget gates near 1 the
gradient survives many steps (tests/nn/test_rnn.py measures exactly this).

`Recurrent` stacks layers (dropout between them, as torch does), optionally runs a second
direction right to left and concatenates the two. Its parameters have PyTorch's names, shapes
and gate order (`weight_ih_l0`, `weight_hh_l0_reverse`, ...), so the same parameters drive the
written-out loop (`fast=False`, for reading and testing) or PyTorch's fused kernels
(`fast=True`, through `torch.func.functional_call` on a parameterless `nn.LSTM` twin) for
sequences; a single step always runs the written-out cell, which is faster there.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Literal

import torch
import torch.nn as nn
from torch.func import functional_call

Cell = Literal["rnn", "lstm", "gru"]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # rows of W_ih per hidden unit
TORCH_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def rnn_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """Elman step: x (B, I), h (B, H) -> h (B, H)."""
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


def lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh):
    """The LSTM's gates from x (B, I) and h_{t-1} (B, H): (i, f, g, o), each (B, H), activated.
    Gate order i, f, g, o (PyTorch's)."""
    i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=-1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_step(x, state, w_ih, w_hh, b_ih, b_hh):
    """LSTM step: x (B, I), (h, c) each (B, H) -> (h, c)."""
    h, c = state
    i, f, g, o = lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


def gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """GRU step: x (B, I), h (B, H) -> h (B, H). Gate order reset, update, new (PyTorch's)."""
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # the reset gate scales the recurrent part only
    return (1 - z) * n + z * h


STEPS = {"rnn": rnn_step, "lstm": lstm_step, "gru": gru_step}


class Recurrent(nn.Module):
    """A stack of recurrent layers: x (B, T, input_size) -> (outputs (B, T, D*H), final state).

    The state is h of shape (num_layers * D, B, H), or (h, c) for the LSTM, D = 2 when
    bidirectional: the same layout as torch.nn.RNN/LSTM/GRU with batch_first=True.
    """

    def __init__(self, cell: Cell, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, fast: bool = True) -> None:
        super().__init__()
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        self.dropout, self.fast = dropout, fast
        rows = GATES[cell] * hidden_size
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's initialisation: U(-1/sqrt(H), 1/sqrt(H))
        for layer in range(num_layers):
            inputs = input_size if layer == 0 else hidden_size * self.directions
            for suffix in self._suffixes(layer):
                for name, shape in [("weight_ih", (rows, inputs)), ("weight_hh", (rows, hidden_size)),
                                    ("bias_ih", (rows,)), ("bias_hh", (rows,))]:
                    self.register_parameter(name + suffix, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))
        # The fused kernels' twin: the same module shape on the meta device, holding no memory;
        # kept out of the module tree so that it adds nothing to parameters() or state_dict().
        twin = TORCH_MODULES[cell](input_size, hidden_size, num_layers, batch_first=True,
                                   dropout=dropout if num_layers > 1 else 0.0,  # (torch warns otherwise)
                                   bidirectional=bidirectional, device="meta")
        object.__setattr__(self, "_twin", twin)
        self.recording: list[list] | None = None  # per (layer, direction): every step's state (`recorded_states`)

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    def forward(self, x: torch.Tensor, state=None):
        # one step (decoding) is a few matrix products: the loop is faster there than the fused
        # kernels' per-call setup (9x for oneDNN's CPU LSTM); recording states needs the loop too
        if self.fast and x.size(1) > 1 and self.recording is None:
            self._twin.train(self.training)
            return functional_call(self._twin, dict(self.named_parameters()), (x, state))
        return self._loop(x, state)

    def _loop(self, x: torch.Tensor, state):
        """The written-out recurrence, layer by layer, direction by direction, step by step."""
        B, T, _ = x.shape
        H, L, D = self.hidden_size, self.num_layers, self.directions
        if state is None:
            zeros = x.new_zeros(L * D, B, H)
            state = (zeros, zeros) if self.cell == "lstm" else zeros
        step = STEPS[self.cell]
        finals = []  # per (layer, direction): h, or (h, c)
        for layer in range(L):
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                weights = [getattr(self, name + suffix) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                index = layer * D + direction
                carry = (state[0][index], state[1][index]) if self.cell == "lstm" else state[index]
                order = range(T) if direction == 0 else reversed(range(T))
                hs = [None] * T
                for t in order:
                    carry = step(x[:, t], carry, *weights)
                    if self.recording is not None:
                        self.recording[index].append(carry)
                    hs[t] = carry[0] if self.cell == "lstm" else carry
                outputs.append(torch.stack(hs, dim=1))  # (B, T, H)
                finals.append(carry)
            x = torch.cat(outputs, dim=-1)  # (B, T, D*H)
            if layer < L - 1 and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, self.training)
        if self.cell == "lstm":
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return x, torch.stack(finals)


@contextmanager
def recorded_states(layer: Recurrent):
    """Within the block, `layer` runs its written-out loop and keeps every step's state: yields a
    list with, per (layer, direction) in the order of the state's first axis, the states in the
    order they were computed: h_t (B, H), or (h_t, c_t) for the LSTM.

    They are nodes of the graph, so `torch.autograd.grad(loss, states)` gives dL/dh_t, the total
    derivative through every later step. The stacked outputs cannot give it: the gradient at an
    output is only the direct path from that output to the loss."""
    layer.recording = [[] for _ in range(layer.num_layers * layer.directions)]
    try:
        yield layer.recording
    finally:
        layer.recording = None


class RecurrentState:
    """The decoding state of a recurrent model: its hidden state, carried from call to call.

    It plays the role the KV cache plays for a Transformer (`model.new_cache`), but it never
    fills up (`max_length` is None): an RNN's memory is a fixed-size vector however long the
    text. `hidden` is None (zeros) until the first call.
    """

    max_length = None

    def __init__(self) -> None:
        self.hidden = None  # h (L, B, H), or (h, c) for the LSTM
        self.length = 0  # tokens consumed

    def update(self, hidden, tokens: int) -> None:
        """Keep the new state, cut from the graph: truncated BPTT stops gradients here."""
        self.hidden = tuple(t.detach() for t in hidden) if isinstance(hidden, tuple) else hidden.detach()
        self.length += tokens

    def reset(self) -> None:
        self.hidden, self.length = None, 0

    def to(self, device, non_blocking: bool = False) -> "RecurrentState":
        """Move in place (so the Trainer can treat it like a tensor of the batch) and return self."""
        if self.hidden is not None:
            move = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
            self.hidden = tuple(map(move, self.hidden)) if isinstance(self.hidden, tuple) else move(self.hidden)
        return self
