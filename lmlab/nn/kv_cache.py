"""The key/value caches that make autoregressive decoding incremental.

Without a cache, generating token t recomputes keys and values for all t previous tokens, so a
sequence of n tokens costs O(n^2) projections. Keys and values of past tokens never change in a
causal model, so each layer stores them once; a decoding step then projects only the new token.

`KVCache` (self-attention) is preallocated to `max_length` positions per layer, so appending is a
slice write (no `torch.cat` and no reallocation on the hot path). With grouped-query attention it
holds the `n_kv_head` shared heads, not the `n_head` query heads: that saving is what GQA is for.

With sliding-window attention (`window` W) nothing older than W - 1 positions is ever looked
at again, so the cache keeps only those: its memory stops growing at W - 1 positions per layer,
however long the generation.

`CrossKVCache` (an encoder-decoder's cross-attention) is simpler still: the keys and values come
from the encoder output, which does not change while the decoder writes, so each layer projects
them once, at the first decoding step, and reads them back at every later one.

Both can `reorder` their rows, which is how beam search moves each surviving hypothesis's past
into the slot of the beam that continues it.
"""

from __future__ import annotations

import torch


class KVCache:
    """Per-layer key/value buffers of shape (B, n_head, slots, head_dim).

    Without a window the buffers hold `max_length` positions, filled left to right. With a
    sliding window of W (`window`) a new query can see only itself and the W - 1 positions
    before it, so the buffers hold just the last W - 1 (the oldest fall off the left end when
    new ones arrive), and `max_length` may be None: such a cache never fills. `length` is always
    the absolute number of positions seen, which is where the next token's position starts.
    """

    def __init__(self, n_layer: int, batch_size: int, n_head: int, head_dim: int, max_length: int | None,
                 device=None, dtype=torch.float32, window: int | None = None) -> None:
        if max_length is None and window is None:
            raise ValueError("a KV cache without a window needs a max_length")
        slots = max_length if window is None else window - 1  # a query sees itself and W - 1 before it
        if max_length is not None:
            slots = min(slots, max_length)
        shape = (batch_size, n_head, slots, head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(n_layer)]
        self.max_length, self.window, self.slots = max_length, window, slots
        self.length = 0  # positions seen so far (the same for every layer after a full forward)
        self._pending = 0  # positions being added by the forward pass in progress

    @property
    def stored(self) -> int:
        """Positions held in the buffers: all of them, or the last W - 1 with a window."""
        return min(self.length, self.slots)

    def update(self, layer: int, new_keys: torch.Tensor, new_values: torch.Tensor):
        """Append (B, H, T_new, D) keys/values for `layer`; return the stored past and the new
        positions together, (B, H, stored + T_new, D): the last of them are the new queries' keys."""
        end = self.length + new_keys.size(2)
        if self.max_length is not None and end > self.max_length:
            raise ValueError(f"KV cache full: {end} positions > max_length {self.max_length}")
        self._pending = new_keys.size(2)
        if self.window is None:  # a slice write into the preallocated buffer
            self.keys[layer][:, :, self.length:end] = new_keys
            self.values[layer][:, :, self.length:end] = new_values
            return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]
        past = self.stored
        keys = torch.cat([self.keys[layer][:, :, :past], new_keys], dim=2)  # (B, H, past + T_new, D)
        values = torch.cat([self.values[layer][:, :, :past], new_values], dim=2)
        keep = min(keys.size(2), self.slots)  # shift: only the last W - 1 stay for the next step
        self.keys[layer][:, :, :keep] = keys[:, :, keys.size(2) - keep:]
        self.values[layer][:, :, :keep] = values[:, :, values.size(2) - keep:]
        return keys, values

    def advance(self) -> None:
        """Called once after all layers have appended: the new positions become part of the past."""
        self.length += self._pending
        self._pending = 0

    def reset(self) -> None:
        self.length = 0
        self._pending = 0

    def nbytes(self) -> int:
        """Bytes of the stored keys and values (what decoding memory the cache costs)."""
        return sum(buffer.element_size() * buffer.nelement() for buffer in (*self.keys, *self.values))

    def reorder(self, rows: torch.Tensor) -> None:
        """Keep row rows[i] of the batch in slot i (beam search), for the stored positions."""
        for buffer in (*self.keys, *self.values):
            buffer[:, :, :self.stored] = buffer[rows, :, :self.stored]


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
