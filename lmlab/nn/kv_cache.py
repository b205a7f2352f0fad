"""The key/value cache that makes autoregressive decoding incremental.

Without a cache, generating token t recomputes keys and values for all t previous tokens, so a
sequence of n tokens costs O(n^2) projections. Keys and values of past tokens never change in a
causal model, so each layer stores them once; a decoding step then projects only the new token.

The cache is preallocated to `max_length` positions per layer, so appending is a slice write
(no `torch.cat` and no reallocation on the hot path).
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
