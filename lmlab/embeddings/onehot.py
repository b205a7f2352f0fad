"""One-hot word vectors: the baseline that word embeddings replace.

A one-hot vector for word i of a V-word vocabulary is V numbers, all zero except a 1 at i. Every
two different words are equally far apart (distance sqrt 2, cosine 0), so the representation
says nothing about which words are alike, and its size grows with the vocabulary: a table of
one-hot rows for all V words is V x V numbers. This is one face of the *curse of
dimensionality* Bengio et al. 2003 set out to beat with dense vectors: with D << V learned
numbers per word (Mikolov et al. 2013: D = 100..300 for V in the millions), similar words can
get similar vectors and the table is V x D.

>>> one_hot_memory(10_000, 100)["ratio"]
100.0
"""

from __future__ import annotations

import torch


def one_hot(ids: list[int] | torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(n, V) float rows with a single 1 each: ``one_hot([2], 4) == [[0, 0, 1, 0]]``."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    rows = torch.zeros(len(ids), vocab_size)
    rows[torch.arange(len(ids)), ids] = 1.0
    return rows


def one_hot_memory(vocab_size: int, dim: int, bytes_per_number: int = 4) -> dict:
    """Bytes of a float32 table of one-hot rows (V*V*4) vs a dense embedding table (V*D*4)."""
    one_hot_bytes = vocab_size * vocab_size * bytes_per_number
    dense_bytes = vocab_size * dim * bytes_per_number
    return {"vocab_size": vocab_size, "dim": dim, "one_hot_bytes": one_hot_bytes, "dense_bytes": dense_bytes,
            "ratio": one_hot_bytes / max(1, dense_bytes)}


def human_bytes(n: float) -> str:
    """``human_bytes(1536) == '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
