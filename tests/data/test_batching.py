import numpy as np

from lmlab.data.batching import bucketed_batches


def padded_tokens(lengths, batches):
    return sum(len(batch) * lengths[batch].max() for batch in batches)


def test_every_batch_is_full_and_no_example_repeats():
    lengths = np.random.default_rng(0).integers(1, 60, size=1003)
    batches = bucketed_batches(lengths, 32, seed=1, epoch=0, pool=5)
    assert len(batches) == 1003 // 32 and all(len(b) == 32 for b in batches)
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen) == 31 * 32


def test_pure_function_of_seed_and_epoch():
    lengths = np.arange(500) % 17
    first = bucketed_batches(lengths, 10, seed=3, epoch=2)
    again = bucketed_batches(lengths, 10, seed=3, epoch=2)
    other = bucketed_batches(lengths, 10, seed=3, epoch=3)
    assert all((a == b).all() for a, b in zip(first, again))
    assert any((a != b).any() for a, b in zip(first, other))


def test_bucketing_removes_most_of_the_padding():
    lengths = np.random.default_rng(0).integers(2, 60, size=3200)
    rng = np.random.default_rng(0)
    shuffled = np.split(rng.permutation(3200), 100)
    bucketed = bucketed_batches(lengths, 32, seed=0, epoch=0, pool=50)
    real = lengths.sum()
    assert padded_tokens(lengths, bucketed) < 1.2 * real < padded_tokens(lengths, shuffled)
