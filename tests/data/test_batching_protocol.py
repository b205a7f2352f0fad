"""The one batching protocol (`lmlab.data.batching`), checked on each of the four samplers.

For every sampler: step_batches is a pure function of the step (a fresh sampler gives the same
batches: exact resume at this level), the micro-batches of batch 2 x grad_accum 2 x 2 ranks are
the documented slices of the global batch of batch 8 x 1 x 1, consecutive steps differ, and every
rank gets batch_size examples per micro-batch.
"""

import numpy as np
import pytest
import torch

from lmlab.constants import PAD
from lmlab.data.batching import BatchSampler, EpochSampler, cut, in_order, pad_collate
from lmlab.data.classification import EpochBatches
from lmlab.data.classification import collate as classification_collate
from lmlab.data.lm import StreamSampler, WindowSampler
from lmlab.data.mlm import PretrainingPairs
from lmlab.data.pairs import PairBatches
from lmlab.errors import UserError

GLOBAL = 8  # batch 2 x grad_accum 2 x world 2 == batch 8 x 1 x 1


def lengths(i: int) -> int:
    return 1 + (i * 7) % 11  # 1..11 tokens, shuffled


def window_sampler(seed):
    return WindowSampler(np.arange(3000) % 251, block_size=8, seed=seed)


def stream_sampler(seed):
    return StreamSampler(np.arange(3000) % 251, block_size=8, rows=GLOBAL, seed=seed)


def pair_batches(seed):
    pairs = [([i + 1] * lengths(i), [0] + [i + 2] * lengths(i + 3) + [0]) for i in range(40)]
    return PairBatches(pairs, global_batch=GLOBAL, seed=seed, pool=2)


def epoch_batches(seed):
    rows = [([i + 1] * lengths(i), [0] * lengths(i), i % 3) for i in range(40)]
    return EpochBatches(rows, global_batch=GLOBAL, seed=seed)


def pretraining_pairs(seed):
    generator = torch.Generator().manual_seed(1)
    documents = [[torch.randint(5, 60, (int(torch.randint(2, 9, (1,), generator=generator)),),
                                generator=generator).tolist() for _ in range(12)] for _ in range(4)]
    return PretrainingPairs(documents, max_length=32, cls_id=1, sep_id=2, mask_id=3, vocab_size=60, seed=seed)


SAMPLERS = {"windows": window_sampler, "streams": stream_sampler, "translation": pair_batches,
            "classification": epoch_batches, "mlm": pretraining_pairs}
STEPS = (0, 1, 4, 7)  # 40 rows / 8 = 5 global batches an epoch: step 7 is in the second epoch


def examples(batch) -> list[tuple]:
    """The examples of a batch, each column's row without its trailing padding: what a batch
    holds, whatever length it was padded to."""
    rows = []
    for i in range(len(batch[0])):
        row = []
        for column in batch:
            value = column[i].tolist()
            while isinstance(value, list) and value and value[-1] == PAD:
                value.pop()
            row.append(tuple(value) if isinstance(value, list) else value)
        rows.append(tuple(row))
    return rows


def flatten(micro_batches) -> list[tuple]:
    return [example for batch in micro_batches for example in examples(batch)]


@pytest.fixture(params=SAMPLERS, ids=list(SAMPLERS))
def make(request):
    return SAMPLERS[request.param]


def test_every_sampler_implements_the_protocol(make):
    assert isinstance(make(0), BatchSampler)


def test_batches_are_a_pure_function_of_the_step_and_a_fresh_sampler_resumes_them(make):
    sampler, fresh = make(5), make(5)
    for step in STEPS:
        first = sampler.step_batches(step, 2, 2, rank=1, world_size=2)
        for again in (sampler.step_batches(step, 2, 2, rank=1, world_size=2),
                      fresh.step_batches(step, 2, 2, rank=1, world_size=2)):
            assert len(again) == len(first) == 2
            for a, b in zip(first, again):
                assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_micro_batches_over_ranks_are_the_documented_slices_of_the_global_batch(make):
    sampler = make(3)
    for step in STEPS:
        whole = flatten(sampler.step_batches(step, GLOBAL, 1))
        accumulated = flatten(sampler.step_batches(step, 4, 2))
        assert accumulated == whole  # batch 4 x grad_accum 2 sees batch 8's examples, in order
        per_rank = {r: sampler.step_batches(step, 2, 2, rank=r, world_size=2) for r in (0, 1)}
        for k in range(2):
            for r in (0, 1):  # micro-batch k of rank r is block k * world_size + r of the global batch
                block = (k * 2 + r) * 2
                assert examples(per_rank[r][k]) == whole[block:block + 2]
        union = sorted(e for r in (0, 1) for e in flatten(per_rank[r]))
        assert union == sorted(whole)


def test_consecutive_steps_differ(make):
    sampler = make(0)
    for step in STEPS:
        assert flatten(sampler.step_batches(step, 2, 2, 0, 2)) != flatten(sampler.step_batches(step + 1, 2, 2, 0, 2))


def test_every_rank_gets_batch_size_examples_per_micro_batch(make):
    sampler = make(0)
    for rank in (0, 1):
        micro_batches = sampler.step_batches(2, 2, 2, rank, 2)
        assert len(micro_batches) == 2
        assert all(len(column) == 2 for batch in micro_batches for column in batch)


def test_cut_lays_out_micro_step_rank_row():
    global_batch = np.arange(12)  # grad_accum 2 x world 3 x batch 2
    assert [m.tolist() for m in cut(global_batch, 2, 2, rank=1, world_size=3)] == [[2, 3], [8, 9]]
    with pytest.raises(ValueError, match="cannot be cut"):
        cut(global_batch, 4, 2, rank=0, world_size=2)
    with pytest.raises(ValueError, match="rank 3"):
        cut(global_batch, 2, 2, rank=3, world_size=3)


def test_epoch_samplers_are_built_for_one_global_batch_and_refuse_too_little_data():
    with pytest.raises(ValueError, match="cannot be cut"):
        epoch_batches(0).step_batches(0, 4, 1)  # built for 8
    with pytest.raises(UserError, match="fewer than one global batch of 64"):
        EpochBatches([([1], [0], 0)] * 10, global_batch=64, seed=0)


def test_an_epoch_of_global_batches_shows_every_row_at_most_once():
    sampler = epoch_batches(1)
    assert sampler.steps_per_epoch == 5
    seen = [row for step in range(5) for row in flatten(sampler.step_batches(step, 2, 4))]
    assert len(seen) == len(set(seen)) == 40  # the rows are distinct: each drawn once in the epoch


def test_pad_collate_pads_the_named_columns_to_their_own_longest_row():
    ids, segments, labels = pad_collate([([5, 6, 7], [0], 1), ([8], [0, 1], 0)], padded=(0, 1))
    assert ids.tolist() == [[5, 6, 7], [8, PAD, PAD]] and segments.tolist() == [[0, PAD], [0, 1]]
    assert labels.tolist() == [1, 0] and ids.shape == (2, 3)


def test_in_order_shows_every_row_once_in_order():
    rows = [([i + 1] * lengths(i), [0] * lengths(i), i % 2) for i in range(23)]
    batches = in_order(rows, 10, classification_collate)
    assert [len(labels) for _, _, labels in batches] == [10, 10, 3]
    assert [e[0] for e in flatten(batches)] == [tuple(ids) for ids, _, _ in rows]


def test_the_shared_epoch_sampler_buckets_global_batches_by_length():
    rows = [([1] * lengths(i), [0] * lengths(i), 0) for i in range(400)]
    sampler = EpochSampler(rows, [len(ids) for ids, _, _ in rows], 10, seed=0, collate=classification_collate)
    padding = sum(int((sampler.step_batches(s, 10, 1)[0][0] == PAD).sum()) for s in range(40))
    unsorted = sum(int((classification_collate(rows[s:s + 10])[0] == PAD).sum()) for s in range(0, 400, 10))
    assert padding < unsorted / 3


def test_resample_gives_each_epoch_its_own_rows_in_the_same_batches():
    """resample(epoch): the same examples, read again each epoch (subword sampling); which examples
    form a batch does not change, only how they read."""
    rows = [([i + 1] * lengths(i), [0] * lengths(i), i % 2) for i in range(40)]
    reread = [[([i + 1 + 1000 * epoch] * lengths(i), [0] * lengths(i), i % 2) for i in range(40)] for epoch in range(3)]
    plain = EpochSampler(rows, [len(ids) for ids, _, _ in rows], 10, seed=0, collate=classification_collate)
    sampled = EpochSampler(rows, [len(ids) for ids, _, _ in rows], 10, seed=0, collate=classification_collate,
                           resample=reread.__getitem__)
    assert plain.steps_per_epoch == sampled.steps_per_epoch == 4
    for step in range(12):
        (ids, _, labels), = plain.step_batches(step, 10, 1)
        (resampled, _, same_labels), = sampled.step_batches(step, 10, 1)
        epoch = step // 4
        assert torch.equal(labels, same_labels)
        assert torch.equal(torch.where(ids == PAD, PAD, ids + 1000 * epoch), resampled)
