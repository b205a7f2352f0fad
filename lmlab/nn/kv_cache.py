"""The key/value caches that make autoregressive decoding incremental.

Without a cache, generating token t recomputes keys and values for all t previous tokens, so a
sequence of n tokens costs O(n^2) projections. Keys and values of past tokens never change in a
causal model, so each layer stores them once; a decoding step then projects only the new token.

`KVCache` (self-attention) is preallocated to `max_length` positions per layer, so appending is a
slice write (no `torch.cat` and no reallocation on the hot path). With grouped-query attention it
holds the `n_kv_head` shared heads, not the `n_head` query heads: that saving is what GQA is for.

`CrossKVCache` (an encoder-decoder's cross-attention) is simpler still: the keys and values come
from the encoder output, which does not change while the decoder writes, so each layer projects
them once, at the first decoding step, and reads them back at every later one.

Both can `reorder` their rows, which is how beam search moves each surviving hypothesis's past
into the slot of the beam that continues it.
"""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer key/value buffers of shape (B, n_head, max_length, head_dim), filled left to right."""

    def __init__(self, n_layer: int, batch_size: int, n_head: int, head_dim: int, max_length: int,
                 device=None, dtype=torch.float32) -> None:
        shape = (batch_size, n_head, max_length, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.max_length = max_length
        self.length = 0  # positions filled so far (the same for every layer after a full forward)
        self._pending = 0  # positions being added by the forward pass in progress

    def update(self, layer: int, new_keys: torch.Tensor, new_values: torch.Tensor):
        """Append (B, H, T_new, D) keys/values for `layer`; return all (B, H, length + T_new, D)."""
        start, end = self.length, self.length + new_keys.size(2)
        if end > self.max_length:
            raise ValueError(f"KV cache full: {end} positions > max_length {self.max_length}")
        self.keys[layer][:, :, start:end] = new_keys
        self.values[layer][:, :, start:end] = new_values
        self._pending = end - start
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self) -> None:
        """Called once after all layers have appended: the new positions become part of the past."""
        self.length += self._pending
        self._pending = 0

    def reset(self) -> None:
        self.length = 0
        self._pending = 0

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep row rows[i] of the batch in slot i (beam search), for the filled positions."""
        for buffer in (*self.keys, *self.values):
            buffer[:, :, :self.length] = buffer[rows, :, :self.length]


class CrossKVCache:
    """Per-layer keys and values of a fixed memory (the encoder output), projected once."""

    def __init__(self, n_layer: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def get(self, layer: int):
        """(keys, values) of `layer`, each (B, H, S, D), or None before the first step."""
        return None if self.keys[layer] is None else (self.keys[layer], self.values[layer])

    def set(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        self.keys[layer], self.values[layer] = keys, values

    def reorder(self, rows: torch.Tensor) -> None:
        self.keys = [None if k is None else k[rows] for k in self.keys]
        self.values = [None if v is None else v[rows] for v in self.values]
