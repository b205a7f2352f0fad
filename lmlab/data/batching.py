"""Length-bucketed batches: shuffle, then put examples of similar length side by side.

A batch is padded to its longest member, so a batch that mixes a 3-token and a 60-token sentence
pays for 60 tokens twice. Bucketing (as in fairseq, tensor2tensor, and Hugging Face's
``group_by_length``) keeps most of the randomness of a shuffle and removes most of the padding:

    shuffle every index -> cut into pools of `pool` batches -> sort each pool by length
      -> cut each pool into batches -> shuffle the order of the batches

Everything is a pure function of (seed, epoch), so a resumed run sees exactly the batches it
would have seen, and every rank of a distributed run agrees on them.
"""

from __future__ import annotations

import numpy as np


def bucketed_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int, pool: int = 50) -> list[np.ndarray]:
    """The batches (arrays of example indices) of one epoch; the last partial batch is dropped."""
    rng = np.random.default_rng((seed, epoch))
    n_batches = len(lengths) // batch_size
    order = rng.permutation(len(lengths))[: n_batches * batch_size]
    pool_size = pool * batch_size
    batches = []
    for start in range(0, len(order), pool_size):
        chunk = order[start:start + pool_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]  # similar lengths side by side
        batches.extend(np.split(chunk, len(chunk) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]
