"""BERT's pretraining examples: sentence pairs for next-sentence prediction, then 80/10/10 masking.

**Next-sentence prediction (NSP).** Segment A is a run of consecutive lines of a document; with
probability 1/2 segment B is the run of lines that follows it (label 1, "IsNext"), otherwise a
run of lines from a *different* document (label 0, "NotNext"). The pair becomes
``[CLS] A [SEP] B [SEP]`` with segment ids 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``, and
the longer segment is cut from its end until the pair fits `max_length`.

**Masked language modelling (MLM), the 80/10/10 rule** (Devlin et al., 2019, section 3.1). 15%
of the positions that hold ordinary tokens (never [CLS], [SEP] or padding) are chosen for
prediction. Of those, 80% are replaced by [MASK], 10% by a random token and 10% are left
unchanged. The model must predict the original token at every chosen position, so it cannot
learn that only [MASK] positions matter (fine-tuning never shows it [MASK]), and the unchanged
10% make it keep a good representation of every observed token. The targets record the chosen
positions: the original id there, -1 elsewhere.

Every example is a pure function of (seed, step, its position in the step's global batch), so a
resumed run sees the same batches, and the global batch does not depend on how it is cut into
micro-batches and ranks (the protocol of `lmlab.data.batching`).
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.constants import PAD
from lmlab.data.batching import Batch, cut, pad_collate

MASK_FRACTION = 0.15
MASK, RANDOM = 0.8, 0.1  # of the chosen positions; the remaining 0.1 keep their token


def mask_tokens(ids: torch.Tensor, special: torch.Tensor, mask_id: int, vocab_size: int,
                generator: torch.Generator, fraction: float = MASK_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T); special (B, T) bool, True where a position may not be chosen ([CLS], [SEP],
    padding) -> (inputs (B, T) with the 80/10/10 replacements, targets (B, T): original id or -1)."""
    draws = torch.rand(ids.shape, generator=generator)
    chosen = (draws < fraction) & ~special
    how = torch.rand(ids.shape, generator=generator)  # which of the three fates
    random_tokens = torch.randint(vocab_size, ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (how < MASK)] = mask_id
    replaced = chosen & (how >= MASK) & (how < MASK + RANDOM)
    inputs[replaced] = random_tokens[replaced]
    targets = torch.where(chosen, ids, torch.full_like(ids, PAD))
    return inputs, targets


class PretrainingPairs:
    """NSP pairs with MLM masking from documents given as lists of encoded lines."""

    def __init__(self, documents: list[list[list[int]]], max_length: int, cls_id: int, sep_id: int,
                 mask_id: int, vocab_size: int, seed: int) -> None:
        self.documents = [[line for line in doc if line] for doc in documents]
        self.documents = [doc for doc in self.documents if len(doc) >= 2]
        if len(self.documents) < 2:
            raise ValueError("next-sentence prediction needs at least two documents of two or more lines")
        self.max_length, self.cls_id, self.sep_id = max_length, cls_id, sep_id
        self.mask_id, self.vocab_size, self.seed = mask_id, vocab_size, seed
        self.weights = torch.tensor([len(doc) - 1 for doc in self.documents], dtype=torch.float)  # lines with a next

    def _run(self, doc: list[list[int]], start: int, budget: int, generator) -> list[int]:
        """Consecutive lines from `start` until `budget` tokens (at least one line)."""
        tokens, line = [], start
        while line < len(doc) and (not tokens or len(tokens) + len(doc[line]) <= budget):
            tokens += doc[line]
            line += 1
        return tokens, line

    def pair(self, generator: torch.Generator) -> tuple[list[int], list[int], int]:
        """(ids, segments, is_next) of one example."""
        budget = self.max_length - 3  # [CLS], [SEP], [SEP]
        index = int(torch.multinomial(self.weights, 1, generator=generator))
        doc = self.documents[index]
        start = int(torch.randint(len(doc) - 1, (1,), generator=generator))
        half = max(budget // 2, 1)
        a, end = self._run(doc[:-1], start, half, generator)  # leave at least one line for B
        is_next = int(torch.rand(1, generator=generator) < 0.5)
        if is_next:
            b, _ = self._run(doc, end, budget - len(a), generator)
        else:
            other = int(torch.randint(len(self.documents) - 1, (1,), generator=generator))
            other_doc = self.documents[other + (other >= index)]  # any document but this one
            b, _ = self._run(other_doc, int(torch.randint(len(other_doc), (1,), generator=generator)),
                             budget - len(a), generator)
        while len(a) + len(b) > budget:  # cut the longer segment from its end
            if len(a) > len(b):
                a = a[:-1]
            else:
                b = b[:-1]
        ids = [self.cls_id, *a, self.sep_id, *b, self.sep_id]
        return ids, [0] * (len(a) + 2) + [1] * (len(b) + 1), is_next

    def example(self, step: int, index: int) -> tuple[torch.Tensor, list[int], torch.Tensor, int]:
        """Example `index` of step `step`'s global batch: (inputs (L,), segments, mlm_targets (L,),
        is_next), drawn and masked by a generator of its own, seeded by (seed, step, index) -- so
        it is the same example whichever rank and micro-batch it falls in."""
        key = np.random.SeedSequence((self.seed, step, index)).generate_state(1, np.uint64)[0]
        generator = torch.Generator().manual_seed(int(key))
        ids, segments, is_next = self.pair(generator)
        ids = torch.tensor([ids])  # (1, L)
        special = (ids == self.cls_id) | (ids == self.sep_id)
        inputs, targets = mask_tokens(ids, special, self.mask_id, self.vocab_size, generator)
        return inputs[0], segments, targets[0], is_next

    def step_batches(self, step: int, batch_size: int, grad_accum: int, rank: int = 0,
                     world_size: int = 1) -> list[Batch]:
        """This rank's `grad_accum` micro-batches of step `step` (the `BatchSampler` protocol):
        (inputs (B, T), segments (B, T), mlm_targets (B, T), nsp_labels (B,)), padded with PAD.
        Only this rank's examples of the global batch are drawn."""
        indices = np.arange(grad_accum * world_size * batch_size)  # the global batch, by position
        return [pad_collate([self.example(step, int(i)) for i in micro], padded=(0, 1, 2))
                for micro in cut(indices, batch_size, grad_accum, rank, world_size)]
